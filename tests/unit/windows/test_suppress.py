"""KTable.suppress: until_window_closes (final results) and until_time_limit."""

from __future__ import annotations

import pytest

from kstreamlite import Materialized, serdes
from kstreamlite.errors import TopologyError
from kstreamlite.windows import SessionWindows, Suppressed, TimeWindows
from tests.unit.helpers import build, driver_for

from .support import late_count, pipe, rows, windowed_out


def suppressed_count(windows, suppressed, *, caching):
    def define(b):
        (
            b.stream("in")
            .group_by_key()
            .windowed_by(windows)
            .count(materialized=Materialized("counts", caching=caching))
            .suppress(suppressed)
            .to_stream()
            .to("out")
        )

    return define


CACHING = pytest.mark.parametrize("caching", [False, True], ids=["no-cache", "cache"])


# ---- until_window_closes ----


@CACHING
def test_until_window_closes_emits_exactly_one_final_result_per_window(caching):
    records = [
        ("a", 1, 0),
        ("b", 1, 2),
        ("a", 1, 5),
        ("a", 1, 9),
        ("a", 1, 10),  # watermark 10: [0, 10) is past its end, still in grace (closes at 15)
        ("b", 1, 12),
        ("a", 1, 8),  # late update within grace
        ("b", 1, 14),
        ("a", 1, 15),  # watermark 15: [0, 10) closes
        ("a", 1, 3),  # too late: dropped
        ("a", 1, 24),
        ("b", 1, 26),  # watermark 26: [10, 20) closes at 25
    ]
    with driver_for(
        suppressed_count(
            TimeWindows.of(10, grace=5), Suppressed.until_window_closes(), caching=caching
        )
    ) as driver:
        inp = driver.create_input_topic("in")
        out = windowed_out(driver)
        emitted = []
        for key, value, ts in records:
            inp.pipe_input(key, value, timestamp=ts)
            emitted.append(rows(out.read_records_to_list()))
        assert late_count(driver) == 1
    assert emitted == [
        [],
        [],
        [],
        [],
        [],
        [],
        [],
        [],
        [("a", 0, 10, 4, 8), ("b", 0, 10, 1, 2)],
        [],
        [],
        [("a", 10, 20, 2, 15), ("b", 10, 20, 2, 14)],
    ]


@CACHING
def test_session_windows_suppressed_until_close_emit_the_final_session(caching):
    with driver_for(
        suppressed_count(
            SessionWindows.with_gap(10, grace=5), Suppressed.until_window_closes(), caching=caching
        )
    ) as driver:
        pipe(driver, [("a", 1, 100), ("a", 1, 100), ("b", 1, 105)])
        out = windowed_out(driver)
        assert out.is_empty()  # session [100, 100] ends inclusive: closes past 100 + 5
        pipe(driver, [("c", 1, 106)])
        assert rows(out.read_records_to_list()) == [("a", 100, 100, 2, 100)]
        pipe(driver, [("c", 1, 121)])
        assert rows(out.read_records_to_list()) == [
            ("b", 105, 105, 1, 105),
            ("c", 106, 106, 1, 106),
        ]


SESSION_TOMBSTONE_BUG = (
    "Suppress (processor/_window.py, Suppress.process/_emit) buffers and emits the tombstone "
    "(Change(None, old)) that SessionWindowAggregate sends for a session merged away, so "
    "until_window_closes() emits None 'final results' for windows that never had one; Kafka "
    "Streams' final-results suppression drops tombstones (safeToDropTombstones)"
)


def test_sessions_merged_away_produce_no_final_result():
    with driver_for(
        suppressed_count(
            SessionWindows.with_gap(10, grace=20), Suppressed.until_window_closes(), caching=False
        )
    ) as driver:
        pipe(driver, [("a", 1, 100), ("a", 1, 118), ("a", 1, 109), ("a", 1, 200)])
        assert rows(windowed_out(driver).read_records_to_list()) == [("a", 100, 118, 3, 109)]


def test_a_window_that_has_not_closed_emits_nothing():
    with driver_for(
        suppressed_count(TimeWindows.of(100), Suppressed.until_window_closes(), caching=False)
    ) as driver:
        pipe(driver, [("a", 1, 0), ("a", 1, 50), ("a", 1, 99)])
        assert windowed_out(driver).is_empty()


def test_until_window_closes_on_a_non_windowed_table_is_rejected():
    def define(b):
        b.table("t").suppress(Suppressed.until_window_closes())

    with pytest.raises(TopologyError, match="needs a windowed table"):
        build(define)


def test_suppress_buffer_is_changelogged():
    with driver_for(
        suppressed_count(
            TimeWindows.of(10), Suppressed.until_window_closes(name="final"), caching=False
        )
    ) as driver:
        pipe(driver, [("a", 1, 1), ("a", 1, 10)])
        assert "t-final-store-changelog" in driver.produced_topic_names()
        assert rows(windowed_out(driver).read_records_to_list()) == [("a", 0, 10, 1, 1)]


def test_flush_to_end_closes_every_window():
    with driver_for(
        suppressed_count(TimeWindows.of(100), Suppressed.until_window_closes(), caching=False)
    ) as driver:
        pipe(driver, [("a", 1, 0), ("a", 1, 50)])
        driver.flush_to_end()
        assert rows(windowed_out(driver).read_records_to_list()) == [("a", 0, 100, 2, 50)]


# ---- until_time_limit ----

TIME_LIMIT_BUG = (
    "Suppress.process (processor/_window.py) computes an until_time_limit entry's due time as "
    "buffer.first_time(key) + limit, but SuppressBuffer.first_time returns the entry's due "
    "time (already first update + limit), so every further update of a buffered key pushes its "
    "release another `limit` later: a key updated more often than the limit is never emitted, "
    "and max_records evicts the wrong (not the oldest) key"
)


def test_until_time_limit_emits_each_key_once_the_limit_has_passed_since_its_update():
    with driver_for(
        suppressed_count(TimeWindows.of(1_000), Suppressed.until_time_limit(10), caching=False)
    ) as driver:
        inp = driver.create_input_topic("in")
        out = windowed_out(driver)
        steps = []
        for key, ts in [("a", 0), ("b", 4), ("c", 9), ("c", 10), ("x", 13), ("x", 14)]:
            inp.pipe_input(key, 1, timestamp=ts)
            steps.append(rows(out.read_records_to_list()))
    assert steps == [
        [],
        [],
        [],
        [("a", 0, 1_000, 1, 0)],  # watermark 10: a's update (at 0) is 10 old
        [],
        [("b", 0, 1_000, 1, 4)],
    ]


def test_until_time_limit_counts_from_the_first_buffered_update_of_a_key():
    with driver_for(
        suppressed_count(TimeWindows.of(1_000), Suppressed.until_time_limit(10), caching=False)
    ) as driver:
        inp = driver.create_input_topic("in")
        out = windowed_out(driver)
        steps = []
        records = [
            ("a", 0),
            ("a", 3),
            ("b", 4),
            ("a", 9),
            ("a", 10),
            ("b", 14),
            ("a", 30),
            ("b", 40),
        ]
        for key, ts in records:
            inp.pipe_input(key, 1, timestamp=ts)
            steps.append(rows(out.read_records_to_list()))
    assert steps == [
        [],
        [],
        [],
        [],
        [("a", 0, 1_000, 4, 10)],  # first buffered at 0: released at watermark 10, latest value
        [("b", 0, 1_000, 2, 14)],
        [],  # a@30 is buffered anew: due at 40
        [("a", 0, 1_000, 5, 30)],
    ]


def test_until_time_limit_max_records_evicts_the_oldest_key_early():
    suppressed = Suppressed.until_time_limit(1_000, max_records=2)
    with driver_for(suppressed_count(TimeWindows.of(1_000), suppressed, caching=False)) as driver:
        inp = driver.create_input_topic("in")
        out = windowed_out(driver)
        steps = []
        for key, ts in [("a", 0), ("b", 1), ("a", 2), ("c", 3), ("d", 4)]:
            inp.pipe_input(key, 1, timestamp=ts)
            steps.append(rows(out.read_records_to_list()))
    assert steps == [
        [],
        [],
        [],
        [("a", 0, 1_000, 2, 2)],  # three keys buffered: the oldest (a, since 0) leaves
        [("b", 0, 1_000, 1, 1)],
    ]


def test_until_time_limit_max_records_with_single_updates():
    suppressed = Suppressed.until_time_limit(1_000, max_records=2)
    with driver_for(suppressed_count(TimeWindows.of(1_000), suppressed, caching=False)) as driver:
        pipe(driver, [("a", 1, 0), ("b", 1, 1), ("c", 1, 2), ("d", 1, 3)])
        assert rows(windowed_out(driver).read_records_to_list()) == [
            ("a", 0, 1_000, 1, 0),
            ("b", 0, 1_000, 1, 1),
        ]


def test_until_time_limit_with_caching_emits_the_latest_value():
    with driver_for(
        suppressed_count(TimeWindows.of(1_000), Suppressed.until_time_limit(10), caching=True)
    ) as driver:
        pipe(driver, [("a", 1, 0), ("a", 1, 10)])
        assert rows(windowed_out(driver).read_records_to_list()) == [("a", 0, 1_000, 2, 10)]


def test_until_time_limit_zero_passes_every_update_through():
    with driver_for(
        suppressed_count(TimeWindows.of(1_000), Suppressed.until_time_limit(0), caching=False)
    ) as driver:
        pipe(driver, [("a", 1, 0), ("b", 1, 5)])
        assert rows(windowed_out(driver).read_records_to_list()) == [
            ("a", 0, 1_000, 1, 0),
            ("b", 0, 1_000, 1, 5),
        ]


def test_until_time_limit_works_on_a_plain_table():
    def define(b):
        b.table("in", materialized=Materialized("t", caching=False)).suppress(
            Suppressed.until_time_limit(5)
        ).to_stream().to("out")

    with driver_for(define) as driver:
        pipe(driver, [("a", 1, 0), ("b", 2, 3), ("c", 3, 5)])
        out = driver.create_output_topic("out", value_serde=serdes.JSON)
        assert out.read_key_values_to_list() == [("a", 1)]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Suppressed.until_time_limit(-1), "must not be negative"),
        (lambda: Suppressed.until_time_limit(10, max_records=0), "max_records must be at least 1"),
    ],
)
def test_invalid_time_limits_are_rejected(make, message):
    with pytest.raises(TopologyError, match=message):
        make()
