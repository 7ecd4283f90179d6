"""Stream-table join benchmark (issue: Joins): enrich orders with their customer's row.

500,000 JSON orders keyed by customer id on a 4-partition topic, joined with a
10,000-row customers table (keyed by customer id, 4 partitions, filled before the run)
and written to an output topic. Compared, in the same run, with a plain confluent-kafka
loop doing the same work: load the customers topic into a dict, then per order parse
JSON, look the customer up, build the joined dict, produce. A second kstreamlite variant
joins the same customers topic as a GlobalKTable.

    python -m benchmarks.joins [--records N] [--customers C] [--rounds R] [--no-global] [--cold]

records/s counts orders; every pipeline is timed on the orders alone, with its table
loaded before: the plain loop loads its dict first (time printed, not counted); the
GlobalKTable variant loads its table before the group join (start-up, outside the
harness's timed span); the KTable variant runs on an application id and state directory
that an earlier run of the same topology filled with the whole table while the orders
topic was still empty, so the table is local state when the orders come.

``--cold`` also runs the KTable variant with the table as an ordinary input, its records
older than every order, timed from its first record, table records included: each task
waits until its table partition has been fetched before it chooses (max_task_idle_ms, as
in KIP-695), so every order finds its customer. After every run the output topic is
counted, so a run that dropped records cannot pass for a fast one.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, TopicPartition

from kstreamlite import KafkaStreams, State, StreamsBuilder, StreamsConfig, Topology

from .harness import (
    TUNED_CONSUMER,
    Result,
    broker,
    create_topics,
    fill,
    print_medians,
    report,
    run_kstreamlite,
    run_plain_loop,
)

PARTITIONS = 4
COMMIT_MS = 5000
STORE = "customers"
START = 1_700_000_000_000  # customers at START + i; orders after the last customer
TIERS = ("bronze", "silver", "gold")


def customers(n: int) -> Iterator[tuple[bytes, bytes, int]]:
    rng = random.Random(5)
    for i in range(n):
        cid = f"cust-{i:05d}"
        row = {"customer_id": cid, "name": f"Customer {i}", "tier": rng.choice(TIERS)}
        yield cid.encode(), orjson.dumps(row), START + i


def orders(n: int, customer_count: int) -> Iterator[tuple[bytes, bytes, int]]:
    rng = random.Random(9)
    first = START + customer_count
    for i in range(n):
        cid = f"cust-{rng.randrange(customer_count):05d}"
        order = {"order_id": i, "customer_id": cid, "amount": round(rng.uniform(1, 500), 2)}
        yield cid.encode(), orjson.dumps(order), first + i


# The same joiner runs in every pipeline.
def enrich(order: dict[str, Any], customer: dict[str, Any]) -> dict[str, Any]:
    return {**order, "name": customer["name"], "tier": customer["tier"]}


def table_topology(source: str, table: str, sink: str) -> Topology:
    builder = StreamsBuilder()
    builder.stream(source).join(builder.table(table, materialized=STORE), enrich).to(sink)
    return builder.build()


def global_topology(source: str, table: str, sink: str) -> Topology:
    builder = StreamsBuilder()
    customers_table = builder.global_table(table)
    builder.stream(source).join(
        customers_table, enrich, key_selector=lambda key, order: order["customer_id"]
    ).to(sink)
    return builder.build()


def consume_topic(
    bootstrap: str, topic: str, expected: int, idle_s: float, on_message: Any = None
) -> tuple[int, float]:
    """Read every partition of ``topic`` from the start until ``expected`` records came
    (or none came for ``idle_s``); ``on_message(msg)`` per record. Returns (records, seconds
    from the first record to the last). End offsets are not trusted (BROKER-NOTES.md 2)."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "bench-reader", **TUNED_CONSUMER}
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    count = 0
    start = end = 0.0
    last_seen = time.monotonic()
    try:
        while count < expected and time.monotonic() - last_seen < idle_s:
            messages = consumer.consume(5000, 0.1)
            for msg in messages:
                error = msg.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        raise RuntimeError(f"reading {topic}: {error}")
                    continue
                if not start:
                    start = time.perf_counter()
                if on_message is not None:
                    on_message(msg)
                count += 1
            if messages:
                last_seen = time.monotonic()
        end = time.perf_counter()
    finally:
        consumer.close()
    return count, (end - start if start else 0.0)


def plain_join(bootstrap: str, table: str, rows: int, sink: str) -> tuple[Any, float]:
    """The plain loop's table: the whole topic in a dict (parsed rows by raw key); returns
    the work function and the seconds the load took."""
    loads, dumps = orjson.loads, orjson.dumps
    by_key: dict[bytes, dict[str, Any]] = {}

    def load(msg: Any) -> None:
        by_key[msg.key()] = loads(msg.value())

    loaded, seconds = consume_topic(bootstrap, table, rows, 10.0, load)
    if loaded != rows:
        raise RuntimeError(f"plain loop: loaded {loaded} of {rows} table rows")
    get = by_key.get

    def work(msg: Any, produce: Any) -> None:
        key = msg.key()
        customer = get(key)
        if customer is not None:
            produce(sink, dumps(enrich(loads(msg.value()), customer)), key)

    return work, seconds


def preload(bootstrap: str, source: str, table: str, sink: str, rows: int) -> dict[str, Any]:
    """Run the KTable topology once, while ``source`` is still empty, until its store holds
    every row; returns the application id and state directory to run it again with: the
    table is then local state, not input, when the orders are processed."""
    settings: dict[str, Any] = {
        "application_id": f"bench-{uuid.uuid4().hex[:6]}",
        "bootstrap_servers": bootstrap,
        "state_dir": tempfile.mkdtemp(prefix="ks-bench-"),
        "consumer_config": {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000},
    }
    app = KafkaStreams(table_topology(source, table, sink), StreamsConfig(**settings))
    app.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if app.state is State.ERROR:
                raise RuntimeError(f"preload failed: {app.exception!r}")
            if app.state is State.RUNNING and sum(1 for _ in app.store(STORE).all()) == rows:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"preload: the table did not reach {rows} rows")
    finally:
        app.close()
    return {key: settings[key] for key in ("application_id", "state_dir")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-global", action="store_true")
    parser.add_argument(
        "--cold", action="store_true", help="also run the KTable join with the table as input"
    )
    args = parser.parse_args()
    with broker() as bootstrap:
        tag = uuid.uuid4().hex[:6]
        source, table = f"orders-{tag}", f"customers-{tag}"
        create_topics(bootstrap, PARTITIONS, source, table)
        rows = fill(bootstrap, table, customers(args.customers))
        sinks = {
            (kind, r): f"orders-enriched-{kind}-{r}-{tag}"
            for kind in ("plain", "ktable", "global", "cold")
            for r in range(args.rounds)
        }
        create_topics(bootstrap, PARTITIONS, *sinks.values())
        # One preloaded application per round, while the orders topic is still empty.
        preloaded = [
            preload(bootstrap, source, table, sinks[("ktable", r)], rows)
            for r in range(args.rounds)
        ]
        total = fill(bootstrap, source, orders(args.records, args.customers))
        results: dict[str, list[Result]] = {}
        checks: list[str] = []

        def record(result: Result) -> None:
            results.setdefault(result.name, []).append(result)

        def joined(name: str, out: str) -> None:
            count, _ = consume_topic(bootstrap, out, total, 5.0)
            checks.append(f"{name}: {count:,} of {total:,} orders joined")

        config: dict[str, Any] = {"commit_interval_ms": COMMIT_MS}
        for r in range(args.rounds):
            out = sinks[("plain", r)]
            work, load_s = plain_join(bootstrap, table, rows, out)
            record(run_plain_loop(bootstrap, source, total, work))
            checks.append(f"round {r + 1} plain loop: table load {load_s:.2f} s (not timed)")
            joined(f"round {r + 1} plain loop", out)

            out = sinks[("ktable", r)]
            name = "kstreamlite (KTable join)"
            topo = table_topology(source, table, out)
            record(run_kstreamlite(bootstrap, topo, total, name, **config, **preloaded[r]))
            joined(f"round {r + 1} {name}", out)

            if not args.no_global:
                out = sinks[("global", r)]
                name = "kstreamlite (GlobalKTable join)"
                topo = global_topology(source, table, out)
                state_dir = tempfile.mkdtemp(prefix="ks-bench-")
                record(run_kstreamlite(bootstrap, topo, total, name, **config, state_dir=state_dir))
                joined(f"round {r + 1} {name}", out)

            if args.cold:
                out = sinks[("cold", r)]
                name = "kstreamlite (KTable join, cold)"
                cold = run_kstreamlite(
                    bootstrap,
                    table_topology(source, table, out),
                    total + rows,  # its tasks consume the table topic too
                    name,
                    **config,
                    state_dir=tempfile.mkdtemp(prefix="ks-bench-"),
                )
                cold.records = total  # orders/s, the table records' time included
                record(cold)
                joined(f"round {r + 1} {name}", out)

        flat = [r for rs in results.values() for r in rs]
        best = max(results["plain confluent-kafka loop"], key=lambda r: r.rate)
        print(
            f"stream-table join, {total:,} orders, {rows:,} customers, {PARTITIONS} partitions "
            "(records/s: orders per second)"
        )
        print(report(flat, best))
        print_medians(results, "")
        for line in checks:
            print(line)


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
