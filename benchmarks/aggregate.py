"""Per-key aggregate benchmark (issue: State): running sum and count per key.

500,000 JSON records over 1,000 keys on a 4-partition topic; kstreamlite with RocksDB,
changelog and caching on (and once with caching off), the same pipeline in Quix Streams,
and the Foundation benchmark's plain confluent-kafka loop, all in the same run.

    python -m benchmarks.aggregate [--records N] [--keys K] [--rounds R]

kstreamlite's caching emits one update per key per commit, as Kafka Streams does; Quix
Streams and the caching-off variant emit one update per record. Commit interval: 5 s
for all (Quix Streams' default).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import orjson

from kstreamlite import Materialized, StreamsBuilder, Topology

from .harness import (
    Result,
    broker,
    create_topics,
    fill,
    print_medians,
    report,
    run_kstreamlite,
    run_plain_loop,
    run_quix,
)

PARTITIONS = 4
COMMIT_MS = 5000


def generate(n: int, keys: int) -> Iterator[tuple[bytes, bytes]]:
    rng = random.Random(7)
    for i in range(n):
        key = f"key-{rng.randrange(keys)}"
        yield key.encode(), orjson.dumps({"id": i, "amount": round(rng.uniform(0, 100), 2)})


def add(key: Any, value: dict[str, Any], agg: dict[str, Any]) -> dict[str, Any]:
    return {"sum": agg["sum"] + value["amount"], "count": agg["count"] + 1}


def initial() -> dict[str, Any]:
    return {"sum": 0.0, "count": 0}


def topology(source: str, sink: str, caching: bool) -> Topology:
    builder = StreamsBuilder()
    (
        builder.stream(source)
        .group_by_key()
        .aggregate(initial, add, materialized=Materialized(name="totals", caching=caching))
        .to_stream()
        .to(sink)
    )
    return builder.build()


def plain_work(sink: str) -> Any:
    """The Foundation benchmark's loop on this data: parse, filter, map, produce."""
    loads, dumps = orjson.loads, orjson.dumps

    def work(msg: Any, produce: Any) -> None:
        value = loads(msg.value())
        if value["amount"] >= 10.0:
            produce(
                sink, dumps({"id": value["id"], "cents": int(value["amount"] * 100)}), msg.key()
            )

    return work


def plain_dict_aggregate(sink: str) -> Any:
    """A hand-written aggregate in a Python dict (no state store, nothing survives a crash)."""
    loads, dumps = orjson.loads, orjson.dumps
    totals: dict[bytes, dict[str, Any]] = {}

    def work(msg: Any, produce: Any) -> None:
        key = msg.key()
        agg = add(key, loads(msg.value()), totals.get(key) or initial())
        totals[key] = agg
        produce(sink, dumps(agg), key)

    return work


QUIX = "Quix Streams (apply, stateful)"


def quix_pipeline(source: str, sink: str) -> Any:
    def build(app: Any) -> None:
        sdf = app.dataframe(app.topic(source, value_deserializer="json"))

        def aggregate(value: dict[str, Any], state: Any) -> dict[str, Any]:
            agg = add(None, value, state.get("agg", None) or initial())
            state.set("agg", agg)
            return agg

        sdf = sdf.apply(aggregate, stateful=True)
        sdf.to_topic(app.topic(sink, value_serializer="json"))

    return build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--keys", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-quix", action="store_true")
    args = parser.parse_args()
    with broker() as bootstrap:
        tag = uuid.uuid4().hex[:6]
        source = f"agg-in-{tag}"
        sinks = {name: f"agg-out-{name}-{tag}" for name in ("plain", "ks", "ksnc", "quix")}
        create_topics(bootstrap, PARTITIONS, source, *sinks.values())
        total = fill(bootstrap, source, generate(args.records, args.keys))
        results: dict[str, list[Result]] = {}

        def record(result: Result) -> None:
            results.setdefault(result.name, []).append(result)

        for _ in range(args.rounds):
            record(run_plain_loop(bootstrap, source, total, plain_work(sinks["plain"])))
            dict_loop = run_plain_loop(
                bootstrap, source, total, plain_dict_aggregate(sinks["plain"])
            )
            dict_loop.name = "plain loop, dict aggregate"
            record(dict_loop)
            record(
                run_kstreamlite(
                    bootstrap,
                    topology(source, sinks["ks"], True),
                    total,
                    "kstreamlite (caching)",
                    commit_interval_ms=COMMIT_MS,
                    state_dir=tempfile.mkdtemp(prefix="ks-bench-"),
                )
            )
            record(
                run_kstreamlite(
                    bootstrap,
                    topology(source, sinks["ksnc"], False),
                    total,
                    "kstreamlite (no caching)",
                    commit_interval_ms=COMMIT_MS,
                    state_dir=tempfile.mkdtemp(prefix="ks-bench-"),
                )
            )
            if not args.no_quix:
                record(
                    run_quix(
                        bootstrap, total, QUIX, quix_pipeline(source, sinks["quix"]), COMMIT_MS
                    )
                )
        flat = [r for rs in results.values() for r in rs]
        plain = max(results["plain confluent-kafka loop"], key=lambda r: r.rate)
        print(f"aggregate pipeline, {total:,} records, {args.keys:,} keys, {PARTITIONS} partitions")
        print(report(flat, plain))
        print_medians(results, QUIX)


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
