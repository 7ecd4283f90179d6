"""Windowed benchmarks (issue: Event time).

Temperature pipeline: 500,000 JSON readings from 1,000 sensors on a 4-partition topic,
event time from the reading's ``ts`` field (about one reading per sensor per second,
shuffled by up to 2 s), a tumbling 1-minute mean per sensor with 5 s grace, final results
only, alerts for a mean above 40, RocksDB with changelog. Compared, in the same run, with
the Foundation benchmark's plain confluent-kafka loop, a hand-written plain loop doing
the same windowing in a dict, and Quix Streams' ``tumbling_window(...).mean().final()``.

Bounded variant: the same temperature topology as ``app.run(bounded=True)`` over the
filled topic, timed from its first record to its return (every window closed, final
commit, close); records counted from its summary (on Tansu a partition whose last batch
held several records ends low, see BROKER-NOTES.md, and the run reads that much less).

Sliding pipeline: per sensor max - min over a 60 s sliding window (Kafka Streams'
sliding windows), kstreamlite only, on a smaller input (``--sliding-records``): each
record updates every window it falls in, about 60 per record at this density.

    python -m benchmarks.windows [--records N] [--sensors S] [--rounds R] [--no-quix]
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

from kstreamlite import StreamsBuilder, Topology, serdes
from kstreamlite.windows import SlidingWindows, Suppressed, TimeWindows

from .harness import (
    Result,
    broker,
    create_topics,
    fill,
    print_medians,
    report,
    run_bounded,
    run_kstreamlite,
    run_plain_loop,
    run_quix,
)

PARTITIONS = 4
COMMIT_MS = 5000
WINDOW_MS = 60_000
GRACE_MS = 5_000
START = 1_700_000_000_000


def generate(n: int, sensors: int) -> Iterator[tuple[bytes, bytes]]:
    """Readings in time order, each shifted by up to 2 s (out of order within the grace)."""
    rng = random.Random(11)
    step = 1000 / sensors  # one reading per sensor per second on average
    for i in range(n):
        sensor = f"sensor-{rng.randrange(sensors)}"
        ts = START + int(i * step) - rng.randrange(2000)
        temp = round(rng.gauss(30, 6), 2)
        yield sensor.encode(), orjson.dumps({"sensor": sensor, "ts": ts, "temp": temp})


def event_time(key: Any, value: dict[str, Any], record_ts: int) -> int:
    return int(value["ts"])


def add_reading(key: Any, value: dict[str, Any], agg: dict[str, Any]) -> dict[str, Any]:
    return {"sum": agg["sum"] + value["temp"], "count": agg["count"] + 1}


def no_readings() -> dict[str, Any]:
    return {"sum": 0.0, "count": 0}


def temperature_topology(source: str, alerts: str) -> Topology:
    builder = StreamsBuilder()
    (
        builder.stream(source, timestamp_extractor=event_time)
        .group_by_key()
        .windowed_by(TimeWindows.of(WINDOW_MS, grace=GRACE_MS))
        .aggregate(no_readings, add_reading)
        .suppress(Suppressed.until_window_closes())
        .to_stream()
        .map_values(lambda agg: agg["sum"] / agg["count"])
        .filter(lambda key, mean: mean > 40)
        .to(alerts, key_serde=serdes.windowed(serdes.STRING), value_serde=serdes.DOUBLE)
    )
    return builder.build()


def sliding_topology(source: str, sink: str) -> Topology:
    builder = StreamsBuilder()
    (
        builder.stream(source, timestamp_extractor=event_time)
        .group_by_key()
        .windowed_by(SlidingWindows.of(WINDOW_MS, grace=GRACE_MS))
        .aggregate(
            lambda: None,
            lambda key, value, agg: (
                (value["temp"], value["temp"])
                if agg is None
                else (min(agg[0], value["temp"]), max(agg[1], value["temp"]))
            ),
        )
        .to_stream()
        .map_values(lambda agg: agg[1] - agg[0])
        .to(sink, key_serde=serdes.windowed(serdes.STRING), value_serde=serdes.DOUBLE)
    )
    return builder.build()


def plain_work(sink: str) -> Any:
    """The Foundation benchmark's loop on this data: parse, filter, map, produce."""
    loads, dumps = orjson.loads, orjson.dumps

    def work(msg: Any, produce: Any) -> None:
        value = loads(msg.value())
        if value["temp"] >= 10.0:
            produce(sink, dumps({"ts": value["ts"], "centi": int(value["temp"] * 100)}), msg.key())

    return work


def plain_windowed(alerts: str) -> Any:
    """The same windowing by hand: a dict per (sensor, window), closed on stream time."""
    loads, dumps = orjson.loads, orjson.dumps
    open_windows: dict[tuple[bytes, int], list[float]] = {}
    clock = {"stream_time": -1}

    def work(msg: Any, produce: Any) -> None:
        value = loads(msg.value())
        ts = value["ts"]
        if ts > clock["stream_time"]:
            clock["stream_time"] = ts
            for slot in [w for w in open_windows if w[1] + WINDOW_MS + GRACE_MS <= ts]:
                total, count = open_windows.pop(slot)
                if total / count > 40:
                    produce(alerts, dumps({"start": slot[1], "mean": total / count}), slot[0])
        start = ts - ts % WINDOW_MS
        if start + WINDOW_MS + GRACE_MS <= clock["stream_time"]:
            return  # late
        slot = (msg.key(), start)
        agg = open_windows.get(slot)
        if agg is None:
            open_windows[slot] = [value["temp"], 1]
        else:
            agg[0] += value["temp"]
            agg[1] += 1

    return work


QUIX = "Quix Streams (tumbling mean final)"


def quix_pipeline(source: str, sink: str) -> Any:
    def build(app: Any) -> None:
        topic = app.topic(
            source,
            value_deserializer="json",
            timestamp_extractor=lambda value, headers, timestamp, kind: int(value["ts"]),
        )
        sdf = app.dataframe(topic)
        sdf = sdf.apply(lambda value: value["temp"])
        sdf = sdf.tumbling_window(WINDOW_MS, grace_ms=GRACE_MS).mean().final()
        sdf = sdf.filter(lambda window: window["value"] > 40)
        sdf.to_topic(app.topic(sink, value_serializer="json"))

    return build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--sensors", type=int, default=1_000)
    parser.add_argument("--sliding-records", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-quix", action="store_true")
    args = parser.parse_args()
    with broker() as bootstrap:
        tag = uuid.uuid4().hex[:6]
        source, sliding_source = f"temp-in-{tag}", f"temp-sliding-in-{tag}"
        sinks = {n: f"temp-out-{n}-{tag}" for n in ("plain", "ks", "quix", "sliding", "bounded")}
        create_topics(bootstrap, PARTITIONS, source, sliding_source, *sinks.values())
        total = fill(bootstrap, source, generate(args.records, args.sensors))
        sliding_total = fill(bootstrap, sliding_source, generate(args.sliding_records, 100))
        results: dict[str, list[Result]] = {}
        walls: list[float] = []

        def record(result: Result) -> None:
            results.setdefault(result.name, []).append(result)

        for _ in range(args.rounds):
            record(run_plain_loop(bootstrap, source, total, plain_work(sinks["plain"])))
            windowed_loop = run_plain_loop(bootstrap, source, total, plain_windowed(sinks["plain"]))
            windowed_loop.name = "plain loop, dict windows"
            record(windowed_loop)
            record(
                run_kstreamlite(
                    bootstrap,
                    temperature_topology(source, sinks["ks"]),
                    total,
                    "kstreamlite (tumbling, suppress)",
                    commit_interval_ms=COMMIT_MS,
                    state_dir=tempfile.mkdtemp(prefix="ks-bench-"),
                )
            )
            bounded, wall = run_bounded(
                bootstrap,
                temperature_topology(source, sinks["bounded"]),
                source,
                "kstreamlite bounded run",
                commit_interval_ms=COMMIT_MS,
                state_dir=tempfile.mkdtemp(prefix="ks-bench-"),
            )
            record(bounded)
            walls.append(wall)
            if not args.no_quix:
                record(
                    run_quix(
                        bootstrap, total, QUIX, quix_pipeline(source, sinks["quix"]), COMMIT_MS
                    )
                )
        sliding = run_kstreamlite(
            bootstrap,
            sliding_topology(sliding_source, sinks["sliding"]),
            sliding_total,
            "kstreamlite (sliding max-min)",
            commit_interval_ms=COMMIT_MS,
            state_dir=tempfile.mkdtemp(prefix="ks-bench-"),
        )
        flat = [r for rs in results.values() for r in rs]
        plain = max(results["plain confluent-kafka loop"], key=lambda r: r.rate)
        print(f"temperature pipeline, {total:,} readings, {args.sensors:,} sensors, {PARTITIONS} p")
        print(report(flat, plain))
        base = print_medians(results, QUIX)
        print(
            "bounded run wall time, group join and final flush included: "
            + ", ".join(f"{w:.2f} s" for w in walls)
        )
        print(
            f"sliding max-min, {sliding_total:,} readings, 100 sensors: "
            f"{sliding.rate:,.0f} records/s, {sliding.rate / base:.2f} x plain loop"
        )


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
