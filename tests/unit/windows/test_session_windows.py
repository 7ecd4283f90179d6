"""SessionWindows: sessions per key, merging when a record bridges them, tombstones."""

from __future__ import annotations

import pytest

from kstreamlite import Materialized, Window, Windowed, serdes
from kstreamlite.errors import TopologyError
from kstreamlite.windows import SessionWindows
from tests.unit.helpers import build, driver_for

from .support import by_window, late_count, pipe, rows, windowed_out


def sessions(gap, grace, *, kind="concat", caching=False):
    def define(b):
        windowed = b.stream("in").group_by_key().windowed_by(SessionWindows.with_gap(gap, grace))
        if kind == "count":
            table = windowed.count(materialized=Materialized("sessions", caching=caching))
        else:
            table = windowed.aggregate(
                lambda: "",
                lambda k, v, agg: agg + v,
                lambda k, a, b: a + b,
                materialized=Materialized("sessions", caching=caching, value_serde=serdes.STRING),
            )
        table.to_stream().to("out")

    return define


def test_records_beyond_the_gap_start_separate_sessions():
    with driver_for(sessions(10, 100)) as driver:
        pipe(driver, [("a", "x", 100), ("a", "y", 111), ("a", "z", 122), ("b", "q", 105)])
        out = windowed_out(driver, value_serde=serdes.STRING)
        assert rows(out.read_records_to_list()) == [
            ("a", 100, 100, "x", 100),
            ("a", 111, 111, "y", 111),
            ("a", 122, 122, "z", 122),
            ("b", 105, 105, "q", 105),
        ]


def test_a_record_within_the_gap_extends_the_session_and_deletes_the_old_one():
    with driver_for(sessions(10, 100)) as driver:
        pipe(driver, [("a", "x", 100), ("a", "y", 110), ("a", "z", 105)])
        out = windowed_out(driver, value_serde=serdes.STRING)
        assert rows(out.read_records_to_list()) == [
            ("a", 100, 100, "x", 100),
            ("a", 100, 100, None, 110),  # the session grew: its old window is deleted
            ("a", 100, 110, "xy", 110),
            ("a", 100, 110, "xyz", 105),  # inside the session: updated in place
        ]


def test_an_out_of_order_record_bridging_two_sessions_merges_them():
    with driver_for(sessions(10, 100)) as driver:
        pipe(driver, [("a", "x", 100), ("a", "y", 118), ("b", "q", 109), ("a", "z", 109)])
        out = windowed_out(driver, value_serde=serdes.STRING)
        assert rows(out.read_records_to_list()) == [
            ("a", 100, 100, "x", 100),
            ("a", 118, 118, "y", 118),
            ("b", 109, 109, "q", 109),
            ("a", 100, 100, None, 109),
            ("a", 118, 118, None, 109),
            ("a", 100, 118, "xyz", 109),  # merger("x", "y"), then aggregator(.., "z", "xy")
        ]
        store = driver.get_session_store("sessions")
        assert [(kv.key, kv.value) for kv in store.fetch("a")] == [
            (Windowed("a", Window(100, 118)), "xyz")
        ]
        assert store.fetch_session("a", 100, 100) is None
        assert store.fetch_session("a", 118, 118) is None


def test_session_count_merges_counts_with_tombstones_for_merged_sessions():
    with driver_for(sessions(5, 100, kind="count")) as driver:
        pipe(driver, [("a", "", 10), ("a", "", 12), ("a", "", 30), ("a", "", 20), ("a", "", 25)])
        out = windowed_out(driver)
        assert rows(out.read_records_to_list()) == [
            ("a", 10, 10, 1, 10),
            ("a", 10, 10, None, 12),
            ("a", 10, 12, 2, 12),
            ("a", 30, 30, 1, 30),
            ("a", 20, 20, 1, 20),  # 8 away from 12, 10 away from 30: a session of its own
            ("a", 20, 20, None, 25),
            ("a", 30, 30, None, 25),
            ("a", 20, 30, 3, 25),
        ]
        assert by_window(dict(driver.get_session_store("sessions").all())) == {
            ("a", 10, 12): 2,
            ("a", 20, 30): 3,
        }


def test_a_record_exactly_gap_after_a_session_joins_it():
    with driver_for(sessions(10, 100, kind="count")) as driver:
        pipe(driver, [("a", "", 100), ("a", "", 110), ("a", "", 121)])
        result = by_window(windowed_out(driver).read_key_values_to_map())
    assert result == {("a", 100, 110): 2, ("a", 121, 121): 1}


@pytest.mark.parametrize("caching", [False, True], ids=["no-cache", "cache"])
def test_latest_result_per_session_matches_a_brute_force_sessionization(caching):
    times = [50, 300, 61, 75, 140, 90, 205, 130, 195, 299, 110]
    gap = 20
    with driver_for(sessions(gap, 1_000, kind="count", caching=caching)) as driver:
        pipe(driver, [("k", "", t) for t in times])
        result = by_window(windowed_out(driver).read_key_values_to_map())
        stored = by_window(dict(driver.get_session_store("sessions").all()))
    expected = {}
    current: list[int] = []
    for t in sorted(times):
        if current and t - current[-1] > gap:
            expected[("k", current[0], current[-1])] = len(current)
            current = []
        current.append(t)
    expected[("k", current[0], current[-1])] = len(current)
    assert result == expected
    assert stored == expected


def test_session_aggregate_requires_a_merger():
    def define(b):
        b.stream("in").group_by_key().windowed_by(SessionWindows.with_gap(10)).aggregate(
            lambda: 0, lambda k, v, agg: agg + 1
        )

    with pytest.raises(TopologyError, match="merger"):
        build(define)


def test_a_late_session_record_is_dropped_and_counted():
    with driver_for(sessions(10, 0, kind="count")) as driver:
        # watermark 200: a record at 150 would start a session [150, 150], closed already
        pipe(driver, [("a", "", 100), ("a", "", 200), ("a", "", 150), ("a", "", 195)])
        result = by_window(windowed_out(driver).read_key_values_to_map())
        assert late_count(driver) == 1
    assert result == {("a", 100, 100): 1, ("a", 195, 200): 2}


@pytest.mark.parametrize("gap", [0, -1])
def test_gap_must_be_positive(gap):
    with pytest.raises(TopologyError, match="inactivity gap must be positive"):
        SessionWindows.with_gap(gap)
