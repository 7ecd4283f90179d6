"""KStream.join / left_join with a KTable through the TopologyTestDriver."""

from __future__ import annotations

import pytest

from kstreamlite import Materialized, serdes
from kstreamlite.windows import Suppressed, TimeWindows
from tests.unit.helpers import build, driver_for

from .support import pair, pipe, results, skipped_count


def stream_table(mode="join", *, caching=True, derive=None):
    def define(b):
        table = b.table("table", materialized=Materialized("rows", caching=caching))
        if derive is not None:
            table = derive(table)
        stream = b.stream("stream")
        getattr(stream, mode)(table, pair).to("out")

    return define


@pytest.mark.parametrize("caching", [False, True], ids=["no-cache", "cache"])
def test_inner_join_emits_only_records_whose_key_has_a_row(caching):
    with driver_for(stream_table(caching=caching)) as driver:
        pipe(driver, "stream", [("a", "s1", 10)])  # no row yet: dropped
        pipe(driver, "table", [("a", "A", 20), ("b", "B", 21)])
        pipe(driver, "stream", [("a", "s2", 30), ("c", "s3", 31), ("b", "s4", 32)])
        assert results(driver) == [("a", ["s2", "A"], 30), ("b", ["s4", "B"], 32)]


@pytest.mark.parametrize("caching", [False, True], ids=["no-cache", "cache"])
def test_left_join_emits_none_for_the_missing_row(caching):
    with driver_for(stream_table("left_join", caching=caching)) as driver:
        pipe(driver, "stream", [("a", "s1", 10)])
        pipe(driver, "table", [("a", "A", 20)])
        pipe(driver, "stream", [("a", "s2", 30), ("c", "s3", 31)])
        assert results(driver) == [
            ("a", ["s1", None], 10),
            ("a", ["s2", "A"], 30),
            ("c", ["s3", None], 31),
        ]


def test_table_updates_change_later_results_and_emit_nothing_themselves():
    with driver_for(stream_table()) as driver:
        pipe(driver, "table", [("a", "v1", 0)])
        pipe(driver, "stream", [("a", "s1", 5)])
        pipe(driver, "table", [("a", "v2", 6)])  # a table update alone triggers nothing
        assert results(driver) == [("a", ["s1", "v1"], 5)]
        pipe(driver, "stream", [("a", "s2", 7)])
        assert results(driver) == [("a", ["s2", "v2"], 7)]


@pytest.mark.parametrize("caching", [False, True], ids=["no-cache", "cache"])
@pytest.mark.parametrize(
    ("mode", "after_delete"), [("join", []), ("left_join", [("a", ["s2", None], 9)])]
)
def test_a_table_delete_removes_the_row(mode, after_delete, caching):
    with driver_for(stream_table(mode, caching=caching)) as driver:
        pipe(driver, "table", [("a", "A", 0)])
        pipe(driver, "stream", [("a", "s1", 5)])
        pipe(driver, "table", [("a", None, 8)])
        pipe(driver, "stream", [("a", "s2", 9)])
        assert results(driver) == [("a", ["s1", "A"], 5), *after_delete]
        assert driver.get_key_value_store("rows").get("a") is None


def test_results_keep_the_stream_records_key_and_timestamp_even_for_an_older_row():
    with driver_for(stream_table()) as driver:
        pipe(driver, "table", [("k", "row", 1_000)])
        pipe(driver, "stream", [("k", "early", 3)])  # older than the row: still joins
        [record] = driver.create_output_topic("out").read_records_to_list()
    assert (record.key, record.value, record.timestamp) == ("k", ["early", "row"], 3)


def test_several_stream_records_with_the_same_key_and_timestamp_each_join():
    with driver_for(stream_table()) as driver:
        pipe(driver, "table", [("a", "A", 0)])
        pipe(driver, "stream", [("a", "x", 5), ("a", "y", 5), ("a", "x", 5)])
        assert results(driver) == [
            ("a", ["x", "A"], 5),
            ("a", ["y", "A"], 5),
            ("a", ["x", "A"], 5),
        ]


def test_a_filtered_table_is_materialized_for_the_join():
    def keep_big(table):
        return table.filter(lambda k, v: v >= 10)

    with driver_for(stream_table(derive=keep_big)) as driver:
        pipe(driver, "table", [("a", 5, 0), ("b", 50, 0)])
        pipe(driver, "stream", [("a", "s1", 1), ("b", "s2", 2)])
        pipe(driver, "table", [("a", 15, 3), ("b", 7, 3)])  # a passes now, b stops passing
        pipe(driver, "stream", [("a", "s3", 4), ("b", "s4", 5)])
        assert results(driver) == [("b", ["s2", 50], 2), ("a", ["s3", 15], 4)]


def test_a_mapped_table_joins_with_its_mapped_values():
    def doubled(table):
        return table.map_values(lambda v: v * 2)

    with driver_for(stream_table("left_join", derive=doubled)) as driver:
        pipe(driver, "table", [("a", 4, 0)])
        pipe(driver, "stream", [("a", "s1", 1), ("z", "s2", 2)])
        pipe(driver, "table", [("a", None, 3)])
        pipe(driver, "stream", [("a", "s3", 4)])
        assert results(driver) == [
            ("a", ["s1", 8], 1),
            ("z", ["s2", None], 2),
            ("a", ["s3", None], 4),
        ]


def test_a_stream_rekeyed_before_the_join_is_repartitioned_and_joins_by_its_new_key():
    def define(b):
        table = b.table("table")
        b.stream("stream").select_key(lambda k, v: v["user"]).join(table, pair).to("out")

    topology = build(define)
    assert len(topology.repartition_topics) == 1
    (suffix,) = topology.repartition_topics
    assert suffix.endswith("-repartition")
    with driver_for(define) as driver:
        pipe(driver, "table", [("u1", "Ann", 0)])
        pipe(driver, "stream", [("order-1", {"user": "u1"}, 5), ("order-2", {"user": "u2"}, 6)])
        assert results(driver) == [("u1", [{"user": "u1"}, "Ann"], 5)]
        assert f"t-{suffix}" in driver.produced_topic_names()


def test_null_key_and_null_value_stream_records_are_dropped_and_counted():
    with driver_for(stream_table()) as driver:
        pipe(driver, "table", [("a", "A", 0)])
        pipe(driver, "stream", [(None, "s1", 1), ("a", None, 2), ("a", "s3", 3)])
        assert results(driver) == [("a", ["s3", "A"], 3)]
        assert skipped_count(driver) == 2


def test_a_stream_table_join_is_one_sub_topology_reading_both_topics():
    topology = build(stream_table())
    (sub,) = topology.subtopologies()
    assert sorted(sub.source_topics) == ["stream", "table"]
    assert not topology.repartition_topics


def test_left_join_emits_a_null_key_record_with_no_row_as_kafka_streams_does():
    # Kafka Streams 3.7 (KIP-962): a left join no longer drops a null-key stream record
    with driver_for(stream_table("left_join")) as driver:
        pipe(driver, "stream", [(None, "s1", 1)])
        assert results(driver) == [(None, ["s1", None], 1)]


def test_the_table_topic_does_not_hold_back_windows_after_the_join():
    def define(b):
        table = b.table("table")
        (
            b.stream("stream")
            .join(table, pair)
            .group_by_key()
            .windowed_by(TimeWindows.of(10))
            .count(materialized=Materialized("counts", caching=False))
            .suppress(Suppressed.until_window_closes())
            .to_stream()
            .to("out")
        )

    with driver_for(define) as driver:
        pipe(driver, "table", [("a", "A", 0)])  # the table's time stays at 0
        pipe(driver, "stream", [("a", "s1", 3), ("a", "s2", 7)])
        out = driver.create_output_topic(
            "out", key_serde=serdes.windowed(serdes.STRING), value_serde=serdes.LONG
        )
        assert out.is_empty()
        pipe(driver, "stream", [("a", "s3", 10)])  # the stream alone closes [0, 10)
        [record] = out.read_records_to_list()
    assert (record.key.key, record.key.window.start, record.value) == ("a", 0, 2)
