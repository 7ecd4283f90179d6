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
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any

from kstreamlite import KafkaStreams
from kstreamlite.local import broker_or_local

from .._console import (
    CLOSE_TIMEOUT_MS,
    AlertPrinter,
    CtrlC,
    add_bootstrap_argument,
    add_duration_argument,
    app_failed,
    create_topics,
    log_warnings,
    open_reader,
    poll_json,
    streams_config,
    warn_if_not_closed,
)
from .app import DEFAULT_THRESHOLD, SINK, SOURCE, build_topology
from .generator import live, producer, send

APPLICATION_ID = "stock-alerts"
PARTITIONS = 3


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
    created = create_topics(bootstrap, [SOURCE, SINK], PARTITIONS)
    print(f"topics {SOURCE}, {SINK}: {len(created)} created")
    app = KafkaStreams(build_topology(threshold), streams_config(APPLICATION_ID, bootstrap))
    # On a broker of your own, start at the end: only this run's alerts are printed.
    reader = open_reader(bootstrap, f"{APPLICATION_ID}-printer", [SINK], from_beginning=fresh)
    generator = Generator(bootstrap, rate, seed)
    alerts = AlertPrinter(format_alert)
    status = 0
    print(
        f"watching {SOURCE} for moves of {threshold:.1%} or more within 60 s "
        f"({rate:g} updates/s, {duration:g} s; Ctrl-C stops)"
    )
    try:
        with CtrlC() as ctrl_c:
            app.start()
            generator.start()
            deadline = time.monotonic() + duration
            while time.monotonic() < deadline and not ctrl_c.pressed:
                if app_failed(app):
                    status = 1
                    break
                if generator.error is not None:
                    print(f"the generator failed: {generator.error!r}", file=sys.stderr)
                    status = 1
                    break
                for alert in poll_json(reader, SINK, max_messages=500):
                    alerts.show(alert)
        if ctrl_c.pressed:
            print("\ninterrupted")
    finally:
        generator.stop()
        closed = app.close(CLOSE_TIMEOUT_MS)
        reader.close()
    print(f"\n{generator.sent:,} updates sent, {alerts.count:,} alerts")
    if not warn_if_not_closed(closed):
        status = 1
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m examples.stock_alerts",
        description="Alerts on stock prices moving by the threshold or more within 60 s, "
        "on a local broker unless --bootstrap is given.",
    )
    add_duration_argument(parser, help="(20)")
    parser.add_argument(
        "--threshold", type=float, default=DEFAULT_THRESHOLD, metavar="X", help="(0.05: 5 %%)"
    )
    parser.add_argument("--rate", type=float, default=10.0, metavar="N", help="updates/s (10)")
    parser.add_argument("--seed", type=int, default=42, help="of the price generator (42)")
    add_bootstrap_argument(parser)
    args = parser.parse_args(argv)
    if not 0 < args.threshold < 1:
        parser.error("--threshold must be between 0 and 1")
    if args.rate <= 0 or args.duration <= 0:
        parser.error("--rate and --duration must be positive")
    log_warnings()
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
