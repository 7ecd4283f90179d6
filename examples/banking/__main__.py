"""``python -m examples.banking``: the banking walkthrough end to end, with a summary.

Starts a local broker unless ``--bootstrap`` (or KSTREAMLITE_BOOTSTRAP_SERVERS) names one,
creates the topics, produces generated customers, accounts and transactions, runs the
topology until every transaction has been routed (counted on the output topics, plus the
ones reported as unroutable), checks the outputs against the reference computed from the
generated data, prints a summary and closes everything.

On a broker of your own the topics persist between runs, so each run's transaction ids
carry a run tag and only this run's records are counted.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

from kstreamlite import KafkaStreams, State
from kstreamlite.local import broker_or_local

from .._console import (
    CLOSE_TIMEOUT_MS,
    add_bootstrap_argument,
    app_failed,
    log_warnings,
    open_reader,
    poll_records,
    streams_config,
    warn_if_not_closed,
)
from .generator import BankData, generate, produce_reference_data, produce_transactions
from .reference import expected_outputs
from .topics import Topics, create_topics
from .topology import build_topology

APPLICATION_ID = "banking-example"


@dataclass
class Outcome:
    """What one run saw: records per output (by transaction id) and unrouted reasons."""

    credits: dict[str, Any] = field(default_factory=dict)
    debits: dict[str, Any] = field(default_factory=dict)
    unrouted: dict[str, str] = field(default_factory=dict)
    duplicates: int = 0

    @property
    def handled(self) -> int:
        return len(self.credits) + len(self.debits) + len(self.unrouted)


class OutputReader:
    """Reads both output topics from the beginning, keeping this run's records (by the run
    tag of their keys: an earlier run's are there on a broker of your own)."""

    def __init__(self, bootstrap: str, topics: Topics, prefix: str, outcome: Outcome) -> None:
        self._prefix = prefix.encode()
        self._outcome = outcome
        self._by_topic = {topics.credits: outcome.credits, topics.debits: outcome.debits}
        self._consumer = open_reader(bootstrap, f"{APPLICATION_ID}-reader", self._by_topic)

    def poll(self, timeout: float = 0.2) -> None:
        for msg in poll_records(self._consumer, "the outputs", max_messages=5_000, timeout=timeout):
            key = msg.key()
            if key is None or not key.startswith(self._prefix):
                continue  # an earlier run's record
            records = self._by_topic[msg.topic()]
            tx_id = key.decode()
            if tx_id in records:
                self._outcome.duplicates += 1
            records[tx_id] = orjson.loads(msg.value())

    def close(self) -> None:
        self._consumer.close()


def run(
    bootstrap: str,
    data: BankData,
    *,
    prefix: str,
    topics: Topics | None = None,
    timeout: float = 120.0,
    application_id: str = APPLICATION_ID,
) -> int:
    topics = topics or Topics()
    created = create_topics(bootstrap, topics)
    existing = len(topics.new_topics()) - len(created)
    print(f"topics: {len(created)} created, {existing} already there")

    began = time.monotonic()
    sent = produce_reference_data(bootstrap, data, topics)
    sent += produce_transactions(bootstrap, data, topics)
    produced = time.monotonic() - began
    print(
        f"produced {len(data.customers):,} customers, {len(data.accounts):,} accounts, "
        f"{len(data.transactions):,} transactions ({sent:,} records in {produced:.1f} s)"
    )

    outcome = Outcome()

    def on_unrouted(reason: str, key: Any, value: Any) -> None:  # on the stream thread
        if isinstance(key, str) and key.startswith(prefix):
            outcome.unrouted[key] = reason

    config = streams_config(application_id, bootstrap)
    app = KafkaStreams(build_topology(**topics.as_kwargs(), on_unrouted=on_unrouted), config)
    reader = OutputReader(bootstrap, topics, prefix, outcome)
    total = len(data.transactions)
    started = time.monotonic()
    running_at: float | None = None
    try:
        app.start()
        deadline = started + timeout
        while outcome.handled < total:
            if app_failed(app):
                return 1
            if running_at is None and app.state is State.RUNNING:
                running_at = time.monotonic()
            if time.monotonic() > deadline:
                print(
                    f"timed out after {timeout:.0f} s: {outcome.handled:,} of {total:,} "
                    "transactions routed",
                    file=sys.stderr,
                )
                return 1
            reader.poll()
        done = time.monotonic()
    finally:
        reader.close()
        closed = app.close(CLOSE_TIMEOUT_MS)
    running_at = running_at or started
    _print_summary(
        data, outcome, topics, startup=running_at - started, processing=done - running_at
    )
    ok = _check(data, outcome)
    if not warn_if_not_closed(closed):
        return 1
    return 0 if ok else 1


def _print_summary(
    data: BankData, outcome: Outcome, topics: Topics, *, startup: float, processing: float
) -> None:
    total = len(data.transactions)
    reasons = Counter(outcome.unrouted.values())
    print()
    print(f"all {total:,} transactions routed:")
    width = max(len(topics.credits), len(topics.debits), len("neither (reported)"))
    print(f"  {topics.credits:<{width}}  {len(outcome.credits):>8,}")
    print(f"  {topics.debits:<{width}}  {len(outcome.debits):>8,}")
    print(f"  {'neither (reported)':<{width}}  {len(outcome.unrouted):>8,}   {dict(reasons)}")
    rate = total / processing if processing > 0 else float("inf")
    print(
        f"startup (global tables + group join) {startup:.1f} s, then {total:,} transactions "
        f"in {processing:.1f} s: {rate:,.0f} records/s"
    )
    samples = [*list(outcome.credits.items())[:2], *list(outcome.debits.items())[:2]]
    if not samples:
        return
    print("\nsample enriched records:")
    for tx_id, tx in sorted(samples):
        account, customer = tx["account"], tx["customer"]
        print(
            f"  {tx_id} {tx['type']:<6} {tx['amount']:>9.2f} {account['currency']} "
            f"on {account['account_id']} ({account['kind']}) of {customer['name']} "
            f"({customer['customer_id']}, {customer['segment']})"
        )
    tx_id, tx = min(samples)
    print(f"\n{tx_id} as written:\n{orjson.dumps(tx, option=orjson.OPT_INDENT_2).decode()}")


def _check(data: BankData, outcome: Outcome) -> bool:
    expected = expected_outputs(data)
    problems = []
    for name, got, want in (
        ("credits", outcome.credits, expected.credits),
        ("debits", outcome.debits, expected.debits),
        ("unrouted", outcome.unrouted, expected.unrouted),
    ):
        if got != want:
            wrong = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
            problems.append(f"{name}: {len(wrong)} differ, e.g. {wrong[:3]}")
    if outcome.duplicates:
        problems.append(f"{outcome.duplicates} records were written twice")
    if problems:
        print("\ncheck against the reference: FAILED; " + "; ".join(problems), file=sys.stderr)
        return False
    print("\ncheck against the reference computed from the generated data: identical")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m examples.banking",
        description="Bank transactions enriched from two GlobalKTables and split into "
        "credits and debits, on a local broker unless --bootstrap is given.",
    )
    parser.add_argument("--transactions", type=int, default=50_000, metavar="N", help="50,000")
    parser.add_argument("--accounts", type=int, default=2_500, metavar="N", help="2,500")
    parser.add_argument("--customers", type=int, default=1_000, metavar="N", help="1,000")
    parser.add_argument("--seed", type=int, default=42, help="of the data generator (42)")
    add_bootstrap_argument(parser)
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for the outputs (120)"
    )
    parser.add_argument("--describe", action="store_true", help="print the topology first")
    args = parser.parse_args(argv)
    log_warnings()
    # A quiet example: the reported transactions are counted in the summary instead.
    logging.getLogger("examples.banking").setLevel(logging.ERROR)

    if args.describe:
        print(build_topology().describe())
    # A fresh local broker holds nothing from earlier runs; a broker of your own may.
    prefix = f"tx-{uuid.uuid4().hex[:6]}-" if args.bootstrap else "tx-"
    data = generate(
        args.customers,
        args.accounts,
        args.transactions,
        seed=args.seed,
        transaction_id_prefix=prefix,
    )
    with broker_or_local(args.bootstrap) as bootstrap:
        return run(bootstrap, data, prefix=prefix, timeout=args.timeout)


if __name__ == "__main__":
    sys.exit(main())
