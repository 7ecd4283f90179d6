"""Stateless pipeline benchmark (issue: Foundation): parse JSON -> filter -> map -> produce.

500,000 JSON records on a 4-partition topic of the local broker (or the broker in
KSTREAMLITE_BOOTSTRAP_SERVERS). Prints records/s for kstreamlite and for the plain
confluent-kafka loop doing the same work in the same run, and their ratio.

    python -m benchmarks.stateless [--records N] [--rounds R]
"""

from __future__ import annotations

import argparse
import random
import statistics
import uuid
from collections.abc import Iterator
from typing import Any

import orjson

from kstreamlite import StreamsBuilder, Topology

from .harness import broker, create_topics, fill, report, run_kstreamlite, run_plain_loop

PARTITIONS = 4


def generate(n: int) -> Iterator[tuple[bytes, bytes]]:
    rng = random.Random(42)
    for i in range(n):
        user = f"user-{rng.randrange(1000)}"
        value = {"id": i, "user": user, "amount": round(rng.uniform(0, 100), 2), "currency": "EUR"}
        yield user.encode(), orjson.dumps(value)


# The same three functions run in both pipelines.
def keep(key: Any, value: dict[str, Any]) -> bool:
    return value["amount"] >= 10.0


def to_cents(key: Any, value: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    return key, {"user": value["user"], "cents": int(value["amount"] * 100), "id": value["id"]}


def topology(source: str, sink: str) -> Topology:
    builder = StreamsBuilder()
    builder.stream(source).filter(keep).map(to_cents).to(sink)
    return builder.build()


def plain_work(sink: str) -> Any:
    loads, dumps = orjson.loads, orjson.dumps

    def work(msg: Any, produce: Any) -> None:
        raw_key = msg.key()
        key = None if raw_key is None else raw_key.decode()
        value = loads(msg.value())
        if keep(key, value):
            key, value = to_cents(key, value)
            produce(sink, dumps(value), key.encode())

    return work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    with broker() as bootstrap:
        tag = uuid.uuid4().hex[:6]
        source, sink_plain, sink_ks = (
            f"bench-in-{tag}",
            f"bench-out-plain-{tag}",
            f"bench-out-ks-{tag}",
        )
        create_topics(bootstrap, PARTITIONS, source, sink_plain, sink_ks)
        total = fill(bootstrap, source, generate(args.records))
        plain, ours = [], []
        for round_no in range(args.rounds):
            # Alternate who goes first: the broker's state (caches, memory) drifts over a run.
            runs = [
                lambda: plain.append(
                    run_plain_loop(bootstrap, source, total, plain_work(sink_plain))
                ),
                lambda: ours.append(run_kstreamlite(bootstrap, topology(source, sink_ks), total)),
            ]
            for run in runs if round_no % 2 == 0 else reversed(runs):
                run()
        best_plain = max(plain, key=lambda r: r.rate)
        print(
            f"stateless pipeline, {total:,} records, {PARTITIONS} partitions, {args.rounds} rounds"
        )
        print(report(plain + ours, best_plain))
        ratio = statistics.median(r.rate for r in ours) / statistics.median(r.rate for r in plain)
        best = max(r.rate for r in ours) / best_plain.rate
        print(f"median ratio kstreamlite / plain loop: {ratio:.2f} (target >= 0.85)")
        print(f"best kstreamlite round / best plain round: {best:.2f}")


if __name__ == "__main__":
    main()
