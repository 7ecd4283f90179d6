"""Tumbling and hopping TimeWindows through the TopologyTestDriver."""

from __future__ import annotations

from collections import Counter

import pytest

from kstreamlite import Materialized, Window, Windowed, serdes
from kstreamlite.errors import TopologyError
from kstreamlite.windows import TimeWindows
from tests.unit.helpers import driver_for

from .support import by_window, pipe, rows, windowed_out


def windowed_count(windows, *, caching=False, store="counts"):
    def define(b):
        (
            b.stream("in")
            .group_by_key()
            .windowed_by(windows)
            .count(materialized=Materialized(store, caching=caching))
            .to_stream()
            .to("out")
        )

    return define


# ---- tumbling ----


def test_a_record_at_exactly_the_window_end_belongs_to_the_next_window():
    with driver_for(windowed_count(TimeWindows.of(10, grace=100))) as driver:
        pipe(driver, [("a", 1, 0), ("a", 1, 9), ("a", 1, 10), ("a", 1, 19), ("a", 1, 20)])
        assert rows(windowed_out(driver).read_records_to_list()) == [
            ("a", 0, 10, 1, 0),
            ("a", 0, 10, 2, 9),
            ("a", 10, 20, 1, 10),
            ("a", 10, 20, 2, 19),
            ("a", 20, 30, 1, 20),
        ]


def test_tumbling_windows_count_per_key_and_window():
    records = [("a", 1, 100), ("b", 1, 105), ("a", 1, 159), ("a", 1, 160), ("b", 1, 170)]
    records += [("a", 1, 219), ("b", 1, 241)]
    with driver_for(windowed_count(TimeWindows.of(60, grace=1_000))) as driver:
        pipe(driver, records)
        result = by_window(windowed_out(driver).read_key_values_to_map())
    assert result == {
        ("a", 60, 120): 1,
        ("a", 120, 180): 2,
        ("a", 180, 240): 1,
        ("b", 60, 120): 1,
        ("b", 120, 180): 1,
        ("b", 240, 300): 1,
    }


def test_tumbling_reduce_and_aggregate_fold_values_in_arrival_order():
    def define(b):
        grouped = b.stream("in").group_by_key().windowed_by(TimeWindows.of(10, grace=50))
        grouped.reduce(lambda a, v: a + v, materialized=Materialized("r", caching=False))
        grouped.aggregate(
            lambda: "",
            lambda k, v, agg: agg + str(v),
            materialized=Materialized("g", caching=False, value_serde=serdes.STRING),
        ).to_stream().to("out")

    with driver_for(define) as driver:
        pipe(driver, [("k", 1, 20), ("k", 2, 25), ("k", 3, 31), ("k", 4, 22)])
        out = windowed_out(driver, value_serde=serdes.STRING)
        assert by_window(out.read_key_values_to_map()) == {("k", 20, 30): "124", ("k", 30, 40): "3"}
        reduced = driver.get_window_store("r")
        assert list(reduced.fetch("k", 0, 100)) == [(20, 7), (30, 3)]
        assert reduced.get("k", 20) == 7


def test_window_results_are_keyed_by_windowed_and_carry_the_record_timestamp():
    with driver_for(windowed_count(TimeWindows.of(1_000))) as driver:
        pipe(driver, [("user", 1, 1_500)])
        record = windowed_out(driver).read_record()
    assert record.key == Windowed("user", Window(1_000, 2_000))
    assert record.value == 1
    assert record.timestamp == 1_500


# ---- hopping ----


@pytest.mark.parametrize(("size", "step"), [(10, 5), (30, 10), (20, 20), (12, 4)])
def test_hopping_each_record_lands_in_size_over_step_windows(size, step):
    times = [100, 101, 107, 113, 119, 120, 131]
    with driver_for(windowed_count(TimeWindows.of(size, grace=1_000).advance_by(step))) as driver:
        pipe(driver, [("k", 1, t) for t in times])
        result = by_window(windowed_out(driver).read_key_values_to_map())
    # brute force: every window [start, start + size) with start a multiple of step
    expected: Counter = Counter()
    for t in times:
        hits = [s for s in range(0, t + 1, step) if s <= t < s + size]
        assert len(hits) == size // step
        for s in hits:
            expected[("k", s, s + size)] += 1
    assert result == dict(expected)


def test_hopping_windows_emit_one_update_per_window_holding_the_record():
    with driver_for(windowed_count(TimeWindows.of(10, grace=100).advance_by(5))) as driver:
        pipe(driver, [("a", 1, 12), ("a", 1, 14), ("a", 1, 15)])
        assert rows(windowed_out(driver).read_records_to_list()) == [
            ("a", 5, 15, 1, 12),
            ("a", 10, 20, 1, 12),
            ("a", 5, 15, 2, 14),
            ("a", 10, 20, 2, 14),
            ("a", 10, 20, 3, 15),
            ("a", 15, 25, 1, 15),
        ]


def test_hopping_windows_start_no_earlier_than_zero():
    with driver_for(windowed_count(TimeWindows.of(10, grace=100).advance_by(5))) as driver:
        pipe(driver, [("a", 1, 3)])
        assert rows(windowed_out(driver).read_records_to_list()) == [("a", 0, 10, 1, 3)]


def test_hopping_window_store_holds_one_entry_per_window():
    with driver_for(windowed_count(TimeWindows.of(30, grace=1_000).advance_by(10))) as driver:
        pipe(driver, [("a", 1, 35), ("b", 1, 41)])
        store = driver.get_window_store("counts")
        assert [
            (kv.key.key, kv.key.window.start, kv.key.window.end, kv.value) for kv in store.all()
        ] == [
            ("a", 10, 40, 1),
            ("a", 20, 50, 1),
            ("a", 30, 60, 1),
            ("b", 20, 50, 1),
            ("b", 30, 60, 1),
            ("b", 40, 70, 1),
        ]


# ---- specification errors ----


def test_advance_larger_than_size_is_rejected():
    with pytest.raises(TopologyError, match="must not exceed the window size"):
        TimeWindows.of(10).advance_by(11)


@pytest.mark.parametrize("size", [0, -5])
def test_window_size_must_be_positive(size):
    with pytest.raises(TopologyError, match="window size must be positive"):
        TimeWindows.of(size)


def test_negative_grace_is_rejected():
    with pytest.raises(TopologyError, match="grace must not be negative"):
        TimeWindows.of(10, grace=-1)
