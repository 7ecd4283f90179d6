"""Grouped-stream aggregations (count, reduce, aggregate) through the TopologyTestDriver."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from kstreamlite import KeyValue, Materialized, serdes
from kstreamlite.errors import ProcessingError
from kstreamlite.serdes import Serde
from tests.unit.helpers import APP_ID, build, driver_for

SKIPPED = "kstreamlite_skipped_records_total"

LINES = [
    ("l1", "hello world"),
    ("l2", "hello kafka"),
    ("l3", "world streams"),
    ("l4", "kafka kafka"),
]


def word_count(*, materialized="counts", group_name=None):
    def define(b):
        (
            b.stream("in")
            .flat_map_values(lambda line: line.split())
            .group_by(lambda _key, word: word, name=group_name)
            .count(materialized=materialized)
            .to_stream()
            .to("out")
        )

    return define


# ---- word count ----


def test_word_count_emits_one_updated_count_per_word_per_input_line():
    with driver_for(word_count()) as driver:
        driver.create_input_topic("in").pipe_key_value_list(LINES)
        out = driver.create_output_topic("out", value_serde=serdes.LONG)
        assert out.read_key_values_to_list() == [
            ("hello", 1),
            ("world", 1),
            ("hello", 2),
            ("kafka", 1),
            ("world", 2),
            ("streams", 1),
            ("kafka", 3),  # "kafka kafka": two updates in one commit, one output
        ]


def test_word_count_store_holds_the_final_counts_in_key_order():
    with driver_for(word_count()) as driver:
        driver.create_input_topic("in").pipe_key_value_list(LINES)
        store = driver.get_key_value_store("counts")
        assert list(store.all()) == [
            KeyValue("hello", 2),
            KeyValue("kafka", 3),
            KeyValue("streams", 1),
            KeyValue("world", 2),
        ]
        assert store.get("kafka") == 3
        assert store.get("absent") is None


def test_word_count_repartitions_by_word_through_application_store_repartition():
    with driver_for(word_count()) as driver:
        driver.create_input_topic("in").pipe_input("line", "b a")
        assert driver.produced_topic_names() == {
            "out",
            f"{APP_ID}-counts-repartition",
            f"{APP_ID}-counts-changelog",
        }
        repartitioned = driver.create_output_topic(f"{APP_ID}-counts-repartition")
        assert repartitioned.read_key_values_to_list() == [("b", "b"), ("a", "a")]


def test_group_by_name_names_the_repartition_topic_instead_of_the_store():
    with driver_for(word_count(group_name="words")) as driver:
        driver.create_input_topic("in").pipe_input("line", "a")
        assert driver.produced_topic_names() == {
            "out",
            f"{APP_ID}-words-repartition",
            f"{APP_ID}-counts-changelog",
        }


def test_an_unnamed_aggregation_names_store_and_internal_topics_after_the_store_node():
    topology = build(word_count(materialized=None))
    assert "KSTREAM-AGGREGATE-STATE-STORE-0000000004" in topology.store_builders
    with driver_for(word_count(materialized=None)) as driver:
        driver.create_input_topic("in").pipe_input("line", "a")
        assert driver.produced_topic_names() == {
            "out",
            f"{APP_ID}-KSTREAM-AGGREGATE-STATE-STORE-0000000004-repartition",
            f"{APP_ID}-KSTREAM-AGGREGATE-STATE-STORE-0000000004-changelog",
        }
        store = driver.get_key_value_store("KSTREAM-AGGREGATE-STATE-STORE-0000000004")
        assert store.get("a") == 1


def test_the_changelog_carries_one_record_per_key_per_commit_with_the_latest_count():
    with driver_for(word_count()) as driver:
        driver.create_input_topic("in").pipe_key_value_list(LINES)
        changelog = driver.create_output_topic(
            f"{APP_ID}-counts-changelog", value_serde=serdes.LONG
        )
        assert changelog.read_key_values_to_list() == [
            ("hello", 1),
            ("world", 1),
            ("hello", 2),
            ("kafka", 1),
            ("world", 2),
            ("streams", 1),
            ("kafka", 3),
        ]


def test_group_by_key_without_a_key_change_creates_no_repartition_topic():
    def define(b):
        b.stream("in").group_by_key().count(materialized="c").to_stream().to("out")

    with driver_for(define) as driver:
        driver.create_input_topic("in").pipe_key_value_list([("a", 1), ("b", 1), ("a", 1)])
        assert driver.produced_topic_names() == {"out", f"{APP_ID}-c-changelog"}
        out = driver.create_output_topic("out", value_serde=serdes.LONG)
        assert out.read_key_values_to_list() == [("a", 1), ("b", 1), ("a", 2)]
        assert len(build(define).subtopologies()) == 1


@pytest.mark.parametrize(
    "rekey",
    [
        lambda s: s.map(lambda k, v: (v, k)),
        lambda s: s.select_key(lambda k, v: v),
        lambda s: s.flat_map(lambda k, v: [(v, k)]),
    ],
    ids=["map", "select_key", "flat_map"],
)
def test_group_by_key_after_a_key_change_repartitions_automatically(rekey):
    def define(b):
        rekey(b.stream("in")).group_by_key().count(materialized="c").to_stream().to("out")

    with driver_for(define) as driver:
        driver.create_input_topic("in").pipe_key_value_list([("k1", "x"), ("k2", "y"), ("k3", "x")])
        assert f"{APP_ID}-c-repartition" in driver.produced_topic_names()
        out = driver.create_output_topic("out", value_serde=serdes.LONG)
        assert out.read_key_values_to_list() == [("x", 1), ("y", 1), ("x", 2)]
        assert len(build(define).subtopologies()) == 2


def test_materialized_without_logging_writes_no_changelog_topic():
    def define(b):
        (
            b.stream("in")
            .group_by_key()
            .count(materialized=Materialized(name="c", logging=False))
            .to_stream()
            .to("out")
        )

    with driver_for(define) as driver:
        driver.create_input_topic("in").pipe_input("a", 1)
        assert driver.produced_topic_names() == {"out"}
        assert driver.get_key_value_store("c").get("a") == 1


@pytest.mark.parametrize("persistent", [True, False], ids=["rocksdb", "in-memory"])
def test_an_aggregation_counts_the_same_on_persistent_and_in_memory_stores(persistent):
    def define(b):
        (
            b.stream("in")
            .group_by_key()
            .count(materialized=Materialized(name="c", persistent=persistent))
            .to_stream()
            .to("out")
        )

    with driver_for(define) as driver:
        driver.create_input_topic("in").pipe_key_value_list([("a", 1), ("a", 1), ("b", 1)])
        out = driver.create_output_topic("out", value_serde=serdes.LONG)
        assert out.read_key_values_to_map() == {"a": 2, "b": 1}


# ---- value serdes ----


def test_count_values_are_eight_byte_big_endian_longs_by_default():
    def define(b):
        b.stream("in").group_by_key().count(materialized="c").to_stream().to("out")

    with driver_for(define) as driver:
        driver.create_input_topic("in").pipe_key_value_list([("a", "x")] * 3)
        raw = driver.create_output_topic("out", value_serde=serdes.BYTES)
        assert raw.read_values_to_list() == [(n).to_bytes(8, "big") for n in (1, 2, 3)]
        changelog = driver.create_output_topic(f"{APP_ID}-c-changelog", value_serde=serdes.LONG)
        assert changelog.read_values_to_list() == [1, 2, 3]


def test_count_with_a_materialized_value_serde_uses_it():
    def define(b):
        (
            b.stream("in")
            .group_by_key()
            .count(materialized=Materialized(name="c", value_serde=serdes.INT))
            .to_stream()
            .to("out")
        )

    with driver_for(define) as driver:
        driver.create_input_topic("in").pipe_key_value_list([("a", "x")] * 2)
        raw = driver.create_output_topic("out", value_serde=serdes.BYTES)
        assert raw.read_values_to_list() == [b"\x00\x00\x00\x01", b"\x00\x00\x00\x02"]


def test_reduce_combines_values_per_key_starting_from_the_first_value():
    def define(b):
        (
            b.stream("in", value_serde=serdes.LONG)
            .group_by_key()
            .reduce(lambda total, v: total + v, materialized="sums")
            .to_stream()
            .to("out")
        )

    with driver_for(define) as driver:
        driver.create_input_topic("in", value_serde=serdes.LONG).pipe_key_value_list(
            [("a", 5), ("b", 1), ("a", 7), ("a", -2)]
        )
        out = driver.create_output_topic("out", value_serde=serdes.LONG)
        assert out.read_key_values_to_list() == [("a", 5), ("b", 1), ("a", 12), ("a", 10)]
        assert driver.get_key_value_store("sums").get("a") == 10


def test_reduce_after_group_by_keeps_the_largest_value_per_new_key():
    def define(b):
        (
            b.stream("in")
            .group_by(lambda k, v: v["city"])
            .reduce(lambda best, v: v if v["t"] > best["t"] else best, materialized="hottest")
            .to_stream()
            .to("out")
        )

    with driver_for(define) as driver:
        driver.create_input_topic("in").pipe_key_value_list(
            [
                ("s1", {"city": "oslo", "t": 3}),
                ("s2", {"city": "rome", "t": 20}),
                ("s3", {"city": "oslo", "t": 1}),
                ("s4", {"city": "oslo", "t": 9}),
            ]
        )
        out = driver.create_output_topic("out")
        assert out.read_key_values_to_list() == [
            ("oslo", {"city": "oslo", "t": 3}),
            ("rome", {"city": "rome", "t": 20}),
            ("oslo", {"city": "oslo", "t": 3}),
            ("oslo", {"city": "oslo", "t": 9}),
        ]
        assert f"{APP_ID}-hottest-repartition" in driver.produced_topic_names()


class Stats(BaseModel):
    count: int
    total: int


def test_aggregate_with_a_pydantic_value_serde_stores_and_emits_models():
    stats = serdes.json(Stats)

    def define(b):
        (
            b.stream("in", value_serde=serdes.INT)
            .group_by_key()
            .aggregate(
                lambda: Stats(count=0, total=0),
                lambda k, v, agg: Stats(count=agg.count + 1, total=agg.total + v),
                materialized=Materialized(name="stats", value_serde=stats),
            )
            .to_stream()
            .to("out")
        )

    with driver_for(define) as driver:
        driver.create_input_topic("in", value_serde=serdes.INT).pipe_key_value_list(
            [("a", 5), ("b", 2), ("a", 10)]
        )
        out = driver.create_output_topic("out", value_serde=stats)
        assert out.read_key_values_to_list() == [
            ("a", Stats(count=1, total=5)),
            ("b", Stats(count=1, total=2)),
            ("a", Stats(count=2, total=15)),
        ]
        assert driver.get_key_value_store("stats").get("a") == Stats(count=2, total=15)
        changelog = driver.create_output_topic(
            f"{APP_ID}-stats-changelog", value_serde=serdes.BYTES
        )
        assert changelog.read_values_to_list()[-1] == b'{"count":2,"total":15}'


def test_aggregate_with_hand_built_key_and_value_serdes_uses_them_on_every_topic():
    # keys: upper-case on the wire; values: (min, max) as "min,max"
    key_serde = Serde(lambda s: s.upper().encode(), lambda b: b.decode().lower(), name="upper")
    range_serde = Serde(
        lambda t: f"{t[0]},{t[1]}".encode(),
        lambda b: tuple(int(x) for x in b.decode().split(",")),
        name="minmax",
    )

    def define(b):
        (
            b.stream("in", value_serde=serdes.INT)
            .group_by(lambda k, v: k.split("-")[0], key_serde=key_serde)
            .aggregate(
                lambda: None,
                lambda k, v, agg: (v, v) if agg is None else (min(agg[0], v), max(agg[1], v)),
                materialized=Materialized(name="minmax", value_serde=range_serde),
            )
            .to_stream()
            .to("out")
        )

    with driver_for(define) as driver:
        driver.create_input_topic("in", value_serde=serdes.INT).pipe_key_value_list(
            [("x-1", 4), ("x-2", 9), ("y-1", 3), ("x-3", 1)]
        )
        raw = driver.create_output_topic("out", key_serde=serdes.BYTES, value_serde=serdes.BYTES)
        assert raw.read_key_values_to_list() == [
            (b"X", b"4,4"),
            (b"X", b"4,9"),
            (b"Y", b"3,3"),
            (b"X", b"1,9"),
        ]
        repartitioned = driver.create_output_topic(
            f"{APP_ID}-minmax-repartition", key_serde=serdes.BYTES, value_serde=serdes.INT
        )
        assert repartitioned.read_key_values_to_list() == [
            (b"X", 4),
            (b"X", 9),
            (b"Y", 3),
            (b"X", 1),
        ]
        assert driver.get_key_value_store("minmax").get("x") == (1, 9)


def test_aggregate_without_a_value_serde_uses_the_default_json_serde():
    def define(b):
        (
            b.stream("in")
            .group_by_key()
            .aggregate(lambda: [], lambda k, v, agg: [*agg, v], materialized="lists")
            .to_stream()
            .to("out")
        )

    with driver_for(define) as driver:
        driver.create_input_topic("in").pipe_key_value_list([("a", 1), ("a", "two")])
        out = driver.create_output_topic("out", value_serde=serdes.BYTES)
        assert out.read_values_to_list() == [b"[1]", b'[1,"two"]']


# ---- caching ----


def counts_with(caching):
    def define(b):
        (
            b.stream("in")
            .flat_map_values(lambda line: line.split())
            .group_by(lambda _key, word: word)
            .count(materialized=Materialized(name="counts", caching=caching))
            .to_stream()
            .to("out")
        )

    return define


def test_without_caching_every_input_record_gives_one_update():
    with driver_for(counts_with(False)) as driver:
        driver.create_input_topic("in").pipe_key_value_list(LINES)
        out = driver.create_output_topic("out", value_serde=serdes.LONG)
        assert out.read_key_values_to_list() == [
            ("hello", 1),
            ("world", 1),
            ("hello", 2),
            ("kafka", 1),
            ("world", 2),
            ("streams", 1),
            ("kafka", 2),
            ("kafka", 3),
        ]
        changelog = driver.create_output_topic(
            f"{APP_ID}-counts-changelog", value_serde=serdes.LONG
        )
        assert changelog.queue_size() == 8


def test_with_caching_the_driver_emits_after_every_piped_record_because_it_commits_each():
    with driver_for(counts_with(True)) as driver:
        inp = driver.create_input_topic("in")
        out = driver.create_output_topic("out", value_serde=serdes.LONG)
        inp.pipe_input("l1", "a")
        assert out.read_key_values_to_list() == [("a", 1)]
        inp.pipe_input("l2", "a")
        assert out.read_key_values_to_list() == [("a", 2)]
        inp.pipe_input("l3", "a a a")
        assert out.read_key_values_to_list() == [("a", 5)]


def test_caching_on_and_off_reach_the_same_final_values_and_store_contents():
    results = {}
    for caching in (True, False):
        with driver_for(counts_with(caching)) as driver:
            driver.create_input_topic("in").pipe_key_value_list(LINES)
            out = driver.create_output_topic("out", value_serde=serdes.LONG)
            results[caching] = (
                out.read_key_values_to_map(),
                list(driver.get_key_value_store("counts").all()),
            )
    assert results[True] == results[False]
    assert results[True][0] == {"hello": 2, "world": 2, "kafka": 3, "streams": 1}


def test_a_cached_aggregate_emits_the_timestamp_of_the_latest_record_of_the_key():
    with driver_for(counts_with(True)) as driver:
        driver.create_input_topic("in").pipe_input("l", "a a", timestamp=1234)
        record = driver.create_output_topic("out", value_serde=serdes.LONG).read_record()
        assert (record.key, record.value, record.timestamp) == ("a", 2, 1234)


# ---- dropped records ----


def test_null_keys_and_null_values_are_dropped_and_counted_as_skipped():
    def define(b):
        b.stream("in").group_by_key().count(materialized="c").to_stream().to("out")

    with driver_for(define) as driver:
        inp = driver.create_input_topic("in")
        inp.pipe_input(None, "no key")
        inp.pipe_input("k", None)
        inp.pipe_input("k", "v")
        out = driver.create_output_topic("out", value_serde=serdes.LONG)
        assert out.read_key_values_to_list() == [("k", 1)]
        assert driver.metrics.value(SKIPPED) == 2.0
        assert driver.metrics.value(SKIPPED, reason="null key or value in aggregation") == 2.0
        assert list(driver.get_key_value_store("c").all()) == [KeyValue("k", 1)]


def test_a_group_by_selector_returning_none_drops_and_counts_the_record():
    def define(b):
        (
            b.stream("in")
            .group_by(lambda k, v: v.get("user"))
            .count(materialized="per-user")
            .to_stream()
            .to("out")
        )

    with driver_for(define) as driver:
        driver.create_input_topic("in").pipe_value_list([{"user": "ann"}, {}, {"user": "ann"}])
        out = driver.create_output_topic("out", value_serde=serdes.LONG)
        assert out.read_key_values_to_list() == [("ann", 1), ("ann", 2)]
        assert driver.metrics.value(SKIPPED) == 1.0


def test_reduce_and_aggregate_drop_null_values_too():
    def define(b):
        grouped = b.stream("in").group_by_key()
        grouped.reduce(lambda a, v: a + v, materialized="r").to_stream().to("reduced")
        grouped.aggregate(lambda: 0, lambda k, v, a: a + v, materialized="g").to_stream().to(
            "aggregated"
        )

    with driver_for(define) as driver:
        driver.create_input_topic("in").pipe_key_value_list([("a", 1), ("a", None), ("a", 2)])
        assert driver.create_output_topic("reduced").read_values_to_list() == [1, 3]
        assert driver.create_output_topic("aggregated").read_values_to_list() == [1, 3]
        assert driver.metrics.value(SKIPPED) == 2.0


# ---- describe ----


def test_describe_shows_two_sub_topologies_and_the_aggregate_with_its_store():
    text = build(word_count()).describe()
    assert [line.strip() for line in text.splitlines() if line.strip()] == [
        "Topologies:",
        "Sub-topology: 0",
        "Source: KSTREAM-SOURCE-0000000000 (topics: [in])",
        "--> KSTREAM-FLATMAPVALUES-0000000001",
        "Processor: KSTREAM-FLATMAPVALUES-0000000001 (stores: [])",
        "--> KSTREAM-KEY-SELECT-0000000002",
        "<-- KSTREAM-SOURCE-0000000000",
        "Processor: KSTREAM-KEY-SELECT-0000000002 (stores: [])",
        "--> counts-repartition-sink",
        "<-- KSTREAM-FLATMAPVALUES-0000000001",
        "Sink: counts-repartition-sink (topic: counts-repartition)",
        "<-- KSTREAM-KEY-SELECT-0000000002",
        "Sub-topology: 1",
        "Source: counts-repartition-source (topics: [counts-repartition])",
        "--> KSTREAM-AGGREGATE-0000000003",
        "Processor: KSTREAM-AGGREGATE-0000000003 (stores: [counts])",
        "--> KTABLE-TOSTREAM-0000000004",
        "<-- counts-repartition-source",
        "Processor: KTABLE-TOSTREAM-0000000004 (stores: [])",
        "--> KSTREAM-SINK-0000000005",
        "<-- KSTREAM-AGGREGATE-0000000003",
        "Sink: KSTREAM-SINK-0000000005 (topic: out)",
        "<-- KTABLE-TOSTREAM-0000000004",
    ]


def test_describe_names_the_reduce_processor_and_its_generated_store():
    def define(b):
        b.stream("in").group_by_key().reduce(lambda a, v: v).to_stream().to("out")

    text = build(define).describe()
    assert (
        "Processor: KSTREAM-REDUCE-0000000001 (stores: [KSTREAM-REDUCE-STATE-STORE-0000000002])"
        in text
    )
    assert "Sub-topology: 1" not in text


def test_queryable_store_name_is_the_materialized_name_or_the_generated_one():
    names = {}

    def define(b):
        grouped = b.stream("in").group_by_key()
        names["named"] = grouped.count(materialized="named").queryable_store_name
        names["generated"] = grouped.count().queryable_store_name

    build(define)
    assert names == {"named": "named", "generated": "KSTREAM-AGGREGATE-STATE-STORE-0000000003"}


# ---- errors downstream of an aggregation ----


def failing_after_count(caching):
    def define(b):
        (
            b.stream("in")
            .group_by_key()
            .count(materialized=Materialized(name="c", caching=caching))
            .to_stream()
            .map_values(lambda n: 10 // (n - 2), name="boom")
            .to("out")
        )

    return define


@pytest.mark.parametrize("caching", [False, True], ids=["uncached", "cached"])
def test_an_error_downstream_of_an_aggregate_is_a_processing_error_naming_the_node(caching):
    with driver_for(failing_after_count(caching)) as driver:
        inp = driver.create_input_topic("in")
        inp.pipe_input("a", 1)
        with pytest.raises(ProcessingError) as info:
            inp.pipe_input("a", 1)
    assert info.value.processor == "boom"


def test_log_and_continue_skips_an_error_downstream_of_a_cached_aggregate():
    with driver_for(
        failing_after_count(True), processing_exception_handler="log_and_continue"
    ) as driver:
        driver.create_input_topic("in").pipe_key_value_list([("a", 1)] * 3)
        out = driver.create_output_topic("out")
        assert out.read_values_to_list() == [-10, 10]
        assert driver.metrics.value(SKIPPED) == 1.0


def test_log_and_continue_skips_an_error_downstream_of_an_uncached_aggregate():
    with driver_for(
        failing_after_count(False), processing_exception_handler="log_and_continue"
    ) as driver:
        driver.create_input_topic("in").pipe_key_value_list([("a", 1)] * 3)
        out = driver.create_output_topic("out")
        assert out.read_values_to_list() == [-10, 10]
        assert driver.metrics.value(SKIPPED) == 1.0
