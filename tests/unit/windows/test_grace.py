"""Grace periods: on-time, just-late (accepted) and very-late (dropped, counted, handed over)."""

from __future__ import annotations

from kstreamlite import Materialized, Window
from kstreamlite.handlers import LateRecord
from kstreamlite.windows import SessionWindows, SlidingWindows, TimeWindows
from tests.unit.helpers import driver_for

from .support import by_window, late_count, pipe, rows, windowed_out


def windowed_count(windows):
    def define(b):
        (
            b.stream("in")
            .group_by_key()
            .windowed_by(windows)
            .count(materialized=Materialized("counts", caching=False))
            .to_stream()
            .to("out")
        )

    return define


def test_on_time_just_late_and_very_late_records():
    late: list[LateRecord] = []
    with driver_for(
        windowed_count(TimeWindows.of(10, grace=5)), late_record_handler=late.append
    ) as driver:
        pipe(
            driver,
            [
                ("a", 1, 2),  # on time
                ("a", 1, 12),  # watermark 12: [0, 10) is past its end but within grace
                ("a", 1, 8),  # just late: accepted
                ("a", 1, 14),  # watermark 14: [0, 10) closes at 15
                ("a", 1, 9),  # still accepted
                ("a", 1, 15),  # watermark 15: [0, 10) closed
                ("a", 1, 7),  # very late: dropped
                ("a", 1, 0),  # very late: dropped
            ],
        )
        out = windowed_out(driver)
        assert rows(out.read_records_to_list()) == [
            ("a", 0, 10, 1, 2),
            ("a", 10, 20, 1, 12),
            ("a", 0, 10, 2, 8),
            ("a", 10, 20, 2, 14),
            ("a", 0, 10, 3, 9),
            ("a", 10, 20, 3, 15),
        ]
        assert late_count(driver) == 2
        assert driver.get_window_store("counts").get("a", 0) == 3
    assert [(r.key, r.value, r.timestamp, r.watermark, r.window) for r in late] == [
        ("a", 1, 7, 15, Window(0, 10)),
        ("a", 1, 0, 15, Window(0, 10)),
    ]
    first = late[0]
    assert (first.topic, first.partition, first.offset, first.task_id) == ("in", 0, 6, "0_0")
    assert first.processor.startswith("KSTREAM-AGGREGATE-")


def test_late_metric_is_labelled_by_task_and_processor():
    with driver_for(windowed_count(TimeWindows.of(10))) as driver:
        pipe(driver, [("a", 1, 20), ("a", 1, 5), ("b", 1, 19)])
        snapshot = driver.metrics.snapshot()
    [(name, value)] = [
        (k, v) for k, v in snapshot.items() if k.startswith("kstreamlite_late_records_total")
    ]
    assert value == 2
    assert "task=0_0" in name
    assert "processor=KSTREAM-AGGREGATE-" in name


def test_without_grace_a_window_closes_at_its_end():
    with driver_for(windowed_count(TimeWindows.of(10))) as driver:
        pipe(driver, [("a", 1, 9), ("a", 1, 10), ("a", 1, 9)])
        assert rows(windowed_out(driver).read_records_to_list()) == [
            ("a", 0, 10, 1, 9),
            ("a", 10, 20, 1, 10),
        ]
        assert late_count(driver) == 1


def test_hopping_record_is_late_only_when_every_window_holding_it_has_closed():
    late: list[LateRecord] = []
    windows = TimeWindows.of(10).advance_by(5)
    with driver_for(windowed_count(windows), late_record_handler=late.append) as driver:
        # watermark 15: [5, 15) closed, [10, 20) open: the record at 12 still counts there
        pipe(driver, [("a", 1, 12), ("a", 1, 15), ("a", 1, 12), ("a", 1, 20), ("a", 1, 12)])
        result = by_window(windowed_out(driver).read_key_values_to_map())
        assert result == {("a", 5, 15): 1, ("a", 10, 20): 3, ("a", 15, 25): 2, ("a", 20, 30): 1}
        assert late_count(driver) == 1
    assert [(r.timestamp, r.watermark, r.window) for r in late] == [(12, 20, Window(10, 20))]


def test_a_failing_late_record_handler_does_not_stop_processing():
    def explode(record):
        raise RuntimeError("handler broke")

    with driver_for(windowed_count(TimeWindows.of(10)), late_record_handler=explode) as driver:
        pipe(driver, [("a", 1, 20), ("a", 1, 5), ("a", 1, 21)])
        assert by_window(windowed_out(driver).read_key_values_to_map()) == {("a", 20, 30): 2}
        assert late_count(driver) == 1


def test_session_grace_accepts_then_drops():
    late: list[LateRecord] = []
    with driver_for(
        windowed_count(SessionWindows.with_gap(10, grace=5)), late_record_handler=late.append
    ) as driver:
        # session [100, 100] closes once the watermark passes 105 (its end is inclusive)
        pipe(driver, [("a", 1, 100), ("a", 1, 200), ("a", 1, 195), ("b", 1, 105)])
        pipe(driver, [("a", 1, 300), ("a", 1, 295), ("a", 1, 294)])
        result = by_window(windowed_out(driver).read_key_values_to_map())
        assert result == {("a", 100, 100): 1, ("a", 195, 200): 2, ("a", 294, 300): 3}
        assert late_count(driver) == 1
    assert [(r.key, r.timestamp, r.watermark) for r in late] == [("b", 105, 200)]


def test_session_record_exactly_at_end_plus_grace_is_accepted():
    with driver_for(windowed_count(SessionWindows.with_gap(10, grace=5))) as driver:
        # watermark 120: a new session [115, 115] has end + grace == watermark: on time
        pipe(driver, [("a", 1, 120), ("b", 1, 115), ("c", 1, 114)])
        assert by_window(windowed_out(driver).read_key_values_to_map()) == {
            ("a", 120, 120): 1,
            ("b", 115, 115): 1,
        }
        assert late_count(driver) == 1


def test_sliding_record_is_late_once_its_right_window_has_closed_too():
    late: list[LateRecord] = []
    windows = SlidingWindows.of(10, grace=5)
    with driver_for(windowed_count(windows), late_record_handler=late.append) as driver:
        # a record at t is late once t + 1 + diff + grace <= watermark
        pipe(driver, [("a", 1, 100), ("a", 1, 85), ("a", 1, 84)])
        assert late_count(driver) == 1
        # 85 is not late (its right window [86, 96] is still open) but that window would be
        # empty and its left window [75, 85] has closed: no window changes
        assert by_window(windowed_out(driver).read_key_values_to_map()) == {("a", 90, 100): 1}
    assert [(r.timestamp, r.watermark, r.window) for r in late] == [(84, 100, Window(74, 84))]
