"""The windowed-aggregation workload several broker tests share (test_windows.py,
test_bounded.py, and bounded_app.py for the CLI): readings keyed by id, regrouped by
sensor (a repartition topic), counted and summed per tumbling event-time window,
suppressed to one final result per window; the input generator, the reference, and the
decoder of the output."""

from __future__ import annotations

import random
from typing import Any

import orjson

from kstreamlite import StreamsBuilder, serdes
from kstreamlite.timing import WatermarkStrategy
from kstreamlite.topology import Topology
from kstreamlite.windows import Suppressed, TimeWindows

PARTITIONS = 4
SIZE = 1_000  # window size, ms
GRACE = 200
DELAY = 500  # bounded out-of-orderness of the watermark strategy, ms
BASE = 1_700_000_000_000  # a multiple of SIZE: window starts are BASE + k * SIZE
FAR = BASE + 3_600_000  # flush records' event time: past every window's close
SENSORS = [f"s{i:02d}" for i in range(8)]
WINDOWED_STRING = serdes.windowed(serdes.STRING)

Reading = tuple[int, str, dict[str, Any]]  # (partition, key, value)
WindowId = tuple[str, int, int]  # (sensor, start, end)


def readings(first: int, last: int, seed: int) -> list[Reading]:
    """Readings ``first`` to ``last - 1``, 10 ms of event time apart, keyed by reading id
    (not by sensor), spread over every partition, and shuffled: the order they are sent in
    is their event time plus a jitter below DELAY / 2, so no reading arrives more than
    DELAY / 2 behind one sent before it, on any partition (none is late)."""
    rng = random.Random(seed)
    out = []
    for i in range(first, last):
        value = {"sensor": SENSORS[rng.randrange(len(SENSORS))], "ts": BASE + 10 * i, "v": i % 13}
        out.append((rng.uniform(0, DELAY / 2), i % PARTITIONS, f"r{i:05d}", value))
    out.sort(key=lambda r: r[3]["ts"] + r[0])
    return [(partition, key, value) for _, partition, key, value in out]


def reference(readings: list[Reading]) -> dict[WindowId, dict[str, int]]:
    """The final result of every window, computed here."""
    finals: dict[WindowId, dict[str, int]] = {}
    for _, _, value in readings:
        start = value["ts"] // SIZE * SIZE
        agg = finals.setdefault((value["sensor"], start, start + SIZE), {"count": 0, "sum": 0})
        agg["count"] += 1
        agg["sum"] += value["v"]
    return finals


def _add(sensor: str, value: dict[str, Any], agg: dict[str, int]) -> dict[str, int]:
    return {"count": agg["count"] + 1, "sum": agg["sum"] + value["v"]}


def topology(source: str, sink: str, watermark: WatermarkStrategy | None = None) -> Topology:
    builder = StreamsBuilder()
    (
        builder.stream(
            source,
            timestamp_extractor=lambda key, value, ts: value["ts"],
            watermark=watermark or WatermarkStrategy.bounded_out_of_orderness(DELAY),
        )
        .group_by(lambda key, value: value["sensor"])
        .windowed_by(TimeWindows.of(SIZE, GRACE))
        .aggregate(lambda: {"count": 0, "sum": 0}, _add, materialized="per-sensor")
        .suppress(Suppressed.until_window_closes())
        .to_stream()
        .to(sink, key_serde=WINDOWED_STRING)
    )
    return builder.build()


def finals(msgs: list[Any]) -> list[tuple[WindowId, dict[str, int]]]:
    """``(window, {"count", "sum"})`` of each output record, in order."""
    out = []
    for msg in msgs:
        windowed = WINDOWED_STRING.deserialize(msg.key())
        window = (windowed.key, windowed.window.start, windowed.window.end)
        out.append((window, orjson.loads(msg.value())))
    return out
