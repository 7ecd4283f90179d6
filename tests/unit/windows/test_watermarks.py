"""Watermarks: bounded out-of-orderness, idleness, repartitions, negative timestamps."""

from __future__ import annotations

import pytest

from kstreamlite import Materialized
from kstreamlite.errors import ProcessingError
from kstreamlite.timing import WatermarkStrategy
from kstreamlite.windows import Suppressed, TimeWindows
from tests.unit.helpers import driver_for

from .support import SKIPPED, late_count, pipe, rows, windowed_out


def counting(
    windows, *, watermark=None, suppress=True, caching=False, group_by=None, extractor=None
):
    def define(b):
        stream = b.stream("in", watermark=watermark, timestamp_extractor=extractor)
        grouped = stream.group_by(group_by) if group_by else stream.group_by_key()
        table = grouped.windowed_by(windows).count(
            materialized=Materialized("counts", caching=caching)
        )
        if suppress:
            table = table.suppress(Suppressed.until_window_closes())
        table.to_stream().to("out")

    return define


def piped_steps(driver, records):
    inp = driver.create_input_topic("in")
    out = windowed_out(driver)
    steps = []
    for key, value, ts in records:
        inp.pipe_input(key, value, timestamp=ts)
        steps.append(rows(out.read_records_to_list()))
    return steps


# ---- bounded out-of-orderness ----


def test_monotonous_watermark_drops_a_record_behind_a_closed_window():
    with driver_for(counting(TimeWindows.of(10))) as driver:
        steps = piped_steps(driver, [("a", 1, 5), ("a", 1, 12), ("a", 1, 9)])
        assert late_count(driver) == 1
    assert steps == [[], [("a", 0, 10, 1, 5)], []]


def test_bounded_out_of_orderness_holds_windows_open_by_the_delay():
    bounded = WatermarkStrategy.bounded_out_of_orderness(5)
    with driver_for(counting(TimeWindows.of(10), watermark=bounded)) as driver:
        steps = piped_steps(
            driver, [("a", 1, 5), ("a", 1, 12), ("a", 1, 14), ("a", 1, 15), ("a", 1, 9)]
        )
        assert late_count(driver) == 1  # 9 arrives at watermark 10: [0, 10) has closed
    # watermark = highest timestamp - 5: [0, 10) closes only at timestamp 15
    assert steps == [[], [], [], [("a", 0, 10, 1, 5)], []]


BOUNDED_RETENTION_BUG = (
    "with bounded_out_of_orderness(d) the window store drops windows that are still open: "
    "the store retention is size + grace (dsl/windowed.py _retention, specs retention_ms) "
    "without the delay d, and WindowStore.put calls observe(window_start) (state/windowed.py), "
    "so expiry runs on the highest window start (stream time), not on the watermark; an "
    "accepted out-of-order record then finds its window gone (or its put is discarded as "
    "already expired) and the count restarts"
)


def test_bounded_out_of_orderness_accepts_a_record_late_under_monotonous():
    bounded = WatermarkStrategy.bounded_out_of_orderness(5)
    with driver_for(counting(TimeWindows.of(10), watermark=bounded)) as driver:
        # watermark 7 when 9 arrives: [0, 10) is open, so 9 counts there
        steps = piped_steps(driver, [("a", 1, 5), ("a", 1, 12), ("a", 1, 9), ("a", 1, 15)])
        assert late_count(driver) == 0
    assert steps == [[], [], [], [("a", 0, 10, 2, 9)]]


def test_bounded_out_of_orderness_keeps_updating_open_windows_without_suppress():
    bounded = WatermarkStrategy.bounded_out_of_orderness(5)
    with driver_for(counting(TimeWindows.of(10), watermark=bounded, suppress=False)) as driver:
        steps = piped_steps(
            driver, [("a", 1, 12), ("a", 1, 16), ("a", 1, 20), ("a", 1, 17)]
        )  # watermark 15 when 17 arrives: [10, 20) is open
        assert late_count(driver) == 0
        assert driver.get_window_store("counts").get("a", 10) == 3
    assert steps == [
        [("a", 10, 20, 1, 12)],
        [("a", 10, 20, 2, 16)],
        [("a", 20, 30, 1, 20)],
        [("a", 10, 20, 3, 17)],
    ]


def test_negative_max_delay_is_rejected():
    with pytest.raises(ValueError, match="must not be negative"):
        WatermarkStrategy.bounded_out_of_orderness(-1)


# ---- idleness ----


@pytest.mark.parametrize("caching", [False, True], ids=["no-cache", "cache"])
def test_idle_input_lets_the_watermark_follow_the_wall_clock(caching):
    idle = WatermarkStrategy.monotonous().with_idleness(100)
    with driver_for(counting(TimeWindows.of(10), watermark=idle, caching=caching)) as driver:
        steps = piped_steps(driver, [("a", 1, 5), ("a", 1, 12), ("a", 1, 15)])
        assert steps == [[], [("a", 0, 10, 1, 5)], []]
        out = windowed_out(driver)
        driver.advance_wall_clock_time(99)
        assert out.is_empty()  # not idle yet: [10, 20) waits for more input
        driver.advance_wall_clock_time(1)
        assert rows(out.read_records_to_list()) == [("a", 10, 20, 2, 15)]
        driver.advance_wall_clock_time(1_000)
        assert out.is_empty()


def test_without_idleness_the_wall_clock_closes_nothing():
    with driver_for(counting(TimeWindows.of(10))) as driver:
        pipe(driver, [("a", 1, 12)])
        driver.advance_wall_clock_time(1_000_000)
        assert windowed_out(driver).is_empty()


def test_a_record_restarts_the_idleness_timeout():
    idle = WatermarkStrategy.monotonous().with_idleness(100)
    with driver_for(counting(TimeWindows.of(20), watermark=idle)) as driver:
        pipe(driver, [("a", 1, 12)])
        driver.advance_wall_clock_time(60)
        pipe(driver, [("a", 1, 13)])  # input again at wall clock 60
        out = windowed_out(driver)
        driver.advance_wall_clock_time(99)
        assert out.is_empty()  # 99 since the last record: not idle
        driver.advance_wall_clock_time(1)
        assert rows(out.read_records_to_list()) == [("a", 0, 20, 2, 13)]


def test_an_idle_watermark_advances_at_wall_clock_speed():
    idle = WatermarkStrategy.monotonous().with_idleness(100)
    with driver_for(counting(TimeWindows.of(1_000), watermark=idle)) as driver:
        pipe(driver, [("a", 1, 12)])  # at wall clock 0
        out = windowed_out(driver)
        driver.advance_wall_clock_time(100)  # idle: the watermark follows the wall clock from 12
        driver.advance_wall_clock_time(1)
        driver.advance_wall_clock_time(886)  # wall clock 987: watermark 999
        assert out.is_empty()
        driver.advance_wall_clock_time(1)  # watermark 1000: [0, 1000) closes
        assert rows(out.read_records_to_list()) == [("a", 0, 1_000, 1, 12)]


@pytest.mark.parametrize("timeout", [0, -5])
def test_idleness_timeout_must_be_positive(timeout):
    with pytest.raises(ValueError, match="must be positive"):
        WatermarkStrategy.monotonous().with_idleness(timeout)


# ---- repartition (group_by) ----


@pytest.mark.parametrize("caching", [False, True], ids=["no-cache", "cache"])
def test_suppressed_final_results_after_group_by_repartition(caching):
    records = [
        ("a", 1, 5),
        ("b", 1, 7),
        ("a", 1, 9),
        ("a", 1, 11),
        ("a", 1, 3),  # watermark 11, grace 2: [0, 10) closes at 12, still open
        ("b", 1, 12),  # [0, 10) closes
        ("a", 1, 13),
        ("a", 1, 1),  # late
        ("b", 1, 25),  # [10, 20) closes
    ]
    windows = TimeWindows.of(10, grace=2)
    with driver_for(counting(windows, caching=caching, group_by=lambda k, v: k.upper())) as driver:
        steps = piped_steps(driver, records)
        assert late_count(driver) == 1
        assert "t-counts-repartition" in driver.produced_topic_names()
        assert driver.metrics.value("kstreamlite_late_records_total", task="1_0") == 1
    assert steps == [
        [],
        [],
        [],
        [],
        [],
        [("A", 0, 10, 3, 3), ("B", 0, 10, 1, 7)],
        [],
        [],
        [("A", 10, 20, 2, 13), ("B", 10, 20, 1, 12)],
    ]


def test_repartition_topic_carries_only_data_records():
    with driver_for(counting(TimeWindows.of(10), group_by=lambda k, v: k.upper())) as driver:
        pipe(driver, [("a", 1, 5), ("b", 2, 12)])
        repartitioned = driver.create_output_topic("t-counts-repartition")
        assert repartitioned.read_key_values_to_list() == [("A", 1), ("B", 2)]


# ---- negative timestamps ----


def from_value(key, value, record_timestamp):
    return value["t"]


def test_a_negative_extracted_timestamp_fails_by_default_with_a_clear_error():
    with driver_for(counting(TimeWindows.of(10), suppress=False, extractor=from_value)) as driver:
        inp = driver.create_input_topic("in")
        inp.pipe_input("a", {"t": 5})
        with pytest.raises(
            ProcessingError, match=r"timestamp_extractor returned timestamp -5"
        ) as info:
            inp.pipe_input("a", {"t": -5})
        assert "event time must be >= 0" in str(info.value)
        assert "processing_exception_handler" in str(info.value)
        assert (info.value.topic, info.value.offset) == ("in", 1)


def test_a_negative_extracted_timestamp_is_skipped_and_counted_with_log_and_continue():
    define = counting(TimeWindows.of(10), suppress=False, extractor=from_value)
    with driver_for(define, processing_exception_handler="log_and_continue") as driver:
        inp = driver.create_input_topic("in")
        for t in [5, -5, 7, -1]:
            inp.pipe_input("a", {"t": t})
        assert rows(windowed_out(driver).read_records_to_list()) == [
            ("a", 0, 10, 1, 5),
            ("a", 0, 10, 2, 7),
        ]
        assert driver.metrics.value(SKIPPED, reason="processing", topic="in") == 2
        assert late_count(driver) == 0
