"""TopologyTestDriver.flush_to_end(): what a bounded run emits at its end, through every
kind of result that waits for time (windows behind a repartition topic, time-limit and
final suppression, session windows), once each."""

from __future__ import annotations

import pytest

from kstreamlite import Materialized
from kstreamlite.errors import TopologyError
from kstreamlite.windows import SessionWindows, Suppressed, TimeWindows
from tests.unit.helpers import driver_for
from tests.unit.windows.support import pipe, rows, windowed_out


def _count_by_sensor(windows, suppressed):
    def define(b):
        (
            b.stream("in")
            .group_by(lambda k, v: v)  # re-keyed: the window runs behind a repartition topic
            .windowed_by(windows)
            .count(materialized=Materialized("counts"))
            .suppress(suppressed)
            .to_stream()
            .to("out")
        )

    return define


def test_windows_behind_a_repartition_topic_close_at_the_end():
    with driver_for(
        _count_by_sensor(TimeWindows.of(100, grace=50), Suppressed.until_window_closes())
    ) as driver:
        pipe(driver, [("r1", "a", 10), ("r2", "b", 20), ("r3", "a", 120), ("r4", "a", 140)])
        out = windowed_out(driver)
        assert out.is_empty()  # watermark 140: [0, 100) closes at 150
        driver.flush_to_end()
        got = sorted(rows(out.read_records_to_list()))
        assert got == [("a", 0, 100, 1, 10), ("a", 100, 200, 2, 140), ("b", 0, 100, 1, 20)]
        driver.flush_to_end()  # nothing is emitted twice
        assert out.is_empty()


def test_time_limit_suppression_lets_everything_go_at_the_end():
    with driver_for(
        _count_by_sensor(TimeWindows.of(100), Suppressed.until_time_limit(1_000))
    ) as driver:
        pipe(driver, [("r1", "a", 10), ("r2", "a", 20)])
        out = windowed_out(driver)
        assert out.is_empty()
        driver.flush_to_end()
        assert rows(out.read_records_to_list()) == [("a", 0, 100, 2, 20)]


def test_open_sessions_close_at_the_end():
    def define(b):
        (
            b.stream("in")
            .group_by_key()
            .windowed_by(SessionWindows.with_gap(50, grace=100))
            .count(materialized=Materialized("sessions"))
            .suppress(Suppressed.until_window_closes())
            .to_stream()
            .to("out")
        )

    with driver_for(define) as driver:
        pipe(driver, [("a", 1, 0), ("a", 1, 30), ("b", 1, 40)])
        out = windowed_out(driver)
        assert out.is_empty()
        driver.flush_to_end()
        assert sorted(rows(out.read_records_to_list())) == [
            ("a", 0, 30, 2, 30),
            ("b", 40, 40, 1, 40),
        ]


def test_piping_after_the_flush_is_a_clear_error():
    with driver_for(
        _count_by_sensor(TimeWindows.of(100), Suppressed.until_window_closes())
    ) as driver:
        inp = pipe(driver, [("r1", "a", 10)])
        driver.flush_to_end()
        assert rows(windowed_out(driver).read_records_to_list()) == [("a", 0, 100, 1, 10)]
        with pytest.raises(TopologyError, match="flush_to_end"):
            inp.pipe_input("r2", "a", timestamp=500)
