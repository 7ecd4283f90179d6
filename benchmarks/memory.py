"""Memory benchmark (issue: State): resident memory must stay flat as the key count grows.

Runs the aggregate pipeline (RocksDB, changelog, caching) over 1,000,000 records with
1,000, 100,000 and 1,000,000 distinct keys, each in a fresh process, and prints each
process's peak resident memory. State lives in RocksDB; the cache is bounded by
``cache_max_bytes``.

    python -m benchmarks.memory [--records N]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import uuid

from .aggregate import generate, topology
from .harness import broker, create_topics, fill, run_kstreamlite

KEY_COUNTS = (1_000, 100_000, 1_000_000)


def child(bootstrap: str, keys: int, records: int) -> None:
    tag = uuid.uuid4().hex[:6]
    source, sink = f"mem-in-{tag}", f"mem-out-{tag}"
    create_topics(bootstrap, 4, source, sink)
    total = fill(bootstrap, source, generate(records, keys))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = run_kstreamlite(
        bootstrap,
        topology(source, sink, True),
        total,
        state_dir=tempfile.mkdtemp(prefix="mem-bench-"),
        commit_interval_ms=5000,
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"{keys:>9,} keys: peak RSS {peak / 1024:6.0f} MiB (before the app: "
        f"{before / 1024:.0f} MiB), {result.rate:,.0f} records/s",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--child", nargs=2, metavar=("BOOTSTRAP", "KEYS"))
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.records)
        return
    with broker() as bootstrap:
        print(f"aggregate over {args.records:,} records, peak resident memory per process")
        for keys in KEY_COUNTS:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.memory",
                    "--records",
                    str(args.records),
                    "--child",
                    bootstrap,
                    str(keys),
                ],
                check=True,
            )


if __name__ == "__main__":
    main()
