"""The stateless KStream operators, run record by record through the TopologyTestDriver."""

from __future__ import annotations

import pytest

from kstreamlite import KeyValue, serdes
from kstreamlite.errors import ProcessingError
from tests.unit.helpers import APP_ID, driver_for


def run(define, records):
    """Pipe ``(key, value)`` pairs into ``in`` (STRING keys, JSON values); return ``out``."""
    with driver_for(define) as driver:
        inp = driver.create_input_topic("in", serdes.STRING, serdes.JSON)
        out = driver.create_output_topic("out", serdes.STRING, serdes.JSON)
        inp.pipe_key_value_list(records)
        return out.read_key_values_to_list()


# ---- filter / filter_not ----


def test_filter_keeps_only_records_matching_the_predicate():
    result = run(
        lambda b: b.stream("in").filter(lambda k, v: v > 10).to("out"),
        [("a", 5), ("b", 11), ("c", 10), ("d", 99)],
    )
    assert result == [("b", 11), ("d", 99)]


def test_filter_predicate_sees_key_and_value():
    result = run(
        lambda b: b.stream("in").filter(lambda k, v: k.startswith("x") and v).to("out"),
        [("xa", 1), ("ya", 1), ("xb", 0)],
    )
    assert result == [("xa", 1)]


def test_filter_not_drops_records_matching_the_predicate():
    result = run(
        lambda b: b.stream("in").filter_not(lambda k, v: v > 10).to("out"),
        [("a", 5), ("b", 11), ("c", 10)],
    )
    assert result == [("a", 5), ("c", 10)]


# ---- map / map_values ----


def test_map_replaces_key_and_value():
    result = run(
        lambda b: b.stream("in").map(lambda k, v: (k.upper(), v * 2)).to("out"),
        [("a", 1), ("b", 2)],
    )
    assert result == [("A", 2), ("B", 4)]


def test_map_accepts_a_key_value_result():
    result = run(
        lambda b: b.stream("in").map(lambda k, v: KeyValue(f"{k}{v}", [v])).to("out"),
        [("a", 1)],
    )
    assert result == [("a1", [1])]


def test_map_returning_a_non_pair_fails_naming_the_map_node():
    with pytest.raises(ProcessingError, match=r"KSTREAM-MAP-0000000001.*\(key, value\) pair"):
        run(lambda b: b.stream("in").map(lambda k, v: v).to("out"), [("a", 1)])


def test_map_values_replaces_the_value_and_keeps_the_key():
    result = run(
        lambda b: b.stream("in").map_values(lambda v: {"doubled": v * 2}).to("out"),
        [("a", 1), ("b", 3)],
    )
    assert result == [("a", {"doubled": 2}), ("b", {"doubled": 6})]


def test_map_values_function_sees_the_value_only():
    seen = []
    run(
        lambda b: b.stream("in").map_values(lambda *args: seen.append(args) or 0).to("out"),
        [("a", 7)],
    )
    assert seen == [(7,)]


# ---- flat_map / flat_map_values ----


def test_flat_map_emits_every_pair_in_order():
    result = run(
        lambda b: (
            b.stream("in").flat_map(lambda k, v: [(f"{k}{i}", i) for i in range(v)]).to("out")
        ),
        [("a", 2), ("b", 0), ("c", 3)],
    )
    assert result == [("a0", 0), ("a1", 1), ("c0", 0), ("c1", 1), ("c2", 2)]


def test_flat_map_accepts_a_generator_and_none_means_nothing():
    def explode(k, v):
        if v is None or v == 0:
            return None
        return ((k, x) for x in range(v))

    result = run(lambda b: b.stream("in").flat_map(explode).to("out"), [("a", 0), ("b", 2)])
    assert result == [("b", 0), ("b", 1)]


def test_flat_map_yielding_a_non_pair_fails_naming_the_node():
    with pytest.raises(ProcessingError, match=r"KSTREAM-FLATMAP-0000000001.*\(key, value\) pairs"):
        run(lambda b: b.stream("in").flat_map(lambda k, v: [v]).to("out"), [("a", 1)])


def test_flat_map_values_emits_one_record_per_value_with_the_same_key():
    result = run(
        lambda b: b.stream("in").flat_map_values(lambda v: v.split()).to("out"),
        [("s1", "hello big world"), ("s2", ""), ("s3", "bye")],
    )
    assert result == [("s1", "hello"), ("s1", "big"), ("s1", "world"), ("s3", "bye")]


# ---- select_key ----


def test_select_key_replaces_the_key_and_keeps_the_value():
    result = run(
        lambda b: b.stream("in").select_key(lambda k, v: v["user"]).to("out"),
        [("x", {"user": "u1", "n": 1}), ("y", {"user": "u2", "n": 2})],
    )
    assert result == [("u1", {"user": "u1", "n": 1}), ("u2", {"user": "u2", "n": 2})]


def test_select_key_to_none_writes_a_null_key():
    result = run(lambda b: b.stream("in").select_key(lambda k, v: None).to("out"), [("x", 1)])
    assert result == [(None, 1)]


# ---- peek / foreach ----


def test_peek_sees_every_record_and_passes_it_on_unchanged():
    seen = []
    result = run(
        lambda b: b.stream("in").peek(lambda k, v: seen.append((k, v))).to("out"),
        [("a", 1), ("b", 2)],
    )
    assert seen == [("a", 1), ("b", 2)]
    assert result == [("a", 1), ("b", 2)]


def test_foreach_calls_the_function_for_every_record_and_ends_the_stream():
    seen = []

    def define(b):
        assert b.stream("in").foreach(lambda k, v: seen.append((k, v))) is None

    with driver_for(define) as driver:
        driver.create_input_topic("in").pipe_key_value_list([("a", 1), ("b", None)])
        assert driver.produced_topic_names() == set()
    assert seen == [("a", 1), ("b", None)]


# ---- chaining and tombstones ----


def test_operators_chain_in_order():
    result = run(
        lambda b: (
            b.stream("in")
            .filter(lambda k, v: v % 2 == 1)
            .map_values(lambda v: v * 10)
            .select_key(lambda k, v: f"{k}:{v}")
            .flat_map_values(lambda v: [v, v + 1])
            .to("out")
        ),
        [("a", 1), ("b", 2), ("c", 3)],
    )
    assert result == [("a:10", 10), ("a:10", 11), ("c:30", 30), ("c:30", 31)]


def test_null_values_reach_user_functions_as_none():
    seen = []
    result = run(
        lambda b: b.stream("in").peek(lambda k, v: seen.append(v)).to("out"),
        [("a", None)],
    )
    assert seen == [None]
    assert result == [("a", None)]


# ---- repartition ----


def test_repartition_routes_records_through_the_named_internal_topic():
    def define(b):
        b.stream("in").select_key(lambda k, v: v["user"]).repartition(name="by-user").map_values(
            lambda v: v["n"]
        ).to("out")

    with driver_for(define) as driver:
        inp = driver.create_input_topic("in")
        out = driver.create_output_topic("out")
        inp.pipe_input("x", {"user": "u1", "n": 1})
        inp.pipe_input("y", {"user": "u2", "n": 2})
        assert out.read_key_values_to_list() == [("u1", 1), ("u2", 2)]
        assert driver.produced_topic_names() == {f"{APP_ID}-by-user-repartition", "out"}
        internal = driver.create_output_topic(f"{APP_ID}-by-user-repartition")
        assert internal.read_key_values_to_list() == [
            ("u1", {"user": "u1", "n": 1}),
            ("u2", {"user": "u2", "n": 2}),
        ]


def test_unnamed_repartition_topic_uses_the_generated_node_name():
    def define(b):
        b.stream("in").repartition().to("out")

    with driver_for(define) as driver:
        driver.create_input_topic("in").pipe_input("k", 1)
        assert driver.create_output_topic("out").read_key_value() == ("k", 1)
        assert driver.produced_topic_names() == {
            f"{APP_ID}-KSTREAM-REPARTITION-0000000001-repartition",
            "out",
        }


def test_repartition_uses_the_given_serdes_on_the_internal_topic():
    def define(b):
        b.stream("in").repartition(name="r", key_serde=serdes.STRING, value_serde=serdes.LONG).to(
            "out", value_serde=serdes.LONG
        )

    with driver_for(define) as driver:
        driver.create_input_topic("in").pipe_input("k", 5)
        internal = driver.create_output_topic(f"{APP_ID}-r-repartition", value_serde=serdes.BYTES)
        assert internal.read_value() == b"\x00" * 7 + b"\x05"
        assert driver.create_output_topic("out", value_serde=serdes.LONG).read_value() == 5
