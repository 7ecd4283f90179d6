"""Topology.describe(): Kafka Streams' TopologyDescription text layout."""

from __future__ import annotations

from tests.unit.helpers import build


def source_filter_map_values_sink(b):
    b.stream("in").filter(lambda k, v: v > 0).map_values(lambda v: v * 2).to("out")


def key_change_then_repartition(b):
    b.stream("in").select_key(lambda k, v: v).repartition().map_values(str).to("out")


SMALL = """\
Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [in])
      --> KSTREAM-FILTER-0000000001
    Processor: KSTREAM-FILTER-0000000001 (stores: [])
      --> KSTREAM-MAPVALUES-0000000002
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-MAPVALUES-0000000002 (stores: [])
      --> KSTREAM-SINK-0000000003
      <-- KSTREAM-FILTER-0000000001
    Sink: KSTREAM-SINK-0000000003 (topic: out)
      <-- KSTREAM-MAPVALUES-0000000002
"""


def test_describe_of_source_filter_map_values_sink_has_kafka_streams_layout():
    # Kafka ends the text with one more blank line (checked exactly below).
    assert build(source_filter_map_values_sink).describe().rstrip("\n") == SMALL.rstrip("\n")


def test_str_of_a_topology_is_its_description():
    topology = build(source_filter_map_values_sink)
    assert str(topology) == topology.describe()


def test_describe_splits_sub_topologies_at_a_repartition_topic():
    text = build(key_change_then_repartition).describe()
    assert [line.strip() for line in text.splitlines() if line.strip()] == [
        "Topologies:",
        "Sub-topology: 0",
        "Source: KSTREAM-SOURCE-0000000000 (topics: [in])",
        "--> KSTREAM-KEY-SELECT-0000000001",
        "Processor: KSTREAM-KEY-SELECT-0000000001 (stores: [])",
        "--> KSTREAM-REPARTITION-0000000002-repartition-sink",
        "<-- KSTREAM-SOURCE-0000000000",
        "Sink: KSTREAM-REPARTITION-0000000002-repartition-sink "
        "(topic: KSTREAM-REPARTITION-0000000002-repartition)",
        "<-- KSTREAM-KEY-SELECT-0000000001",
        "Sub-topology: 1",
        "Source: KSTREAM-REPARTITION-0000000002-repartition-source "
        "(topics: [KSTREAM-REPARTITION-0000000002-repartition])",
        "--> KSTREAM-MAPVALUES-0000000003",
        "Processor: KSTREAM-MAPVALUES-0000000003 (stores: [])",
        "--> KSTREAM-SINK-0000000004",
        "<-- KSTREAM-REPARTITION-0000000002-repartition-source",
        "Sink: KSTREAM-SINK-0000000004 (topic: out)",
        "<-- KSTREAM-MAPVALUES-0000000003",
    ]


def test_describe_names_a_repartition_topic_by_its_name_without_application_id():
    def define(b):
        b.stream("in").repartition(name="by-user").to("out")

    text = build(define).describe()
    assert "Sink: by-user-repartition-sink (topic: by-user-repartition)" in text
    assert "Source: by-user-repartition-source (topics: [by-user-repartition])" in text


def test_describe_lists_every_topic_of_a_multi_topic_source_and_every_child():
    def define(b):
        stream = b.stream(["a", "b"], name="src")
        stream.to("x", name="to-x")
        stream.to("y", name="to-y")

    text = build(define).describe()
    assert "    Source: src (topics: [a, b])\n      --> to-x, to-y\n" in text
    assert "    Sink: to-x (topic: x)\n      <-- src\n" in text


def test_describe_shows_none_for_a_processor_without_children():
    def define(b):
        b.stream("in").foreach(print, name="print")

    text = build(define).describe()
    assert "    Processor: print (stores: [])\n      --> none\n      <-- KSTREAM-SOURCE" in text


def test_describe_lists_both_parents_of_a_merge():
    def define(b):
        b.stream("a", name="A").merge(b.stream("b", name="B"), name="M").to("out", name="S")

    text = build(define).describe()
    assert "    Processor: M (stores: [])\n      --> S\n      <-- A, B\n" in text
    assert text.count("Sub-topology:") == 1


def test_describe_puts_independent_streams_in_separate_sub_topologies():
    def define(b):
        b.stream("a").to("x")
        b.stream("b").to("y")

    text = build(define).describe()
    assert text.count("Sub-topology:") == 2
    zero, one = text.split("Sub-topology: 1")
    assert "(topics: [a])" in zero
    assert "(topics: [b])" in one


KAFKA_TWO_SUBTOPOLOGIES = """\
Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [in])
      --> KSTREAM-KEY-SELECT-0000000001
    Processor: KSTREAM-KEY-SELECT-0000000001 (stores: [])
      --> KSTREAM-REPARTITION-0000000002-repartition-sink
      <-- KSTREAM-SOURCE-0000000000
    Sink: KSTREAM-REPARTITION-0000000002-repartition-sink \
(topic: KSTREAM-REPARTITION-0000000002-repartition)
      <-- KSTREAM-KEY-SELECT-0000000001

  Sub-topology: 1
    Source: KSTREAM-REPARTITION-0000000002-repartition-source \
(topics: [KSTREAM-REPARTITION-0000000002-repartition])
      --> KSTREAM-MAPVALUES-0000000003
    Processor: KSTREAM-MAPVALUES-0000000003 (stores: [])
      --> KSTREAM-SINK-0000000004
      <-- KSTREAM-REPARTITION-0000000002-repartition-source
    Sink: KSTREAM-SINK-0000000004 (topic: out)
      <-- KSTREAM-MAPVALUES-0000000003

"""


def test_describe_matches_kafka_streams_text_exactly():
    assert build(key_change_then_repartition).describe() == KAFKA_TWO_SUBTOPOLOGIES


def test_describe_of_a_dynamic_sink_uses_kafka_streams_extractor_class_label():
    def choose(key, value):
        return "t"

    def define(b):
        b.stream("in").to(choose, name="S")

    assert "    Sink: S (extractor class: " in build(define).describe()
