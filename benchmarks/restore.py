"""Restore benchmark (issue: State): records/s to restore a 1,000,000-entry changelog.

Fills ``<app>-totals-changelog`` (4 partitions) directly, then starts an aggregation app
on an empty state directory and reads the rate its restorer measured (first record read
to last record written to RocksDB, all four partitions together).

    python -m benchmarks.restore [--entries N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Iterator

from kstreamlite import KafkaStreams, State, StreamsBuilder, StreamsConfig, serdes

from .harness import broker, create_topics, fill

PARTITIONS = 4


def entries(n: int) -> Iterator[tuple[bytes, bytes]]:
    for i in range(n):
        yield f"key-{i}".encode(), serdes.LONG.serialize(i) or b""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    args = parser.parse_args()
    with broker() as bootstrap:
        app_id = f"restore-bench-{uuid.uuid4().hex[:6]}"
        source = f"{app_id}-input"
        changelog = f"{app_id}-totals-changelog"
        create_topics(bootstrap, PARTITIONS, source, changelog)
        filled = fill(bootstrap, changelog, entries(args.entries))
        builder = StreamsBuilder()
        builder.stream(source).group_by_key().count(materialized="totals")
        app = KafkaStreams(
            builder.build(),
            StreamsConfig(
                application_id=app_id,
                bootstrap_servers=bootstrap,
                state_dir=tempfile.mkdtemp(prefix="restore-bench-"),
                consumer_config={"session.timeout.ms": 6000},
            ),
        )
        started = time.perf_counter()
        app.start()
        if not app.wait_for_state(State.RUNNING, timeout=600_000):
            raise RuntimeError(f"not RUNNING: {app.state} {app.exception}")
        to_running = time.perf_counter() - started
        restorer = app._thread._restorer
        assert restorer is not None
        restored, rate = restorer.restored_total, restorer.last_rate
        sample = app.store("totals").get("key-123456")
        app.close()
        print(f"changelog entries written: {filled:,} on {PARTITIONS} partitions")
        print(f"restored: {restored:,} records at {rate:,.0f} records/s (target >= 200,000)")
        print(f"start to RUNNING, group join included: {to_running:.1f} s")
        print(f"spot check: totals['key-123456'] = {sample}")


if __name__ == "__main__":
    main()
