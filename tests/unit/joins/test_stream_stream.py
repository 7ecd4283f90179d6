"""Windowed KStream.join / left_join / outer_join with a KStream through the driver.

A left record at ``t`` joins right records of its key with timestamps in
``[t - before, t + after]``; a result carries the later of the two timestamps. Left and
outer joins emit an unmatched record, ``joiner(v, None)`` (or ``joiner(None, v)``), only
once the task watermark (the minimum over both input topics) passes
``t + before + after + grace``.
"""

from __future__ import annotations

import pytest

from kstreamlite import serdes
from kstreamlite.timing import WatermarkStrategy
from kstreamlite.windows import JoinWindows
from tests.unit.helpers import build, driver_for

from .support import advance, late_count, pair, pipe, results, skipped_count

WIDE = JoinWindows.of(10, grace=1_000)  # nothing is late in the tests that use it


def stream_stream(mode="join", windows=WIDE, *, watermark=None, name=None, rekey_left=False):
    def define(b):
        left = b.stream("left", watermark=watermark)
        right = b.stream("right", watermark=watermark)
        if rekey_left:
            left = left.select_key(lambda k, v: k)  # same key, but marked as changed
        getattr(left, mode)(right, pair, windows, name=name).to("out")

    return define


# ---- inner join: which records meet ----


def test_records_meet_whichever_side_arrives_first_at_the_later_timestamp():
    with driver_for(stream_stream()) as driver:
        pipe(driver, "left", [("a", "La", 100)])
        pipe(driver, "right", [("a", "Ra", 105), ("b", "Rb", 200)])
        pipe(driver, "left", [("b", "Lb", 195)])
        assert results(driver) == [("a", ["La", "Ra"], 105), ("b", ["Lb", "Rb"], 200)]


@pytest.mark.parametrize("first", ["left", "right"])
@pytest.mark.parametrize(
    ("other_ts", "joins"),
    [(89, False), (90, True), (100, True), (110, True), (111, False)],
)
def test_the_window_bounds_are_inclusive_on_both_sides(first, other_ts, joins):
    second = "right" if first == "left" else "left"
    with driver_for(stream_stream()) as driver:
        pipe(driver, first, [("k", first, 100)])
        pipe(driver, second, [("k", second, other_ts)])
        expected = [("k", ["left", "right"], max(100, other_ts))] if joins else []
        assert results(driver) == expected


@pytest.mark.parametrize(
    ("windows", "joining"),
    [
        # [t - before, t + after] around a left record at 100
        (WIDE.before(0), {100, 101, 110}),  # [100, 110]
        (WIDE.after(0), {90, 99, 100}),  # [90, 100]
        (JoinWindows.of(0, grace=1_000).after(20), {100, 101, 110, 111, 120}),  # [100, 120]
    ],
    ids=["before-0", "after-0", "after-only"],
)
def test_before_and_after_bound_the_right_records_a_left_record_meets(windows, joining):
    rights = [89, 90, 99, 100, 101, 110, 111, 120, 121]
    with driver_for(stream_stream(windows=windows)) as driver:
        pipe(driver, "left", [("k", "L", 100)])
        pipe(driver, "right", [("k", ts, ts) for ts in rights])
        assert {value[1] for _, value, _ in results(driver)} == joining


def test_a_right_record_sees_the_windows_mirrored():
    # before(0).after(10): a left record at t meets rights in [t, t + 10], so a right
    # record at 100 meets lefts in [90, 100]
    with driver_for(stream_stream(windows=WIDE.before(0))) as driver:
        pipe(driver, "right", [("k", "R", 100)])
        pipe(driver, "left", [("k", ts, ts) for ts in [89, 90, 95, 100, 101, 110]])
        assert results(driver) == [
            ("k", [90, "R"], 100),
            ("k", [95, "R"], 100),
            ("k", [100, "R"], 100),
        ]


def test_a_zero_window_joins_equal_timestamps_only():
    with driver_for(stream_stream(windows=JoinWindows.of(0, grace=100))) as driver:
        pipe(driver, "left", [("k", "L", 50)])
        pipe(driver, "right", [("k", "R49", 49), ("k", "R50", 50), ("k", "R51", 51)])
        assert results(driver) == [("k", ["L", "R50"], 50)]


def test_only_records_of_the_same_key_meet():
    with driver_for(stream_stream()) as driver:
        pipe(driver, "left", [("a", "La", 100), ("b", "Lb", 100)])
        pipe(driver, "right", [("c", "Rc", 100), ("b", "Rb", 101)])
        assert results(driver) == [("b", ["Lb", "Rb"], 101)]


def test_every_pair_of_records_with_the_same_key_and_timestamp_is_joined():
    with driver_for(stream_stream(name="j")) as driver:
        pipe(driver, "left", [("k", "A", 100), ("k", "B", 100)])
        pipe(driver, "right", [("k", "X", 100)])
        assert results(driver) == [("k", ["A", "X"], 100), ("k", ["B", "X"], 100)]
        pipe(driver, "right", [("k", "Y", 105)])
        pipe(driver, "left", [("k", "C", 100)])
        assert results(driver) == [
            ("k", ["A", "Y"], 105),
            ("k", ["B", "Y"], 105),
            ("k", ["C", "X"], 100),
            ("k", ["C", "Y"], 105),
        ]
        # each side's window store keeps the values of a key at a time as one list
        assert list(driver.get_window_store("j-this-store").fetch("k", 0, 200)) == [
            (100, ["A", "B", "C"])
        ]
        assert list(driver.get_window_store("j-other-store").fetch("k", 0, 200)) == [
            (100, ["X"]),
            (105, ["Y"]),
        ]


# ---- out-of-order and late records ----


def test_an_out_of_order_record_within_the_grace_still_joins():
    with driver_for(stream_stream(windows=JoinWindows.of(10, grace=50))) as driver:
        pipe(driver, "left", [("a", "L200", 200)])
        pipe(driver, "right", [("a", "R200", 200)])
        pipe(driver, "left", [("a", "L150", 150)])  # 50 behind the watermark
        pipe(driver, "right", [("a", "R155", 155)])
        assert results(driver) == [
            ("a", ["L200", "R200"], 200),
            ("a", ["L150", "R155"], 155),
        ]
        assert late_count(driver) == 0


def test_late_records_are_dropped_and_counted_on_each_side_by_its_own_bound():
    # a left record is late when t + after + grace < watermark; a right record when
    # t + before + grace < watermark
    windows = JoinWindows.of(10, grace=5).before(20).after(0)
    with driver_for(stream_stream(windows=windows)) as driver:
        advance(driver, 200)
        pipe(driver, "left", [("l", "late", 194), ("l", "kept", 195)])
        pipe(driver, "right", [("r", "late", 174), ("r", "kept", 175)])
        assert late_count(driver) == 2
        # only the kept ones are there to meet later records
        pipe(driver, "right", [("l", "R", 195)])
        pipe(driver, "left", [("r", "L", 195)])
        assert results(driver) == [("l", ["kept", "R"], 195), ("r", ["L", "kept"], 195)]


def test_a_record_accepted_at_the_last_moment_still_finds_its_partner():
    windows = JoinWindows.of(10, grace=5)  # a left record at 100 is held until 125
    with driver_for(stream_stream("left_join", windows=windows)) as driver:
        pipe(driver, "left", [("a", "L", 100)])
        advance(driver, 125)
        pipe(driver, "right", [("a", "R", 110)])  # 110 + 10 + 5 == 125: not late
        advance(driver, 1_000)
        assert results(driver) == [("a", ["L", "R"], 110)]
        assert late_count(driver) == 0


# ---- left join: unmatched records wait for their window to close ----


def test_left_join_emits_an_unmatched_record_only_once_the_watermark_passes_its_window():
    windows = JoinWindows.of(10, grace=5)  # 100 + 10 + 10 + 5 = 125
    with driver_for(stream_stream("left_join", windows=windows)) as driver:
        pipe(driver, "left", [("a", "L", 100)])
        advance(driver, 125)
        assert results(driver) == []
        advance(driver, 126)
        assert results(driver) == [("a", ["L", None], 100)]
        advance(driver, 1_000)
        assert results(driver) == []  # emitted once


def test_left_join_a_match_before_the_window_closes_prevents_the_none_result():
    with driver_for(stream_stream("left_join", windows=JoinWindows.of(10, grace=5))) as driver:
        pipe(driver, "left", [("a", "L1", 100), ("b", "L2", 100)])
        advance(driver, 120)
        pipe(driver, "right", [("a", "R1", 110), ("a", "R2", 106)])  # not late: 106 + 15 >= 120
        pipe(driver, "right", [("b", "R3", 200)])  # b's window is [90, 110]
        advance(driver, 1_000)
        assert results(driver) == [
            ("a", ["L1", "R1"], 110),
            ("a", ["L1", "R2"], 106),
            ("b", ["L2", None], 100),
        ]


def test_left_join_never_emits_unmatched_right_records():
    with driver_for(stream_stream("left_join", windows=JoinWindows.of(10))) as driver:
        pipe(driver, "right", [("a", "R", 100)])
        advance(driver, 1_000)
        assert results(driver) == []


def test_left_join_late_records_are_not_emitted_as_unmatched():
    with driver_for(stream_stream("left_join", windows=JoinWindows.of(10))) as driver:
        advance(driver, 100)
        pipe(driver, "left", [("a", "late", 89)])  # 89 + 10 + 0 < 100
        advance(driver, 1_000)
        assert results(driver) == []
        assert late_count(driver) == 1


def test_left_join_unmatched_records_with_the_same_key_and_timestamp_all_come_out():
    with driver_for(stream_stream("left_join", windows=JoinWindows.of(10))) as driver:
        pipe(driver, "left", [("a", "A", 100), ("a", "B", 100), ("a", "A", 100)])
        advance(driver, 121)
        assert results(driver) == [
            ("a", ["A", None], 100),
            ("a", ["B", None], 100),
            ("a", ["A", None], 100),
        ]


def test_the_watermark_waits_for_the_other_topic():
    with driver_for(stream_stream("left_join", windows=JoinWindows.of(10))) as driver:
        pipe(driver, "left", [("a", "L", 100), ("z", "Lz", 1_000)])
        assert results(driver) == []  # the right topic has brought nothing: no watermark
        pipe(driver, "right", [("y", "Ry", 1_000)])
        assert results(driver) == [("a", ["L", None], 100)]


@pytest.mark.parametrize("idleness", [None, 100], ids=["no-idleness", "idleness-100"])
def test_an_idle_right_topic_lets_the_left_join_windows_close(idleness):
    strategy = WatermarkStrategy.monotonous()
    if idleness is not None:
        strategy = strategy.with_idleness(idleness)
    windows = JoinWindows.of(10, grace=5)
    with driver_for(stream_stream("left_join", windows=windows, watermark=strategy)) as driver:
        pipe(driver, "left", [("a", "L", 100)])
        driver.advance_wall_clock_time(99)
        assert results(driver) == []
        driver.advance_wall_clock_time(1)
        # idle: the watermark follows the wall clock from 100, to 200 > 125
        expected = [("a", ["L", None], 100)] if idleness else []
        assert results(driver) == expected


# ---- outer join ----


def test_outer_join_emits_unmatched_records_of_either_side_once_their_window_closes():
    windows = JoinWindows.of(10, grace=5)
    with driver_for(stream_stream("outer_join", windows=windows)) as driver:
        pipe(driver, "right", [("r", "R", 100)])
        pipe(driver, "left", [("l", "L", 101)])
        advance(driver, 125)
        assert results(driver) == []
        advance(driver, 126)
        assert results(driver) == [("r", [None, "R"], 100)]
        advance(driver, 127)
        assert results(driver) == [("l", ["L", None], 101)]


def test_outer_join_only_the_records_that_never_met_come_out_alone():
    windows = JoinWindows.of(10, grace=5)
    with driver_for(stream_stream("outer_join", windows=windows)) as driver:
        pipe(driver, "right", [("a", "X", 105)])
        pipe(driver, "left", [("a", "A", 100)])  # meets X
        pipe(driver, "right", [("a", "Y", 120)])  # outside A's window [90, 110]
        assert results(driver) == [("a", ["A", "X"], 105)]
        advance(driver, 1_000)
        assert results(driver) == [("a", [None, "Y"], 120)]


def test_unmatched_results_come_out_in_timestamp_order():
    windows = JoinWindows.of(10, grace=50)
    with driver_for(stream_stream("outer_join", windows=windows)) as driver:
        pipe(driver, "left", [("a", "La", 110)])
        pipe(driver, "right", [("b", "Rb", 100)])
        pipe(driver, "left", [("c", "Lc", 105)])  # out of order
        pipe(driver, "right", [("d", "Rd", 120), ("e", "Re", 101)])
        advance(driver, 1_000)  # all windows close at once
        assert results(driver) == [
            ("b", [None, "Rb"], 100),
            ("e", [None, "Re"], 101),
            ("c", ["Lc", None], 105),
            ("a", ["La", None], 110),
            ("d", [None, "Rd"], 120),
        ]


# ---- structure ----


def test_a_stream_stream_join_is_one_sub_topology_with_named_stores():
    topology = build(stream_stream("outer_join", name="j"))
    (sub,) = topology.subtopologies()
    assert sorted(sub.source_topics) == ["left", "right"]
    described = topology.describe()
    for store in ("j-this-store", "j-other-store", "j-this-pending-store", "j-other-pending-store"):
        assert store in described


def test_a_rekeyed_stream_is_repartitioned_before_a_stream_stream_join():
    topology = build(stream_stream("left_join", windows=JoinWindows.of(10), rekey_left=True))
    (suffix,) = topology.repartition_topics
    assert f"topics: [{suffix}]" in topology.describe()
    join_sub = [s for s in topology.subtopologies() if "right" in s.source_topics]
    assert sorted(join_sub[0].source_topics) == sorted(["right", suffix])
    with driver_for(stream_stream("left_join", windows=JoinWindows.of(10), rekey_left=True)) as d:
        pipe(d, "left", [("a", "L1", 100), ("b", "L2", 100)])
        pipe(d, "right", [("a", "R", 105)])
        assert results(d) == [("a", ["L1", "R"], 105)]
        advance(d, 1_000)
        assert results(d) == [("b", ["L2", None], 100)]


def test_late_records_reach_the_late_record_handler():
    late = []
    define = stream_stream(windows=JoinWindows.of(10, grace=5).before(20).after(0))
    with driver_for(define, late_record_handler=late.append) as driver:
        advance(driver, 200)
        pipe(driver, "left", [("l", "L", 194)])
        pipe(driver, "right", [("r", "R", 174)])
    assert [(r.key, r.value, r.timestamp, r.watermark) for r in late] == [
        ("l", "L", 194, 200),
        ("r", "R", 174, 200),
    ]


def test_null_keys_and_values_are_dropped_and_counted():
    with driver_for(stream_stream()) as driver:
        pipe(driver, "left", [(None, "L", 100), ("a", None, 100), ("a", "L", 100)])
        pipe(driver, "right", [("a", None, 100), ("a", "R", 100)])
        assert results(driver) == [("a", ["L", "R"], 100)]
        assert skipped_count(driver) == 3


def test_flush_to_end_emits_the_pending_unmatched_records():
    with driver_for(stream_stream("outer_join", windows=JoinWindows.of(10))) as driver:
        pipe(driver, "left", [("a", "L", 100)])
        pipe(driver, "right", [("b", "R", 100)])
        driver.flush_to_end()
        assert results(driver) == [("a", ["L", None], 100), ("b", [None, "R"], 100)]


def test_each_side_keeps_its_own_serdes_and_falsy_values_are_values():
    def define(b):
        left = b.stream("left", key_serde=serdes.INT, value_serde=serdes.STRING)
        right = b.stream("right", key_serde=serdes.INT, value_serde=serdes.LONG)
        left.outer_join(right, pair, JoinWindows.of(10)).to("out", key_serde=serdes.INT)

    with driver_for(define) as driver:
        left = driver.create_input_topic("left", key_serde=serdes.INT, value_serde=serdes.STRING)
        right = driver.create_input_topic("right", key_serde=serdes.INT, value_serde=serdes.LONG)
        left.pipe_input(1, "", timestamp=100)
        right.pipe_input(1, 0, timestamp=105)
        right.pipe_input(2, 0, timestamp=100)
        left.pipe_input(3, "x", timestamp=101)
        left.pipe_input(9, "t", timestamp=1_000)
        right.pipe_input(9, 7, timestamp=1_000)
        out = driver.create_output_topic("out", key_serde=serdes.INT)
        assert out.read_key_values_to_list() == [
            (1, ["", 0]),
            (9, ["t", 7]),
            (2, [None, 0]),
            (3, ["x", None]),
        ]
