"""Event-time windows on a real broker: a windowed aggregation behind a repartition topic
(so its watermark comes from the upstream tasks' announcements), suppressed to one final
result per window; the same after a crash under at-least-once; idleness closing windows
without further input. Checked where a user looks: the output topic."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from kstreamlite import KafkaStreams, State, StreamsBuilder, serdes
from kstreamlite.timing import WatermarkStrategy
from kstreamlite.windows import Suppressed, TimeWindows

from .kafka_helpers import KafkaHelper, close_all, failed, streams_config, wait_until

pytestmark = pytest.mark.integration

PARTITIONS = 4
SIZE = 1_000  # window size, ms
GRACE = 200
DELAY = 500  # bounded out-of-orderness of the watermark strategy, ms
BASE = 1_700_000_000_000  # a multiple of SIZE: window starts are BASE + k * SIZE
FAR = BASE + 3_600_000  # the flush records' event time: past every window's close
SENSORS = [f"s{i:02d}" for i in range(8)]
WINDOWED_STRING = serdes.windowed(serdes.STRING)

Reading = tuple[int, str, dict[str, Any]]  # (partition, key, value)
WindowId = tuple[str, int, int]  # (sensor, start, end)


def _readings(first: int, last: int, seed: int) -> list[Reading]:
    """Readings ``first`` to ``last - 1``, 10 ms of event time apart, keyed by reading id
    (not by sensor), spread over every partition, and shuffled: the order they are sent in
    is their event time plus a jitter below DELAY / 2, so no reading arrives more than
    DELAY / 2 behind one sent before it, on any partition (none is late)."""
    rng = random.Random(seed)
    readings = []
    for i in range(first, last):
        value = {"sensor": SENSORS[rng.randrange(len(SENSORS))], "ts": BASE + 10 * i, "v": i % 13}
        readings.append((rng.uniform(0, DELAY / 2), i % PARTITIONS, f"r{i:05d}", value))
    readings.sort(key=lambda r: r[3]["ts"] + r[0])
    return [(partition, key, value) for _, partition, key, value in readings]


def _flush_records() -> list[Reading]:
    """One far-future reading on every partition: every upstream task's watermark then
    passes the close of every window of the real data (their own window never closes)."""
    return [(p, f"flush-{p}", {"sensor": "flush", "ts": FAR, "v": 0}) for p in range(PARTITIONS)]


def _produce(kafka: KafkaHelper, topic: str, readings: list[Reading]) -> None:
    for p in range(PARTITIONS):
        kafka.produce(topic, [(k, v) for q, k, v in readings if q == p], partition=p)


def _reference(readings: list[Reading]) -> dict[WindowId, dict[str, int]]:
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


def _topology(source: str, sink: str, watermark: WatermarkStrategy | None = None) -> Any:
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


def _finals(msgs: list[Any]) -> list[tuple[WindowId, dict[str, int]]]:
    out = []
    for msg in msgs:
        windowed = WINDOWED_STRING.deserialize(msg.key())
        window = (windowed.key, windowed.window.start, windowed.window.end)
        out.append((window, orjson.loads(msg.value())))
    return out


def _late_records(app: KafkaStreams) -> int:
    return sum(
        int(value)
        for name, value in app.metrics().items()
        if name.startswith("kstreamlite_late_records_total")
    )


def _started(topology: Any, config: Any) -> KafkaStreams:
    app = KafkaStreams(topology, config)
    app.start()
    return app


def _running(app: KafkaStreams, timeout: float = 45) -> None:
    wait_until(
        lambda: app.state is State.RUNNING,
        timeout=timeout,
        what=f"{app.config.application_id} RUNNING",
        abort_if=lambda: failed(app),
    )


# ---- one final result per window, behind a repartition topic ---------------------------


def test_suppressed_windowed_aggregate_after_group_by_emits_each_final_result_once(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Path
) -> None:
    source = kafka.create_topic(f"win-final-in-{unique}", partitions=PARTITIONS)
    sink = kafka.create_topic(f"win-final-out-{unique}", partitions=PARTITIONS)
    readings = _readings(0, 1_200, seed=1)
    expected = _reference(readings)
    assert len(expected) > 80  # 12 s of data, 8 sensors: every sensor in every window
    assert {p for p, _, _ in readings} == set(range(PARTITIONS))

    config = streams_config(f"win-final-{unique}", bootstrap_servers, tmp_path)
    app = _started(_topology(source, sink), config)
    try:
        _running(app)
        _produce(kafka, source, readings)
        # No window can close before the flush records: each upstream task's watermark
        # stays DELAY behind its own newest reading, the downstream one takes the minimum.
        _produce(kafka, source, _flush_records())
        msgs = kafka.read(sink, len(expected), timeout=45, settle=2.0, abort_if=lambda: failed(app))
        late = _late_records(app)
    finally:
        close_all(app)

    finals = _finals(msgs)
    repeated = {w: n for w, n in Counter(w for w, _ in finals).items() if n > 1}
    assert not repeated, f"windows with more than one final result: {repeated}"
    got = dict(finals)
    assert got == expected, _diff(got, expected)
    assert late == 0, f"{late} records were dropped as late; none arrived behind the watermark"


def _diff(got: dict[WindowId, Any], expected: dict[WindowId, Any]) -> str:
    keys = sorted(set(got) | set(expected))
    wrong = {k: (got.get(k), expected.get(k)) for k in keys if got.get(k) != expected.get(k)}
    return f"{len(wrong)} windows differ, (got, expected): {dict(list(wrong.items())[:10])}"
