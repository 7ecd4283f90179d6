"""Exactly-once benchmark (issue: Exactly-once): what transactions cost.

The Foundation's stateless pipeline and the State issue's per-key aggregate, each run
at-least-once (its default 30 s commit interval, and at 100 ms) and exactly-once (its
default 100 ms commit interval: one transaction per commit), with the plain
confluent-kafka loop of the stateless benchmark as the same-run baseline.

    python -m benchmarks.exactly_once [--records N] [--rounds R]

Target: exactly-once at its default commit interval keeps >= 80 % of at-least-once.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import uuid
from typing import Any

from . import aggregate, stateless
from .harness import Result, broker, create_topics, fill, report, run_kstreamlite, run_plain_loop

PARTITIONS = 4
VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("at-least-once (30 s commits)", {"processing_guarantee": "at_least_once"}),
    (
        "at-least-once (100 ms commits)",
        {"processing_guarantee": "at_least_once", "commit_interval_ms": 100},
    ),
    ("exactly-once (100 ms commits)", {"processing_guarantee": "exactly_once_v2"}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--keys", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with broker() as bootstrap:
        tag = uuid.uuid4().hex[:6]
        plain_in, agg_in = f"eos-stateless-in-{tag}", f"eos-agg-in-{tag}"
        sink = f"eos-out-{tag}"
        create_topics(bootstrap, PARTITIONS, plain_in, agg_in, sink)
        total = fill(bootstrap, plain_in, stateless.generate(args.records))
        fill(bootstrap, agg_in, aggregate.generate(args.records, args.keys))
        results: dict[str, list[Result]] = {}

        def record(result: Result) -> None:
            results.setdefault(result.name, []).append(result)

        pipelines = {
            "stateless": lambda: stateless.topology(plain_in, sink),
            "aggregate": lambda: aggregate.topology(agg_in, sink, True),
        }
        for round_no in range(args.rounds):
            record(run_plain_loop(bootstrap, plain_in, total, stateless.plain_work(sink)))
            order = VARIANTS if round_no % 2 == 0 else list(reversed(VARIANTS))
            for pipeline, build in pipelines.items():
                for label, config in order:
                    name = f"{pipeline}, {label}"
                    result = run_kstreamlite(
                        bootstrap,
                        build(),
                        total,
                        name,
                        state_dir=tempfile.mkdtemp(prefix="ks-bench-"),
                        **config,
                    )
                    record(result)
        flat = [r for rs in results.values() for r in rs]
        plain = max(results["plain confluent-kafka loop"], key=lambda r: r.rate)
        print(
            f"exactly-once benchmark, {total:,} records, {PARTITIONS} partitions, "
            f"{args.rounds} rounds"
        )
        print(report(flat, plain))
        plain_median = statistics.median(r.rate for r in results["plain confluent-kafka loop"])
        for pipeline in pipelines:
            medians = {
                label: statistics.median(r.rate for r in results[f"{pipeline}, {label}"])
                for label, _ in VARIANTS
            }
            eos = medians[VARIANTS[2][0]]
            print(f"{pipeline}: median records/s and ratio to the plain loop")
            for label, rate in medians.items():
                print(f"  {label:34s} {rate:>10,.0f}  {rate / plain_median:.2f}x")
            print(
                f"  exactly-once / at-least-once (30 s): {eos / medians[VARIANTS[0][0]]:.2f} "
                f"(target >= 0.80); / at-least-once (100 ms): {eos / medians[VARIANTS[1][0]]:.2f}"
            )


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
