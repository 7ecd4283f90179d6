"""``python -m examples.fraud``: live card-testing detection, printing alerts as they come.

Starts a local broker unless KSTREAMLITE_BOOTSTRAP_SERVERS (or ``--bootstrap``) names
one, creates the topics, then runs the generator (``--rate`` transactions per second, in
a thread) and the application together, printing each alert with a running count. After
``--duration`` seconds, or at Ctrl-C, it stops producing, waits a little for the alerts
still in flight, checks what it saw against the reference computed from what it
produced, and closes everything.

On a broker of your own the topics persist between runs, so each run's transaction ids
carry a run tag and only this run's alerts are counted.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from kstreamlite import KafkaStreams, State, StreamsConfig
from kstreamlite.local import broker_or_local

from .app import SINK, SOURCE, build_topology
from .generator import produce_paced, transactions
from .reference import expected_alerts

APPLICATION_ID = "fraud-example"
PARTITIONS = 4
DRAIN_SECONDS = 10.0


def create_topics(bootstrap: str, names: list[str], timeout: float = 30) -> list[str]:
    """Create whichever of ``names`` do not exist yet; return the names created."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = admin.list_topics(timeout=timeout).topics
    missing = [NewTopic(n, PARTITIONS, 1) for n in names if n not in existing]
    created = []
    for name, future in admin.create_topics(missing, operation_timeout=timeout).items():
        try:
            future.result(timeout=timeout)
            created.append(name)
        except KafkaException as exc:  # created meanwhile by someone else: fine
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    deadline = time.monotonic() + timeout
    while not all(n in admin.list_topics(timeout=timeout).topics for n in names):
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics {names} did not appear within {timeout:.0f} s")
        time.sleep(0.1)
    return created


class AlertReader:
    """Reads ``fraud-alerts`` from the beginning (assign: no group join), keeping this
    run's alerts. Counts what it reads; never trusts end offsets (BROKER-NOTES.md 2)."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        self._prefix = prefix
        self.alerts: list[dict[str, Any]] = []
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"{APPLICATION_ID}-reader",
                "enable.auto.commit": False,
                "fetch.queue.backoff.ms": 10,
            }
        )
        partitions = self._consumer.list_topics(SINK, timeout=10).topics[SINK].partitions
        self._consumer.assign([TopicPartition(SINK, p, OFFSET_BEGINNING) for p in partitions])

    def poll(self, timeout: float = 0.2) -> list[dict[str, Any]]:
        new = []
        for msg in self._consumer.consume(1_000, timeout):
            error = msg.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    raise RuntimeError(f"reading {SINK}: {error}")
                continue
            alert = orjson.loads(msg.value())
            if alert["large_transaction_id"].startswith(self._prefix):  # else an earlier run's
                new.append(alert)
        self.alerts.extend(new)
        return new

    def close(self) -> None:
        self._consumer.close()


def show(count: int, alert: dict[str, Any]) -> None:
    gap = alert["timestamp"] - _small_ts.get(alert["small_transaction_id"], alert["timestamp"])
    stamp = time.strftime("%H:%M:%S", time.gmtime(alert["timestamp"] / 1000))  # event time, UTC
    print(
        f"#{count:<4} {stamp} {alert['account_id']}: {alert['small_amount']:.2f} "
        f"({alert['small_transaction_id']}) then {alert['large_amount']:,.2f} "
        f"({alert['large_transaction_id']}) {gap / 1000:.1f} s later",
        flush=True,
    )


_small_ts: dict[str, int] = {}  # transaction id -> timestamp of the small ones, for show()


def show_new(reader: AlertReader) -> None:
    """Poll once; print each new alert with its number in this run."""
    new = reader.poll()
    for number, alert in enumerate(new, start=len(reader.alerts) - len(new) + 1):
        show(number, alert)


def run(
    bootstrap: str, *, duration: float, rate: float, accounts: int, seed: int, local: bool = False
) -> int:
    created = create_topics(bootstrap, [SOURCE, SINK])
    print(f"topics: {len(created)} created, {2 - len(created)} already there")
    # A fresh local broker holds nothing from earlier runs; a broker of your own may.
    prefix = f"tx-{uuid.uuid4().hex[:6]}-" if len(created) < 2 else "tx-"
    # Event time starts now and runs at the generator's own pace (100 ms apart on average),
    # whatever --rate is: the 60 s window is event time, not wall-clock time.
    rows = transactions(
        accounts=accounts,
        seed=seed,
        start_ms=int(time.time() * 1000),
        transaction_id_prefix=prefix,
    )
    sent: list[dict[str, Any]] = []

    def remember_small() -> Iterator[dict[str, Any]]:
        for tx in rows:
            if tx["amount"] < 0.10:
                _small_ts[tx["transaction_id"]] = tx["timestamp"]
            yield tx

    config = StreamsConfig(
        application_id=APPLICATION_ID,
        bootstrap_servers=bootstrap,
        commit_interval_ms=1_000,
        # A short session timeout keeps the group join near 3 s on Tansu (BROKER-NOTES.md 3).
        consumer_config={"session.timeout.ms": 6_000, "heartbeat.interval.ms": 1_000},
    )
    app = KafkaStreams(build_topology(), config)
    reader = AlertReader(bootstrap, prefix)
    stop = threading.Event()
    feeder = threading.Thread(
        target=produce_paced,
        args=(bootstrap, SOURCE, remember_small(), rate, stop, sent),
        name="generator",
        daemon=True,
    )
    interrupted = False
    try:
        app.start()
        feeder.start()
        print(f"producing {rate:,.0f} transactions/s for {duration:.0f} s (Ctrl-C stops)")
        deadline = time.monotonic() + duration
        try:
            while time.monotonic() < deadline:
                if app.state is State.ERROR:
                    print(f"the application failed: {app.exception!r}", file=sys.stderr)
                    return 1
                show_new(reader)
        except KeyboardInterrupt:
            interrupted = True
            print("\ninterrupted")
        stop.set()
        feeder.join()
        expected = expected_alerts(list(sent))
        # The last transactions are still on their way through the app: wait for their
        # alerts (not after Ctrl-C, and never longer than DRAIN_SECONDS).
        drain_until = time.monotonic() + (0 if interrupted else DRAIN_SECONDS)
        while len(reader.alerts) < len(expected) and time.monotonic() < drain_until:
            show_new(reader)
    finally:
        stop.set()
        reader.close()
        closed = app.close(30_000)
    print(f"\n{len(sent):,} transactions, {len(reader.alerts)} fraud alerts")
    ok = interrupted or _check(reader.alerts, expected)
    if not closed:
        print("the application did not close within 30 s", file=sys.stderr)
        return 1
    return 0 if ok else 1


def _check(got: list[dict[str, Any]], expected: list[dict[str, Any]]) -> bool:
    def key(a: dict[str, Any]) -> str:
        return str(a["large_transaction_id"])

    if sorted(got, key=key) == sorted(expected, key=key):
        print("check against the reference computed from what was produced: identical")
        return True
    print(
        f"check against the reference: FAILED; expected {len(expected)} alerts, got {len(got)}",
        file=sys.stderr,
    )
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m examples.fraud",
        description="Card-testing fraud detection on live generated traffic, on a local "
        "broker unless KSTREAMLITE_BOOTSTRAP_SERVERS or --bootstrap names one.",
    )
    parser.add_argument("--duration", type=float, default=20.0, metavar="S", help="20 s")
    parser.add_argument("--rate", type=float, default=500.0, metavar="N", help="tx/s (500)")
    parser.add_argument("--accounts", type=int, default=2_000, metavar="N", help="2,000")
    parser.add_argument("--seed", type=int, default=42, help="of the generator (42)")
    parser.add_argument(
        "--bootstrap",
        metavar="HOST:PORT",
        default=os.environ.get("KSTREAMLITE_BOOTSTRAP_SERVERS"),
        help="a Kafka broker to use (default: start a local one)",
    )
    parser.add_argument("--describe", action="store_true", help="print the topology first")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.rate <= 0:
        parser.error("--duration and --rate must be positive")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.describe:
        print(build_topology().describe())
    with broker_or_local(args.bootstrap) as bootstrap:
        return run(
            bootstrap,
            duration=args.duration,
            rate=args.rate,
            accounts=args.accounts,
            seed=args.seed,
            local=not args.bootstrap,
        )


if __name__ == "__main__":
    sys.exit(main())
