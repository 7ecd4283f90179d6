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
import os
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from kstreamlite import KafkaStreams, State, StreamsConfig
from kstreamlite.local import broker_or_local

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
    """Reads both output topics from the beginning (assign: no group join), keeping this
    run's records. Counts what it reads; never trusts end offsets (BROKER-NOTES.md 2)."""

    def __init__(self, bootstrap: str, topics: Topics, prefix: str, outcome: Outcome) -> None:
        self._prefix = prefix.encode()
        self._outcome = outcome
        self._by_topic = {topics.credits: outcome.credits, topics.debits: outcome.debits}
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"{APPLICATION_ID}-reader",
                "enable.auto.commit": False,
                "fetch.queue.backoff.ms": 10,
            }
        )
        metadata = self._consumer.list_topics(timeout=10).topics
        self._consumer.assign(
            [
                TopicPartition(topic, p, OFFSET_BEGINNING)
                for topic in self._by_topic
                for p in metadata[topic].partitions
            ]
        )

    def poll(self, timeout: float = 0.2) -> None:
        for msg in self._consumer.consume(5_000, timeout):
            error = msg.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    raise RuntimeError(f"reading the outputs: {error}")
                continue
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

    config = StreamsConfig(
        application_id=application_id,
        bootstrap_servers=bootstrap,
        commit_interval_ms=1_000,
        # A short session timeout keeps the group join near 3 s on Tansu (BROKER-NOTES.md 3).
        consumer_config={"session.timeout.ms": 6_000, "heartbeat.interval.ms": 1_000},
    )
    app = KafkaStreams(build_topology(**topics.as_kwargs(), on_unrouted=on_unrouted), config)
    reader = OutputReader(bootstrap, topics, prefix, outcome)
    total = len(data.transactions)
    started = time.monotonic()
    running_at: float | None = None
    try:
        app.start()
        deadline = started + timeout
        while outcome.handled < total:
            if app.state is State.ERROR:
                print(f"the application failed: {app.exception!r}", file=sys.stderr)
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
        closed = app.close(30_000)
    running_at = running_at or started
    _print_summary(
        data, outcome, topics, startup=running_at - started, processing=done - running_at
    )
    ok = _check(data, outcome)
    if not closed:
        print("the application did not close within 30 s", file=sys.stderr)
    return 0 if ok and closed else 1


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
    parser.add_argument(
        "--bootstrap",
        metavar="HOST:PORT",
        default=os.environ.get("KSTREAMLITE_BOOTSTRAP_SERVERS"),
        help="a Kafka broker to use (default: start a local one)",
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for the outputs (120)"
    )
    parser.add_argument("--describe", action="store_true", help="print the topology first")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
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
