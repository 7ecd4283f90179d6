"""Building a topology: node naming, wiring and the errors a wrongly built one raises."""

from __future__ import annotations

import pytest

from kstreamlite import StreamsBuilder, Topology
from kstreamlite.errors import KStreamliteError, TopologyError
from kstreamlite.processor import Processor
from kstreamlite.testing import TopologyTestDriver
from tests.unit.helpers import build

# ---- names ----


def test_generated_node_names_follow_kafka_streams_numbering():
    builder = StreamsBuilder()
    stream = builder.stream("in")
    filtered = stream.filter(lambda k, v: True)
    mapped = filtered.map_values(lambda v: v)
    assert stream.node_name == "KSTREAM-SOURCE-0000000000"
    assert filtered.node_name == "KSTREAM-FILTER-0000000001"
    assert mapped.node_name == "KSTREAM-MAPVALUES-0000000002"


@pytest.mark.parametrize(
    ("operator", "prefix"),
    [
        (lambda s: s.filter(lambda k, v: True), "KSTREAM-FILTER-"),
        (lambda s: s.filter_not(lambda k, v: True), "KSTREAM-FILTER-"),
        (lambda s: s.map(lambda k, v: (k, v)), "KSTREAM-MAP-"),
        (lambda s: s.map_values(lambda v: v), "KSTREAM-MAPVALUES-"),
        (lambda s: s.flat_map(lambda k, v: [(k, v)]), "KSTREAM-FLATMAP-"),
        (lambda s: s.flat_map_values(lambda v: [v]), "KSTREAM-FLATMAPVALUES-"),
        (lambda s: s.select_key(lambda k, v: k), "KSTREAM-KEY-SELECT-"),
        (lambda s: s.peek(lambda k, v: None), "KSTREAM-PEEK-"),
        (lambda s: s.process(Processor), "KSTREAM-PROCESSOR-"),
    ],
)
def test_each_operator_gets_its_kafka_streams_name_prefix(operator, prefix):
    builder = StreamsBuilder()
    assert operator(builder.stream("in")).node_name == prefix + "0000000001"


def test_a_name_argument_names_the_node():
    builder = StreamsBuilder()
    stream = builder.stream("in", name="source").filter(lambda k, v: True, name="only-valid")
    assert stream.node_name == "only-valid"
    assert "Processor: only-valid (stores: [])" in builder.build().describe()
    assert "Source: source (topics: [in])" in builder.build().describe()


# ---- construction errors ----


def test_duplicate_node_names_raise_topology_error_naming_the_node():
    builder = StreamsBuilder()
    stream = builder.stream("in").filter(lambda k, v: True, name="step")
    with pytest.raises(TopologyError, match=r"a node named 'step' already exists"):
        stream.map_values(lambda v: v, name="step")


def test_a_processor_named_like_a_source_raises_topology_error():
    builder = StreamsBuilder()
    stream = builder.stream("in", name="in-source")
    with pytest.raises(TopologyError, match="'in-source'"):
        stream.peek(print, name="in-source")


@pytest.mark.parametrize(
    ("operator", "what"),
    [
        (lambda s: s.filter(None), "filter predicate"),
        (lambda s: s.filter_not("x > 1"), "filter_not predicate"),
        (lambda s: s.map(42), "map function"),
        (lambda s: s.map_values({}), "map_values function"),
        (lambda s: s.flat_map([]), "flat_map function"),
        (lambda s: s.flat_map_values(1.0), "flat_map_values function"),
        (lambda s: s.select_key("key"), "select_key function"),
        (lambda s: s.peek(None), "peek function"),
        (lambda s: s.foreach(None), "foreach function"),
        (lambda s: s.process(Processor()), "processor_factory"),
    ],
)
def test_non_callable_functions_raise_topology_error_naming_the_argument(operator, what):
    builder = StreamsBuilder()
    with pytest.raises(TopologyError, match=f"{what} must be a function"):
        operator(builder.stream("in"))


def test_a_non_callable_timestamp_extractor_raises_topology_error():
    with pytest.raises(TopologyError, match="timestamp_extractor must be a function"):
        StreamsBuilder().stream("in", timestamp_extractor=1000)


def test_reading_a_topic_twice_raises_topology_error():
    builder = StreamsBuilder()
    builder.stream("in")
    with pytest.raises(TopologyError, match=r"topic 'in' is already read"):
        builder.stream(["other", "in"])


def test_a_stream_of_no_topic_raises_topology_error():
    with pytest.raises(TopologyError, match="at least one topic"):
        StreamsBuilder().stream([])


def test_building_an_empty_topology_raises_topology_error():
    with pytest.raises(TopologyError, match="empty"):
        StreamsBuilder().build()


def test_repartition_with_zero_partitions_raises_topology_error():
    with pytest.raises(TopologyError, match="num_partitions must be >= 1"):
        StreamsBuilder().stream("in").repartition(name="r", num_partitions=0)


def test_two_repartitions_with_the_same_name_raise_topology_error():
    builder = StreamsBuilder()
    stream = builder.stream("in")
    stream.repartition(name="r")
    with pytest.raises(TopologyError, match="already exists"):
        stream.repartition(name="r")


def test_process_with_an_unregistered_store_raises_topology_error():
    with pytest.raises(TopologyError, match=r"state store 'counts' is not registered"):
        StreamsBuilder().stream("in").process(Processor, stores=["counts"])


def test_a_processor_factory_returning_no_processor_fails_when_the_driver_starts():
    topology = build(lambda b: b.stream("in").process(lambda: object(), name="bad"))
    with pytest.raises(TopologyError, match=r"processor factory for 'bad' returned object"):
        TopologyTestDriver(topology)


def test_topology_errors_are_kstreamlite_errors():
    assert issubclass(TopologyError, KStreamliteError)


# ---- the low-level Topology API ----


def test_topology_rejects_an_unknown_parent():
    topology = Topology()
    topology.add_source("src", "in")
    with pytest.raises(TopologyError, match=r"unknown parent node 'nope'"):
        topology.add_processor("p", object, "nope")


def test_topology_rejects_a_child_of_a_sink():
    topology = Topology()
    topology.add_source("src", "in")
    topology.add_sink("sink", "out", "src")
    with pytest.raises(TopologyError, match=r"sink 'sink' cannot have children"):
        topology.add_processor("p", object, "sink")


def test_topology_rejects_a_processor_without_parent():
    with pytest.raises(TopologyError, match="needs at least one parent"):
        Topology().add_processor("p", object)


def test_topology_lists_user_source_and_sink_topics_but_not_internal_ones():
    def define(b):
        b.stream(["a", "b"]).repartition(name="r").to("out")

    topology = build(define)
    assert topology.source_topics() == ["a", "b"]
    assert topology.sink_topics() == ["out"]
    assert list(topology.repartition_topics) == ["r-repartition"]


def test_subtopologies_are_split_at_repartition_topics():
    def define(b):
        b.stream("in").repartition(name="r").to("out")

    subs = build(define).subtopologies()
    assert [(s.id, s.source_topics) for s in subs] == [(0, ["in"]), (1, ["r-repartition"])]
