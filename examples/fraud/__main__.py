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
import sys
import threading
import time
import uuid
from collections.abc import Iterator
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
from .app import SINK, SOURCE, build_topology
from .generator import produce_paced, transactions
from .reference import expected_alerts

APPLICATION_ID = "fraud-example"
PARTITIONS = 4
DRAIN_SECONDS = 10.0


class AlertReader:
    """Reads ``fraud-alerts`` from the beginning, keeping this run's alerts (by the run
    tag of their transaction ids: an earlier run's are there on a broker of your own)."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        self._prefix = prefix
        self.alerts: list[dict[str, Any]] = []
        self._consumer = open_reader(bootstrap, f"{APPLICATION_ID}-reader", [SINK])

    def poll(self, timeout: float = 0.2) -> list[dict[str, Any]]:
        new = [
            alert
            for alert in poll_json(self._consumer, SINK, max_messages=1_000, timeout=timeout)
            if alert["large_transaction_id"].startswith(self._prefix)
        ]
        self.alerts.extend(new)
        return new

    def close(self) -> None:
        self._consumer.close()


def format_alert(count: int, alert: dict[str, Any]) -> str:
    gap = alert["timestamp"] - _small_ts.get(alert["small_transaction_id"], alert["timestamp"])
    stamp = time.strftime("%H:%M:%S", time.gmtime(alert["timestamp"] / 1000))  # event time, UTC
    return (
        f"#{count:<4} {stamp} {alert['account_id']}: {alert['small_amount']:.2f} "
        f"({alert['small_transaction_id']}) then {alert['large_amount']:,.2f} "
        f"({alert['large_transaction_id']}) {gap / 1000:.1f} s later"
    )


_small_ts: dict[str, int] = {}  # transaction id -> timestamp of the small ones, for format_alert()


def show_new(reader: AlertReader, printer: AlertPrinter) -> None:
    """Poll once; print each new alert with its number in this run."""
    for alert in reader.poll():
        printer.show(alert)


def run(bootstrap: str, *, duration: float, rate: float, accounts: int, seed: int) -> int:
    created = create_topics(bootstrap, [SOURCE, SINK], PARTITIONS)
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

    app = KafkaStreams(build_topology(), streams_config(APPLICATION_ID, bootstrap))
    reader = AlertReader(bootstrap, prefix)
    printer = AlertPrinter(format_alert)
    stop = threading.Event()
    feeder = threading.Thread(
        target=produce_paced,
        args=(bootstrap, SOURCE, remember_small(), rate, stop, sent),
        name="generator",
        daemon=True,
    )
    try:
        app.start()
        feeder.start()
        print(f"producing {rate:,.0f} transactions/s for {duration:.0f} s (Ctrl-C stops)")
        deadline = time.monotonic() + duration
        with CtrlC() as ctrl_c:
            while time.monotonic() < deadline and not ctrl_c.pressed:
                if app_failed(app):
                    return 1
                show_new(reader, printer)
        interrupted = ctrl_c.pressed
        if interrupted:
            print("\ninterrupted")
        stop.set()
        feeder.join()
        expected = expected_alerts(list(sent))
        # The last transactions are still on their way through the app: wait for their
        # alerts (not after Ctrl-C, and never longer than DRAIN_SECONDS).
        drain_until = time.monotonic() + (0 if interrupted else DRAIN_SECONDS)
        while len(reader.alerts) < len(expected) and time.monotonic() < drain_until:
            show_new(reader, printer)
    finally:
        stop.set()
        reader.close()
        closed = app.close(CLOSE_TIMEOUT_MS)
    print(f"\n{len(sent):,} transactions, {len(reader.alerts)} fraud alerts")
    ok = interrupted or _check(reader.alerts, expected)
    if not warn_if_not_closed(closed):
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
    add_duration_argument(parser, help="20 s")
    parser.add_argument("--rate", type=float, default=500.0, metavar="N", help="tx/s (500)")
    parser.add_argument("--accounts", type=int, default=2_000, metavar="N", help="2,000")
    parser.add_argument("--seed", type=int, default=42, help="of the generator (42)")
    add_bootstrap_argument(parser)
    parser.add_argument("--describe", action="store_true", help="print the topology first")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.rate <= 0:
        parser.error("--duration and --rate must be positive")
    log_warnings()
    if args.describe:
        print(build_topology().describe())
    with broker_or_local(args.bootstrap) as bootstrap:
        return run(
            bootstrap,
            duration=args.duration,
            rate=args.rate,
            accounts=args.accounts,
            seed=args.seed,
        )


if __name__ == "__main__":
    sys.exit(main())
