"""examples/temperature/fire_alerts.sql gives exactly the alerts of
examples/temperature/app.py: generated readings, and the edge cases of the rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from examples.temperature.app import GRACE_MS, IDLENESS_MS, WATERMARK_DELAY_MS, WINDOW_MS
from examples.temperature.app import build_topology as python_topology
from examples.temperature.generator import generate
from kstreamlite import StreamsConfig, Topology
from kstreamlite.sql import to_topology
from kstreamlite.testing import TopologyTestDriver

SCRIPT = Path(__file__).parents[3] / "examples" / "temperature" / "fire_alerts.sql"
T0 = 1_735_689_600_000


def sql_topology() -> Topology:
    return to_topology(SCRIPT.read_text())


def reading(sensor: str, temperature: float, ts: int) -> dict[str, Any]:
    return {"sensor_id": sensor, "temperature": temperature, "timestamp": ts}


def alerts_of(
    topology: Topology, readings: list[dict[str, Any]], *, flush: bool = True, idle_ms: int = 0
) -> list[tuple[str, dict[str, Any]]]:
    with TopologyTestDriver(topology, config=StreamsConfig(application_id="t")) as driver:
        inp = driver.create_input_topic("sensor-readings")
        out = driver.create_output_topic("fire-alerts")
        for r in readings:
            inp.pipe_input(r["sensor_id"], r, timestamp=0)  # event time is the value's
        if idle_ms:
            driver.advance_wall_clock_time(idle_ms)
        if flush:
            driver.flush_to_end()
        return [tuple(kv) for kv in out.read_key_values_to_list()]  # type: ignore[misc]


def both(readings: list[dict[str, Any]], **kw: Any) -> list[tuple[str, dict[str, Any]]]:
    expected = alerts_of(python_topology(), readings, **kw)
    actual = alerts_of(sql_topology(), readings, **kw)
    assert actual == expected
    return actual


def test_generated_readings_give_exactly_the_python_alerts() -> None:
    data = generate(sensor_count=40, duration_s=600, seed=7)
    alerts = both(data)
    assert len(alerts) >= 10, "the generator must start fires for this test to prove anything"
    assert all(k == v["sensor_id"] for k, v in alerts)


def test_generated_readings_with_another_seed_in_arrival_order() -> None:
    data = generate(sensor_count=25, duration_s=420, seed=3)
    assert len(both(data)) > 0


def test_a_mean_of_exactly_40_is_no_alert_and_just_above_is() -> None:
    data = [
        reading("s1", 39.5, T0 + 1_000),
        reading("s1", 40.5, T0 + 2_000),  # mean 40.0
        reading("s2", 40.0, T0 + 1_000),
        reading("s2", 40.02, T0 + 2_000),  # mean 40.01
        reading("s3", 40.0, T0),
        reading("s3", 40.0, T0 + 1),
        reading("s3", 40.003, T0 + 2),  # 40.001: alerts with an average shown as 40.0
    ]
    alerts = both(data)
    assert {k: v["average"] for k, v in alerts} == {"s2": 40.01, "s3": 40.0}
    assert dict(alerts)["s2"] == {
        "sensor_id": "s2",
        "window_start": T0,
        "window_end": T0 + WINDOW_MS,
        "average": 40.01,
        "count": 2,
    }


def test_a_late_reading_after_the_window_closed_is_dropped() -> None:
    close = T0 + WINDOW_MS + GRACE_MS + WATERMARK_DELAY_MS
    data = [
        reading("hot", 45.0, T0 + 1_000),
        reading("other", 20.0, close - 1),
        reading("hot", 55.0, T0 + 2_000),  # late but within the grace: counted
        reading("other", 20.0, close),  # closes [T0, T0 + 1 min)
        reading("hot", 95.0, T0 + 3_000),  # after the close: dropped
    ]
    alerts = both(data, flush=False)
    assert alerts == [
        (
            "hot",
            {
                "sensor_id": "hot",
                "window_start": T0,
                "window_end": T0 + WINDOW_MS,
                "average": 50.0,
                "count": 2,
            },
        )
    ]


def test_flush_to_end_closes_every_window() -> None:
    data = [reading("s1", 70.0, T0 + 1_000), reading("s2", 70.0, T0 + 59_999)]
    assert alerts_of(sql_topology(), data, flush=False) == []
    assert sorted(k for k, _ in both(data)) == ["s1", "s2"]


def test_idleness_closes_the_last_window_as_the_python_topology_does() -> None:
    data = [reading("s1", 60.0, T0 + 10_000), reading("s1", 62.0, T0 + 50_000)]
    assert alerts_of(sql_topology(), data, flush=False, idle_ms=IDLENESS_MS - 1) == []
    alerts = both(data, flush=False, idle_ms=IDLENESS_MS)
    assert [(k, v["average"], v["count"]) for k, v in alerts] == [("s1", 61.0, 2)]


@pytest.mark.parametrize("seed", [11, 12])
def test_shuffled_disorder_beyond_the_delay_drops_the_same_late_readings(seed: int) -> None:
    # Disorder of up to 15 s: some readings fall behind delay + grace and are late.
    data = generate(sensor_count=10, duration_s=300, seed=seed, disorder_ms=15_000)
    both(data)


def test_describe_names_the_operators_after_the_statement() -> None:
    text = sql_topology().describe()
    for name in (
        "READINGS-source",
        "FIRE_ALERTS-suppress",
        "FIRE_ALERTS-having",
        "FIRE_ALERTS-project",
        "FIRE_ALERTS-sink (topic: fire-alerts)",
        "FIRE_ALERTS-aggregate-store",
    ):
        assert name in text
