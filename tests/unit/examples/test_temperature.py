"""The temperature example's topology on the TopologyTestDriver: the 40 °C threshold, the
rounding of the average, window boundaries, lateness within and beyond the grace, one
final result per window, interleaved sensors, idleness closing the last window, and
generated readings giving exactly the reference's alerts."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from examples.temperature.app import (
    GRACE_MS,
    IDLENESS_MS,
    WATERMARK_DELAY_MS,
    WINDOW_MS,
    build_topology,
)
from examples.temperature.generator import generate
from examples.temperature.reference import expected_alerts
from kstreamlite import StreamsConfig
from kstreamlite.testing import TopologyTestDriver

T0 = 1_735_689_600_000  # a whole minute: windows start at T0 + k * WINDOW_MS


def reading(sensor: str, temperature: float, ts: int) -> dict[str, Any]:
    return {"sensor_id": sensor, "temperature": temperature, "timestamp": ts}


class Sensors:
    """The driver and the example's two topics."""

    def __init__(self, driver: TopologyTestDriver) -> None:
        self.driver = driver
        self.readings = driver.create_input_topic("sensor-readings")
        self.alerts = driver.create_output_topic("fire-alerts")

    def send(self, sensor: str, *temps_and_times: tuple[float, int]) -> None:
        # The Kafka record timestamp is deliberately wrong: event time is the value's.
        for temperature, ts in temps_and_times:
            self.readings.pipe_input(sensor, reading(sensor, temperature, ts), timestamp=0)

    def close_everything(self) -> None:
        """A reading far ahead in event time, on a sensor of its own, closes every window
        before it (its own stays open)."""
        self.send("far-away", (20.0, T0 + 3_600_000))

    def alerts_by_window(self) -> dict[tuple[str, int], dict[str, Any]]:
        return {(k, v["window_start"]): v for k, v in self.alerts.read_key_values_to_list()}


@pytest.fixture
def sensors() -> Iterator[Sensors]:
    config = StreamsConfig(application_id="temperature")
    with TopologyTestDriver(build_topology(), config=config) as driver:
        yield Sensors(driver)


def test_a_mean_of_exactly_40_is_no_fire_and_just_above_is(sensors: Sensors) -> None:
    sensors.send("s1", (39.5, T0 + 1_000), (40.5, T0 + 2_000))  # mean 40.0
    sensors.send("s2", (40.0, T0 + 1_000), (40.02, T0 + 2_000))  # mean 40.01
    sensors.close_everything()
    assert sensors.alerts.read_key_values_to_list() == [
        (
            "s2",
            {
                "sensor_id": "s2",
                "window_start": T0,
                "window_end": T0 + WINDOW_MS,
                "average": 40.01,
                "count": 2,
            },
        )
    ]


def test_the_average_is_rounded_to_two_decimals(sensors: Sensors) -> None:
    sensors.send("up", (41.0, T0), (41.0, T0 + 1), (42.0, T0 + 2))  # 41.333...
    sensors.send("down", (40.0, T0), (41.0, T0 + 1), (41.0, T0 + 2))  # 40.666...
    # Above 40 by less than the rounding: alerts, with the average shown as 40.0.
    sensors.send("edge", (40.0, T0), (40.0, T0 + 1), (40.003, T0 + 2))  # 40.001
    sensors.close_everything()
    averages = {key: alert["average"] for key, alert in sensors.alerts_by_window().items()}
    assert averages == {("up", T0): 41.33, ("down", T0): 40.67, ("edge", T0): 40.0}


def test_a_reading_at_exactly_the_window_end_belongs_to_the_next_window(
    sensors: Sensors,
) -> None:
    end = T0 + WINDOW_MS
    sensors.send("s1", (50.0, T0), (50.0, end - 1), (50.0, end), (60.0, end + 1))
    sensors.close_everything()
    alerts = sensors.alerts_by_window()
    assert alerts[("s1", T0)]["count"] == 2
    assert alerts[("s1", T0)]["window_end"] == end
    assert alerts[("s1", end)] == {
        "sensor_id": "s1",
        "window_start": end,
        "window_end": end + WINDOW_MS,
        "average": 55.0,
        "count": 2,
    }


def test_a_late_reading_within_the_grace_counts_and_one_beyond_it_is_dropped(
    sensors: Sensors,
) -> None:
    close = T0 + WINDOW_MS + GRACE_MS  # the first window closes when the watermark gets here
    sensors.send("hot", (45.0, T0 + 1_000))
    # The watermark trails the newest reading by the delay: at close - 1 it is not there yet.
    sensors.send("other", (20.0, close + WATERMARK_DELAY_MS - 1))
    sensors.send("hot", (55.0, T0 + 2_000))  # late, but the window is open: counted
    assert sensors.alerts.is_empty()
    sensors.send("other", (20.0, close + WATERMARK_DELAY_MS))  # the watermark reaches close
    [(key, alert)] = sensors.alerts.read_key_values_to_list()
    assert (key, alert["count"], alert["average"]) == ("hot", 2, 50.0)
    sensors.send("hot", (95.0, T0 + 3_000))  # its window has closed: dropped
    sensors.close_everything()
    assert sensors.alerts.is_empty()  # no second result, and no corrected one


def test_exactly_one_result_per_window_however_many_readings(sensors: Sensors) -> None:
    sensors.send("s1", *((41.0 + i % 3, T0 + 500 * i) for i in range(120)))  # 0 to 59.5 s
    sensors.send("s1", *((45.0, T0 + WINDOW_MS + 500 * i) for i in range(120)))
    sensors.close_everything()
    alerts = sensors.alerts.read_key_values_to_list()
    assert [(k, a["window_start"], a["count"]) for k, a in alerts] == [
        ("s1", T0, 120),
        ("s1", T0 + WINDOW_MS, 120),
    ]


def test_interleaved_sensors_are_averaged_apart(sensors: Sensors) -> None:
    for second in range(60):
        ts = T0 + second * 1_000
        sensors.send("kitchen", (22.0 + second % 2, ts))  # 22.5: no alert
        sensors.send("boiler", (40.0 + second % 2 * 2, ts + 10))  # 41.0
        sensors.send("attic", (38.0 + second % 5, ts + 20))  # 40.0: no alert
        sensors.send("server-room", (30.0 + second, ts + 30))  # 59.5
    sensors.close_everything()
    alerts = sensors.alerts_by_window()
    assert {key: (a["average"], a["count"]) for key, a in alerts.items()} == {
        ("boiler", T0): (41.0, 60),
        ("server-room", T0): (59.5, 60),
    }


def test_idleness_closes_the_last_window_once_the_readings_stop(sensors: Sensors) -> None:
    last = T0 + 50_000
    sensors.send("s1", (60.0, T0 + 10_000), (62.0, last))
    # The window closes at T0 + 70 s of watermark; the readings stopped at a watermark of
    # last - delay. Nothing comes out before the input is idle...
    sensors.driver.advance_wall_clock_time(IDLENESS_MS - 1)
    assert sensors.alerts.is_empty()
    # ...then the watermark follows the wall clock from the last reading on: past the close.
    sensors.driver.advance_wall_clock_time(1)
    assert sensors.alerts.read_key_values_to_list() == [
        (
            "s1",
            {
                "sensor_id": "s1",
                "window_start": T0,
                "window_end": T0 + WINDOW_MS,
                "average": 61.0,
                "count": 2,
            },
        )
    ]
    sensors.driver.advance_wall_clock_time(IDLENESS_MS * 10)
    assert sensors.alerts.is_empty()


def test_flush_to_end_closes_every_window(sensors: Sensors) -> None:
    sensors.send("s1", (70.0, T0 + 1_000))
    sensors.send("s2", (70.0, T0 + 59_999))
    assert sensors.alerts.is_empty()
    sensors.driver.flush_to_end()
    assert set(sensors.alerts_by_window()) == {("s1", T0), ("s2", T0)}


def test_event_time_is_the_readings_timestamp_not_the_records(sensors: Sensors) -> None:
    # Records stamped far ahead of their readings: event time must not follow them.
    sensors.readings.pipe_input("s1", reading("s1", 80.0, T0), timestamp=T0 + 3_600_000)
    sensors.readings.pipe_input("s1", reading("s1", 80.0, T0 + 1), timestamp=T0 + 7_200_000)
    assert sensors.alerts.is_empty()  # no window closed
    sensors.close_everything()
    assert sensors.alerts_by_window()[("s1", T0)]["count"] == 2


def test_generated_readings_give_exactly_the_reference_alerts() -> None:
    data = generate(sensor_count=30, duration_s=480, seed=5)
    expected = expected_alerts(data)
    assert expected.alerts, "the generator must start fires for this test to prove anything"
    assert not expected.late
    with TopologyTestDriver(
        build_topology(), config=StreamsConfig(application_id="temperature")
    ) as driver:
        sensors = Sensors(driver)
        for r in data:
            sensors.readings.pipe_input(r["sensor_id"], r)
        driver.flush_to_end()
        alerts = sensors.alerts.read_key_values_to_list()
    assert len(alerts) == len(expected.alerts)  # one per window
    assert {(k, a["window_start"]): a for k, a in alerts} == expected.alerts
    assert all(k == a["sensor_id"] for k, a in alerts)


def test_the_reference_drops_late_readings_as_the_topology_does() -> None:
    data = [
        reading("a", 50.0, T0),
        reading("b", 20.0, T0 + WINDOW_MS + GRACE_MS + WATERMARK_DELAY_MS),  # closes [T0, +1m)
        reading("a", 90.0, T0 + 5),  # late
        reading("a", 41.0, T0 + WINDOW_MS + 1),
    ]
    expected = expected_alerts(data)
    assert expected.late == [data[2]]
    with TopologyTestDriver(
        build_topology(), config=StreamsConfig(application_id="temperature")
    ) as driver:
        sensors = Sensors(driver)
        for r in data:
            sensors.readings.pipe_input(r["sensor_id"], r)
        driver.flush_to_end()
        assert sensors.alerts_by_window() == expected.alerts
    assert set(expected.alerts) == {("a", T0), ("a", T0 + WINDOW_MS)}


def test_the_generator_is_deterministic_and_realistic() -> None:
    data = generate(sensor_count=20, duration_s=120, seed=1)
    assert data == generate(sensor_count=20, duration_s=120, seed=1)
    assert data != generate(sensor_count=20, duration_s=120, seed=2)
    per_sensor: dict[str, list[dict[str, Any]]] = {}
    for r in data:
        per_sensor.setdefault(r["sensor_id"], []).append(r)
    assert len(per_sensor) == 20
    assert all(110 <= len(rs) <= 120 for rs in per_sensor.values())  # ~1 a second
    disordered = sum(b["timestamp"] < a["timestamp"] for a, b in itertools.pairwise(data))
    assert disordered > len(data) // 10  # arrival order is not timestamp order...
    highest = 0
    for r in data:  # ...but never more than the watermark delay behind
        assert r["timestamp"] > highest - WATERMARK_DELAY_MS
        highest = max(highest, r["timestamp"])
    normal = [r["temperature"] for r in data if r["temperature"] < 35]
    assert 20 < sum(normal) / len(normal) < 30
