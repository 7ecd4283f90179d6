"""``python -m examples.stock_alerts``: live price updates in, alerts printed as they come.

Starts a local broker unless KSTREAMLITE_BOOTSTRAP_SERVERS (or ``--bootstrap``) names one,
creates the two topics, then runs three things together: a generator thread producing
about ``--rate`` updates a second (event time following the wall clock), the topology in
a KafkaStreams instance, and a reader printing each alert with a running count. After
``--duration`` seconds, or on Ctrl-C, it stops the generator, closes the application and
the reader, and stops the broker it started.

On a broker of your own the topics persist between runs: the reader then starts at the
end of ``stock-alerts``, so only this run's alerts are printed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

from kstreamlite import KafkaStreams, State, StreamsConfig
from kstreamlite.local import broker_or_local

from .app import DEFAULT_THRESHOLD, SINK, SOURCE, build_topology
from .generator import live, producer, send

APPLICATION_ID = "stock-alerts"
PARTITIONS = 3


def create_topics(bootstrap: str, names: tuple[str, ...] = (SOURCE, SINK)) -> list[str]:
    """Create whichever of the topics do not exist yet (idempotent); return those created."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    missing = [n for n in names if n not in admin.list_topics(timeout=10).topics]
    created = []
    if missing:
        futures = admin.create_topics([NewTopic(n, PARTITIONS, 1) for n in missing])
        for name, future in futures.items():
            try:
                future.result(timeout=30)
                created.append(name)
            except KafkaException as exc:  # created meanwhile by someone else: fine
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
    deadline = time.monotonic() + 30
    while not all(n in admin.list_topics(timeout=10).topics for n in names):
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics {names} did not appear within 30 s")
        time.sleep(0.1)
    return created


class Generator(threading.Thread):
    """Produces live updates until stopped; counts what it sent."""

    def __init__(self, bootstrap: str, rate: float, seed: int) -> None:
        super().__init__(name="stock-prices-generator", daemon=True)
        self._producer = producer(bootstrap)
        self._rate = rate
        self._seed = seed
        self._stopping = threading.Event()
        self.sent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for update in live(self._rate, seed=self._seed):
                if self._stopping.is_set():
                    break
                send(self._producer, SOURCE, update)
                self._producer.poll(0)
                self.sent += 1
        except BaseException as exc:  # reported by the main thread
            self.error = exc
        finally:
            self._producer.flush(10)

    def stop(self) -> None:
        self._stopping.set()
        self.join(15)


def format_alert(count: int, alert: dict[str, Any]) -> str:
    when = datetime.fromtimestamp(alert["timestamp"] / 1000, UTC).strftime("%H:%M:%S.%f")[:-3]
    arrow = "▲" if alert["direction"] == "up" else "▼"
    return (
        f"[{count:>5}] {when} {alert['symbol']:<8} {arrow} {alert['direction']:<4} "
        f"{alert['change_pct']:>+7.2f} %  {alert['from_price']:>9.2f} -> {alert['to_price']:>9.2f}"
    )


def run(
    bootstrap: str, *, duration: float, threshold: float, rate: float, seed: int, fresh: bool
) -> int:
    created = create_topics(bootstrap)
    print(f"topics {SOURCE}, {SINK}: {len(created)} created")
    config = StreamsConfig(
        application_id=APPLICATION_ID,
        bootstrap_servers=bootstrap,
        commit_interval_ms=1_000,
        # A short session timeout keeps the group join near 3 s on Tansu (BROKER-NOTES.md 3).
        consumer_config={"session.timeout.ms": 6_000, "heartbeat.interval.ms": 1_000},
    )
    app = KafkaStreams(build_topology(threshold), config)
    reader = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"{APPLICATION_ID}-printer",
            "enable.auto.commit": False,
            "fetch.queue.backoff.ms": 10,
        }
    )
    partitions = reader.list_topics(SINK, timeout=10).topics[SINK].partitions
    start = OFFSET_BEGINNING if fresh else OFFSET_END
    reader.assign([TopicPartition(SINK, p, start) for p in partitions])
    generator = Generator(bootstrap, rate, seed)
    alerts = 0
    status = 0
    print(
        f"watching {SOURCE} for moves of {threshold:.1%} or more within 60 s "
        f"({rate:g} updates/s, {duration:g} s; Ctrl-C stops)"
    )
    try:
        app.start()
        generator.start()
        deadline = time.monotonic() + duration
        while time.monotonic() < deadline:
            if app.state is State.ERROR:
                print(f"the application failed: {app.exception!r}", file=sys.stderr)
                status = 1
                break
            if generator.error is not None:
                print(f"the generator failed: {generator.error!r}", file=sys.stderr)
                status = 1
                break
            for msg in reader.consume(500, 0.2):
                error = msg.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        raise RuntimeError(f"reading {SINK}: {error}")
                    continue
                alerts += 1
                print(format_alert(alerts, orjson.loads(msg.value())), flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted")
    finally:
        generator.stop()
        closed = app.close(30_000)
        reader.close()
    print(f"\n{generator.sent:,} updates sent, {alerts:,} alerts")
    if not closed:
        print("the application did not close within 30 s", file=sys.stderr)
        status = 1
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m examples.stock_alerts",
        description="Alerts on stock prices moving by the threshold or more within 60 s, "
        "on a local broker unless --bootstrap is given.",
    )
    parser.add_argument("--duration", type=float, default=20.0, metavar="S", help="(20)")
    parser.add_argument(
        "--threshold", type=float, default=DEFAULT_THRESHOLD, metavar="X", help="(0.05: 5 %%)"
    )
    parser.add_argument("--rate", type=float, default=10.0, metavar="N", help="updates/s (10)")
    parser.add_argument("--seed", type=int, default=42, help="of the price generator (42)")
    parser.add_argument(
        "--bootstrap",
        metavar="HOST:PORT",
        default=os.environ.get("KSTREAMLITE_BOOTSTRAP_SERVERS"),
        help="a Kafka broker to use (default: start a local one)",
    )
    args = parser.parse_args(argv)
    if not 0 < args.threshold < 1:
        parser.error("--threshold must be between 0 and 1")
    if args.rate <= 0 or args.duration <= 0:
        parser.error("--rate and --duration must be positive")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with broker_or_local(args.bootstrap) as bootstrap:
        return run(
            bootstrap,
            duration=args.duration,
            threshold=args.threshold,
            rate=args.rate,
            seed=args.seed,
            fresh=not args.bootstrap,
        )


if __name__ == "__main__":
    sys.exit(main())
