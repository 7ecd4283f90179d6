"""Co-partitioning: a join's inputs are read by one task, so they share a sub-topology
(and, at start-up, a partition count); a re-keyed stream is repartitioned first."""

from __future__ import annotations

import pytest

from kstreamlite.errors import TopologyError
from kstreamlite.runtime.internal_topics import TopicManager
from kstreamlite.windows import JoinWindows
from tests.unit.helpers import build

from .support import pair


def manager(application_id="app"):
    return TopicManager(None, "localhost:9092", application_id, 1, 1.0)  # no admin needed


def stream_table(b, rekey=False):
    stream = b.stream("orders")
    if rekey:
        stream = stream.map(lambda k, v: (v["user"], v))
    stream.join(b.table("users"), pair).to("out")


def test_a_stream_table_join_reads_both_topics_in_one_sub_topology():
    topology = build(stream_table)
    (sub,) = topology.subtopologies()
    assert sorted(sub.source_topics) == ["orders", "users"]
    assert not topology.repartition_topics


def test_independent_joins_stay_in_their_own_sub_topologies():
    def define(b):
        b.stream("a").join(b.table("ta"), pair).to("out-a")
        b.stream("b").join(b.stream("c"), pair, JoinWindows.of(10)).to("out-b")

    topology = build(define)
    assert sorted(sorted(s.source_topics) for s in topology.subtopologies()) == [
        ["a", "ta"],
        ["b", "c"],
    ]


def test_a_stream_mapped_before_a_table_join_reads_a_repartition_topic():
    topology = build(lambda b: stream_table(b, rekey=True))
    (suffix,) = topology.repartition_topics
    first, second = topology.subtopologies()
    assert first.source_topics == ["orders"]
    assert sorted(second.source_topics) == sorted([suffix, "users"])
    described = topology.describe()
    assert f"(topic: {suffix})" in described  # the sink writing it
    assert f"(topics: [{suffix}])" in described  # the source reading it


def test_only_the_rekeyed_side_of_a_stream_stream_join_is_repartitioned():
    def define(b):
        left = b.stream("left").select_key(lambda k, v: v)
        left.join(b.stream("right"), pair, JoinWindows.of(10)).to("out")

    topology = build(define)
    (suffix,) = topology.repartition_topics
    first, second = topology.subtopologies()
    assert first.source_topics == ["left"]
    assert sorted(second.source_topics) == sorted(["right", suffix])


def test_the_runtime_check_names_both_topics_and_their_partition_counts():
    topology = build(stream_table)
    with pytest.raises(TopologyError) as error:
        manager()._check_copartitioning(topology, {"orders": 3, "users": 2})
    message = str(error.value)
    assert "co-partitioning" in message
    assert "'orders' has 3" in message
    assert "'users' has 2" in message


def test_the_runtime_check_uses_the_actual_name_of_a_repartition_topic():
    topology = build(lambda b: stream_table(b, rekey=True))
    (suffix,) = topology.repartition_topics
    counts = {"orders": 5, "users": 4, f"app-{suffix}": 5}
    with pytest.raises(TopologyError) as error:
        manager()._check_copartitioning(topology, counts)
    assert f"'app-{suffix}' has 5" in str(error.value)
    assert "'users' has 4" in str(error.value)


def test_the_runtime_check_passes_equal_partition_counts():
    def define(b):
        stream_table(b)
        b.table("left").join(b.table("right"), pair).to_stream().to("joined")

    manager()._check_copartitioning(build(define), {"orders": 4, "users": 4, "left": 2, "right": 2})


def test_a_global_table_is_left_out_of_the_co_partitioning_check():
    def define(b):
        b.stream("orders").join(
            b.global_table("users"), pair, key_selector=lambda k, v: v["user"]
        ).to("out")

    topology = build(define)
    assert [s.source_topics for s in topology.subtopologies()] == [["orders"]]
    manager()._check_copartitioning(topology, {"orders": 6, "users": 1})
