"""KTable.join / left_join / outer_join with a KTable through the TopologyTestDriver.

The result is a table: its stream carries the new joined value, or None (a delete) when
the key leaves the join's result.
"""

from __future__ import annotations

import pytest

from kstreamlite import Materialized
from tests.unit.helpers import build, driver_for

from .support import pair, pipe, results

CACHING = pytest.mark.parametrize("caching", [False, True], ids=["no-cache", "cache"])


def table_table(mode, *, caching=True, derive_left=None):
    def define(b):
        left = b.table("left", materialized=Materialized("left-rows", caching=caching))
        right = b.table("right", materialized=Materialized("right-rows", caching=caching))
        if derive_left is not None:
            left = derive_left(left)
        getattr(left, mode)(right, pair).to_stream().to("out")

    return define


def values(rows):
    return [(key, value) for key, value, _ in rows]


@CACHING
def test_inner_join_emits_when_both_sides_have_the_key_and_on_every_later_update(caching):
    with driver_for(table_table("join", caching=caching)) as driver:
        pipe(driver, "left", [("a", "L1", 1)])
        pipe(driver, "right", [("b", "R0", 2)])
        assert results(driver) == []
        pipe(driver, "right", [("a", "R1", 3)])
        pipe(driver, "left", [("a", "L2", 4)])
        pipe(driver, "right", [("a", "R2", 5)])
        assert values(results(driver)) == [
            ("a", ["L1", "R1"]),
            ("a", ["L2", "R1"]),
            ("a", ["L2", "R2"]),
        ]


@CACHING
@pytest.mark.parametrize("deleted", ["left", "right"])
def test_inner_join_emits_a_delete_when_either_side_is_deleted(deleted, caching):
    with driver_for(table_table("join", caching=caching)) as driver:
        pipe(driver, "left", [("a", "L", 1)])
        pipe(driver, "right", [("a", "R", 2)])
        pipe(driver, deleted, [("a", None, 3)])
        pipe(driver, deleted, [("a", None, 4)])  # already out of the result: nothing more
        assert values(results(driver)) == [("a", ["L", "R"]), ("a", None)]


def test_inner_join_deleting_an_unjoined_row_emits_nothing():
    with driver_for(table_table("join")) as driver:
        pipe(driver, "left", [("a", "L", 1), ("a", None, 2)])
        pipe(driver, "right", [("b", "R", 3), ("b", None, 4)])
        assert results(driver) == []


@CACHING
def test_left_join_follows_the_left_rows_with_none_for_a_missing_right(caching):
    with driver_for(table_table("left_join", caching=caching)) as driver:
        pipe(driver, "right", [("a", "R0", 1)])  # right alone: not in a left join's result
        assert results(driver) == []
        pipe(driver, "left", [("b", "Lb", 2)])
        pipe(driver, "left", [("a", "L1", 3)])
        pipe(driver, "right", [("a", "R1", 4)])
        pipe(driver, "right", [("a", None, 5)])
        pipe(driver, "left", [("a", None, 6)])
        pipe(driver, "right", [("a", "R2", 7)])  # the left row is gone: nothing
        assert values(results(driver)) == [
            ("b", ["Lb", None]),
            ("a", ["L1", "R0"]),
            ("a", ["L1", "R1"]),
            ("a", ["L1", None]),
            ("a", None),
        ]


@CACHING
def test_outer_join_keeps_a_key_while_either_side_has_it(caching):
    with driver_for(table_table("outer_join", caching=caching)) as driver:
        pipe(driver, "right", [("a", "R1", 1)])
        pipe(driver, "left", [("a", "L1", 2)])
        pipe(driver, "right", [("a", None, 3)])
        pipe(driver, "right", [("a", "R2", 4)])
        pipe(driver, "left", [("a", None, 5)])
        pipe(driver, "right", [("a", None, 6)])  # both gone now
        assert values(results(driver)) == [
            ("a", [None, "R1"]),
            ("a", ["L1", "R1"]),
            ("a", ["L1", None]),
            ("a", ["L1", "R2"]),
            ("a", [None, "R2"]),
            ("a", None),
        ]


def test_outer_join_a_key_on_one_side_only_comes_and_goes():
    with driver_for(table_table("outer_join")) as driver:
        pipe(driver, "left", [("l", "L", 1), ("l", None, 2)])
        pipe(driver, "right", [("r", "R", 3), ("r", None, 4)])
        assert values(results(driver)) == [
            ("l", ["L", None]),
            ("l", None),
            ("r", [None, "R"]),
            ("r", None),
        ]


def test_each_result_carries_the_timestamp_of_the_update_that_caused_it():
    with driver_for(table_table("outer_join")) as driver:
        pipe(driver, "left", [("a", "L", 10)])
        pipe(driver, "right", [("a", "R", 20)])
        pipe(driver, "left", [("a", None, 30)])
        assert results(driver) == [
            ("a", ["L", None], 10),
            ("a", ["L", "R"], 20),
            ("a", [None, "R"], 30),
        ]


@pytest.mark.xfail(
    strict=True,
    reason=(
        "BUG: a table-table join result's timestamp is the triggering update's, not "
        "max(left row ts, right row ts) as in Kafka Streams (processor/_join.py "
        "TableTableJoin.process forwards `timestamp` unchanged)"
    ),
)
def test_a_result_from_an_older_update_carries_the_newer_rows_timestamp():
    with driver_for(table_table("join")) as driver:
        pipe(driver, "right", [("a", "R", 100)])
        pipe(driver, "left", [("a", "L", 40)])  # out of order: older than the right row
        assert results(driver) == [("a", ["L", "R"], 100)]


def test_a_filtered_table_is_materialized_for_the_join():
    def only_vip(table):
        return table.filter(lambda k, v: v.startswith("vip"))

    with driver_for(table_table("join", derive_left=only_vip)) as driver:
        pipe(driver, "right", [("a", "R", 1), ("b", "R", 1)])
        pipe(driver, "left", [("a", "vip-a", 2), ("b", "plain-b", 2)])
        pipe(driver, "left", [("a", "plain-a", 3)])  # a leaves the filtered table
        pipe(driver, "right", [("a", "R2", 4)])  # a no longer joins
        assert values(results(driver)) == [("a", ["vip-a", "R"]), ("a", None)]


def test_the_old_joined_value_reaches_a_downstream_aggregation():
    """Regrouping the joined table relies on Change(new, old): moving a row subtracts it
    from its old group."""

    def define(b):
        users = b.table("left", materialized=Materialized("users", caching=False))
        regions = b.table("right", materialized=Materialized("regions", caching=False))
        joined = users.left_join(regions, pair)
        (
            joined.group_by(lambda k, v: (v[1] or "none", v))
            .count(materialized=Materialized("per-region", caching=False))
            .to_stream()
            .to("out")
        )

    with driver_for(define) as driver:
        pipe(driver, "left", [("u1", "Ann", 1), ("u2", "Bob", 2)])
        pipe(driver, "right", [("u1", "eu", 3)])
        pipe(driver, "right", [("u1", "us", 4)])
        pipe(driver, "left", [("u2", None, 5)])
        counts = driver.get_key_value_store("per-region")
        assert {kv.key: kv.value for kv in counts.all()} == {"none": 0, "eu": 0, "us": 1}


def test_a_table_table_join_is_one_sub_topology_reading_both_topics():
    topology = build(table_table("outer_join"))
    (sub,) = topology.subtopologies()
    assert sorted(sub.source_topics) == ["left", "right"]
