"""split() into branches (named, unnamed, default, none) and merge() of streams."""

from __future__ import annotations

import pytest

from kstreamlite import StreamsBuilder
from kstreamlite.errors import TopologyError
from tests.unit.helpers import driver_for


def small(k, v):
    return v < 10


def medium(k, v):
    return v < 100


# ---- split: branch naming ----


def test_named_branches_are_keyed_by_prefix_plus_name():
    builder = StreamsBuilder()
    branches = (
        builder.stream("in")
        .split(prefix="size-")
        .branch(small, name="small")
        .branch(medium, name="medium")
        .default_branch(name="large")
    )
    assert set(branches) == {"size-small", "size-medium", "size-large"}


def test_unnamed_branches_are_keyed_by_prefix_plus_one_based_index():
    builder = StreamsBuilder()
    branches = (
        builder.stream("in").split(prefix="b-").branch(small).branch(medium).no_default_branch()
    )
    assert set(branches) == {"b-1", "b-2"}


def test_unnamed_default_branch_is_keyed_by_prefix_plus_zero():
    builder = StreamsBuilder()
    branches = builder.stream("in").split(prefix="b-").branch(small).default_branch()
    assert set(branches) == {"b-1", "b-0"}


def test_without_prefix_keys_are_the_bare_names_and_indexes():
    builder = StreamsBuilder()
    branches = builder.stream("in").split().branch(small).branch(medium, name="m").default_branch()
    assert set(branches) == {"1", "m", "0"}


def test_unnamed_index_counts_named_branches_before_it():
    builder = StreamsBuilder()
    branches = (
        builder.stream("in").split().branch(small, name="s").branch(medium).no_default_branch()
    )
    assert set(branches) == {"s", "2"}


def test_duplicate_branch_names_raise_topology_error():
    builder = StreamsBuilder()
    split = builder.stream("in").split(prefix="p-").branch(small, name="x")
    with pytest.raises(TopologyError, match="p-x"):
        split.branch(medium, name="x")


def test_default_branch_named_like_a_branch_raises_topology_error():
    builder = StreamsBuilder()
    split = builder.stream("in").split().branch(small, name="a")
    with pytest.raises(TopologyError, match="'a'"):
        split.default_branch(name="a")


def test_branch_after_default_branch_raises_topology_error():
    builder = StreamsBuilder()
    split = builder.stream("in").split()
    split.branch(small).default_branch()
    with pytest.raises(TopologyError, match="after default_branch"):
        split.branch(medium)


def test_finishing_a_split_twice_raises_topology_error():
    builder = StreamsBuilder()
    split = builder.stream("in").split()
    split.branch(small).no_default_branch()
    with pytest.raises(TopologyError, match="already finished"):
        split.default_branch()


def test_non_callable_branch_predicate_raises_topology_error():
    builder = StreamsBuilder()
    with pytest.raises(TopologyError, match="branch predicate must be a function"):
        builder.stream("in").split().branch(True)


# ---- split: routing ----


def _route(split_to_dict, values):
    """Build in -> split -> one output topic per branch key; return {branch: values}."""
    keys = []

    def define(b):
        branches = split_to_dict(b.stream("in").split(prefix="to-"))
        for key, stream in branches.items():
            keys.append(key)
            stream.to(key)

    with driver_for(define) as driver:
        driver.create_input_topic("in").pipe_value_list(values)
        return {k: driver.create_output_topic(k).read_values_to_list() for k in keys}


def test_each_record_goes_to_the_branch_whose_predicate_matches():
    result = _route(
        lambda s: (
            s.branch(lambda k, v: v < 0, name="neg")
            .branch(lambda k, v: v > 0, name="pos")
            .default_branch(name="zero")
        ),
        [3, -1, 0, 7, -5],
    )
    assert result == {"to-neg": [-1, -5], "to-pos": [3, 7], "to-zero": [0]}


def test_first_matching_branch_wins():
    result = _route(
        lambda s: s.branch(small, name="small").branch(medium, name="medium").no_default_branch(),
        [5, 50],
    )
    assert result == {"to-small": [5], "to-medium": [50]}


def test_later_predicates_are_not_called_once_a_branch_matched():
    calls = []

    def second(k, v):
        calls.append(v)
        return True

    _route(lambda s: s.branch(small).branch(second).no_default_branch(), [1, 20])
    assert calls == [20]


def test_unnamed_default_branch_receives_unmatched_records():
    result = _route(lambda s: s.branch(small).default_branch(), [1, 500, 2, 600])
    assert result == {"to-1": [1, 2], "to-0": [500, 600]}


def test_no_default_branch_drops_unmatched_records():
    def define(b):
        branches = b.stream("in").split(prefix="to-").branch(small).no_default_branch()
        branches["to-1"].to("small")
        b.stream("other").to("unused")

    with driver_for(define) as driver:
        driver.create_input_topic("in").pipe_value_list([1, 500, 2])
        assert driver.create_output_topic("small").read_values_to_list() == [1, 2]
        assert driver.produced_topic_names() == {"small"}


def test_branch_streams_can_be_processed_further():
    def define(b):
        branches = b.stream("in").split().branch(small, name="s").default_branch(name="big")
        branches["s"].map_values(lambda v: v * 100).to("out")
        branches["big"].filter(lambda k, v: v % 2 == 0).to("out")

    with driver_for(define) as driver:
        driver.create_input_topic("in").pipe_value_list([1, 11, 12, 2])
        assert driver.create_output_topic("out").read_values_to_list() == [100, 12, 200]


def test_split_with_no_branch_and_a_default_passes_everything_to_the_default():
    result = _route(lambda s: s.default_branch(name="all"), [1, 2])
    assert result == {"to-all": [1, 2]}


# ---- merge ----


def test_merge_interleaves_two_streams_in_arrival_order():
    def define(b):
        left = b.stream("left").map_values(lambda v: f"L{v}")
        right = b.stream("right").map_values(lambda v: f"R{v}")
        left.merge(right).to("out")

    with driver_for(define) as driver:
        left = driver.create_input_topic("left")
        right = driver.create_input_topic("right")
        out = driver.create_output_topic("out")
        left.pipe_input("k", 1)
        right.pipe_input("k", 2)
        left.pipe_input("k", 3)
        assert out.read_values_to_list() == ["L1", "R2", "L3"]


def test_merged_stream_can_be_processed_further():
    def define(b):
        a = b.stream("a")
        c = b.stream("c")
        a.merge(c).filter(lambda k, v: v > 1).to("out")

    with driver_for(define) as driver:
        driver.create_input_topic("a").pipe_key_value_list([("x", 1), ("y", 2)])
        driver.create_input_topic("c").pipe_key_value_list([("z", 3)])
        out = driver.create_output_topic("out")
        assert out.read_key_values_to_list() == [("y", 2), ("z", 3)]


def test_merge_with_a_stream_of_another_builder_raises_topology_error():
    first = StreamsBuilder().stream("a")
    second = StreamsBuilder().stream("b")
    with pytest.raises(TopologyError, match="same StreamsBuilder"):
        first.merge(second)
