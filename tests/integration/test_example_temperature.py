"""The temperature example on a real broker: generated readings (several minutes of event
time, slightly out of order, a few sensors on fire) through the fire-alert topology
running in KafkaStreams; ``fire-alerts`` holds exactly the reference's alerts, one per
window, each keyed by its sensor id in its key's partition. Once as a streaming
application, once as a bounded run.

Streaming: idleness would close the last windows only after 30 s of wall clock without readings,
too long for a test: the input ends instead with one reading an hour ahead in event
time on every partition, which moves every task's watermark past the close of every
window of the generated data (their own windows stay open, and are normal anyway).
Bounded: ``app.run(bounded=True)`` closes every window at the end of the input."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from examples.temperature.app import build_topology
from examples.temperature.generator import START_MS, generate, producer, send
from examples.temperature.reference import expected_alerts
from kstreamlite import KafkaStreams

from .kafka_helpers import (
    KafkaHelper,
    close_all,
    default_partition,
    failed,
    key_str,
    start_app,
    streams_config,
    wait_running,
)

pytestmark = pytest.mark.integration

PARTITIONS = 3
FAR_MS = START_MS + 3_600_000


def _closing_readings() -> list[tuple[int, dict[str, Any]]]:
    """One normal reading an hour ahead on every partition (explicitly placed)."""
    return [
        (p, {"sensor_id": f"closer-{p}", "temperature": 21.0, "timestamp": FAR_MS})
        for p in range(PARTITIONS)
    ]


def _produce(bootstrap_servers: str, source: str, readings: list[dict[str, Any]]) -> None:
    """The readings, in order, each partition's last one sent and flushed alone: its last
    batch then holds one record, so its end offset is right on Tansu too (BROKER-NOTES.md
    2), which a bounded run stops at. Per partition the order is unchanged."""
    last: dict[int, int] = {}
    for i, reading in enumerate(readings):
        last[default_partition(reading["sensor_id"].encode(), PARTITIONS)] = i
    out = producer(bootstrap_servers)
    for i, reading in enumerate(readings):
        if i not in last.values():
            send(out, source, reading)
    assert out.flush(30) == 0
    for i in sorted(last.values()):
        send(out, source, readings[i])
        assert out.flush(30) == 0


def _check(msgs: list[Any], expected: dict[tuple[str, int], dict[str, Any]]) -> None:
    alerts = [(key_str(m), orjson.loads(m.value())) for m in msgs]
    windows = Counter((key, alert["window_start"]) for key, alert in alerts)
    repeated = {w: n for w, n in windows.items() if n > 1}
    assert not repeated, f"windows with more than one alert: {repeated}"
    got = {(key, alert["window_start"]): alert for key, alert in alerts}
    assert got == expected
    assert all(key == alert["sensor_id"] for key, alert in alerts)
    for msg in msgs:  # keyed by sensor id: each alert in its sensor's partition
        assert msg.partition() == default_partition(msg.key(), PARTITIONS)


def test_generated_readings_give_exactly_the_reference_fire_alerts(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Path
) -> None:
    source = kafka.create_topic(f"sensor-readings-{unique}", partitions=PARTITIONS)
    sink = kafka.create_topic(f"fire-alerts-{unique}", partitions=PARTITIONS)
    readings = generate(sensor_count=16, duration_s=300, seed=11)
    closers = _closing_readings()
    expected = expected_alerts([*readings, *(r for _, r in closers)])
    assert 4_000 < len(readings) < 5_000
    assert not expected.late  # so the result cannot depend on the partitioning
    assert len(expected.alerts) >= 5, "the generator must start fires"

    config = streams_config(f"temperature-{unique}", bootstrap_servers, tmp_path)
    app = start_app(build_topology(source=source, sink=sink), config)
    try:
        wait_running(app, timeout=30)
        _produce(bootstrap_servers, source, readings)
        out = producer(bootstrap_servers)
        for partition, reading in closers:
            out.produce(source, orjson.dumps(reading), reading["sensor_id"].encode(), partition)
        assert out.flush(30) == 0
        msgs = kafka.read(
            sink, len(expected.alerts), timeout=20, settle=1.5, abort_if=lambda: failed(app)
        )
    finally:
        close_all(app)
    _check(msgs, expected.alerts)


def test_a_bounded_run_closes_every_window_and_alerts_as_the_reference_says(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Path
) -> None:
    source = kafka.create_topic(f"sensor-readings-b-{unique}", partitions=PARTITIONS)
    sink = kafka.create_topic(f"fire-alerts-b-{unique}", partitions=PARTITIONS)
    # Fires late in the stretch: some still burn in the last windows, which only the end
    # of the bounded run closes.
    readings = generate(sensor_count=16, duration_s=240, seed=4, fire_share=0.25)
    expected = expected_alerts(readings)
    last_start = max(start for _, start in expected.alerts)
    assert last_start == START_MS + 180_000, "no alert in the last window: proves less"
    assert {default_partition(r["sensor_id"].encode(), PARTITIONS) for r in readings} == set(
        range(PARTITIONS)
    )
    _produce(bootstrap_servers, source, readings)

    config = streams_config(f"temperature-b-{unique}", bootstrap_servers, tmp_path)
    summary = KafkaStreams(build_topology(source=source, sink=sink), config).run(bounded=True)
    msgs = kafka.read(sink, len(expected.alerts), timeout=15, settle=1.0)
    assert summary is not None
    _check(msgs, expected.alerts)
