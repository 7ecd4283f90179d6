"""Streaming SQL benchmark (issue 9): the temperature pipeline written in SQL against the
same pipeline written with the Python DSL, same input, same run, same broker.

Input: ``benchmarks.windows.generate`` (JSON readings ``{"sensor", "ts", "temp"}`` keyed by
sensor, 4 partitions). Pipeline: event time from ``ts``, a tumbling 1-minute mean per
sensor with 5 s grace, final results only, an alert ``{"sensor", "window_start",
"window_end", "average", "count"}`` for every window whose mean is above 40 (the rule of
examples/temperature/app.py on this data). Both run with RocksDB and changelogs; each
round runs both, alternating which goes first. The plain confluent-kafka loop of the
other benchmarks is the yardstick.

    python -m benchmarks.sql_temperature [--records N] [--sensors S] [--rounds R]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import uuid
from typing import Any

from kstreamlite import StreamsBuilder, Topology, Windowed
from kstreamlite.sql import to_topology
from kstreamlite.windows import Suppressed, TimeWindows

from .harness import Result, broker, create_topics, fill, report, run_kstreamlite, run_plain_loop
from .windows import COMMIT_MS, GRACE_MS, PARTITIONS, WINDOW_MS, generate, plain_work

SQL = """
CREATE STREAM readings (sensor VARCHAR KEY, ts BIGINT, temp DOUBLE)
    WITH (KAFKA_TOPIC = '{source}', VALUE_FORMAT = 'JSON', TIMESTAMP = 'ts');

CREATE TABLE alerts WITH (KAFKA_TOPIC = '{sink}') AS
    SELECT sensor,
           WINDOWSTART AS window_start,
           WINDOWEND AS window_end,
           ROUND(AVG(temp), 2) AS average,
           COUNT(*) AS count
    FROM readings
    WINDOW TUMBLING (SIZE {window} MILLISECONDS, GRACE PERIOD {grace} MILLISECONDS)
    GROUP BY sensor
    HAVING AVG(temp) > 40.0
    EMIT FINAL;
"""


def sql_topology(source: str, sink: str) -> Topology:
    return to_topology(SQL.format(source=source, sink=sink, window=WINDOW_MS, grace=GRACE_MS))


def _event_time(key: Any, value: dict[str, Any], record_ts: int) -> int:
    return int(value["ts"])


def _no_readings() -> dict[str, Any]:
    return {"sum": 0.0, "count": 0}


def _add(key: Any, value: dict[str, Any], agg: dict[str, Any]) -> dict[str, Any]:
    return {"sum": agg["sum"] + value["temp"], "count": agg["count"] + 1}


def _is_fire(window: Windowed, agg: dict[str, Any]) -> bool:
    return bool(agg["sum"] / agg["count"] > 40.0)


def _alert(window: Windowed, agg: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return window.key, {
        "sensor": window.key,
        "window_start": window.window.start,
        "window_end": window.window.end,
        "average": round(agg["sum"] / agg["count"], 2),
        "count": agg["count"],
    }


def python_topology(source: str, sink: str) -> Topology:
    """examples/temperature/app.py's shape on this benchmark's field names."""
    builder = StreamsBuilder()
    (
        builder.stream(source, timestamp_extractor=_event_time)
        .group_by_key()
        .windowed_by(TimeWindows.of(WINDOW_MS, grace=GRACE_MS))
        .aggregate(_no_readings, _add)
        .suppress(Suppressed.until_window_closes())
        .to_stream()
        .filter(_is_fire)
        .map(_alert)
        .to(sink)
    )
    return builder.build()


PYTHON, SQL_NAME, PLAIN = "kstreamlite Python DSL", "kstreamlite SQL", "plain confluent-kafka loop"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--sensors", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with broker() as bootstrap:
        tag = uuid.uuid4().hex[:6]
        source = f"sqltemp-in-{tag}"
        sinks = {n: f"sqltemp-out-{n}-{tag}" for n in ("plain", "python", "sql")}
        create_topics(bootstrap, PARTITIONS, source, *sinks.values())
        total = fill(bootstrap, source, generate(args.records, args.sensors))
        results: dict[str, list[Result]] = {}

        def record(result: Result) -> None:
            results.setdefault(result.name, []).append(result)

        def run(name: str, topology: Topology) -> None:
            record(
                run_kstreamlite(
                    bootstrap,
                    topology,
                    total,
                    name,
                    commit_interval_ms=COMMIT_MS,
                    state_dir=tempfile.mkdtemp(prefix="ks-bench-"),
                )
            )

        for i in range(args.rounds):
            record(run_plain_loop(bootstrap, source, total, plain_work(sinks["plain"])))
            pair = [
                (PYTHON, lambda: python_topology(source, sinks["python"])),
                (SQL_NAME, lambda: sql_topology(source, sinks["sql"])),
            ]
            for name, make in pair if i % 2 == 0 else reversed(pair):
                run(name, make())
        flat = [r for rs in results.values() for r in rs]
        plain = max(results[PLAIN], key=lambda r: r.rate)
        print(f"temperature pipeline, {total:,} readings, {args.sensors:,} sensors, {PARTITIONS} p")
        print(report(flat, plain))
        medians = {n: statistics.median(r.rate for r in rs) for n, rs in results.items()}
        for name, rate in medians.items():
            print(f"median {name}: {rate:,.0f} records/s, {rate / medians[PLAIN]:.2f} x plain loop")
        print(f"SQL / Python DSL (medians): {medians[SQL_NAME] / medians[PYTHON]:.3f}")


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
