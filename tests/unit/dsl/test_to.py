"""KStream.to(): fixed topic, a topic chosen per record, serdes, partitioner."""

from __future__ import annotations

import pytest

from kstreamlite import StreamsBuilder, serdes
from kstreamlite.errors import (
    KStreamliteError,
    ProcessingError,
    ProductionError,
    TopologyError,
)
from tests.unit.helpers import driver_for

# ---- fixed topic ----


def test_to_a_fixed_topic_writes_every_record_there():
    with driver_for(lambda b: b.stream("in").to("out")) as driver:
        driver.create_input_topic("in").pipe_key_value_list([("a", 1), ("b", {"x": [1]})])
        out = driver.create_output_topic("out")
        assert out.read_key_values_to_list() == [("a", 1), ("b", {"x": [1]})]
        assert driver.produced_topic_names() == {"out"}


def test_one_stream_can_be_written_to_several_topics():
    def define(b):
        stream = b.stream("in")
        stream.to("out-1")
        stream.to("out-2")

    with driver_for(define) as driver:
        driver.create_input_topic("in").pipe_input("k", 1)
        assert driver.create_output_topic("out-1").read_key_value() == ("k", 1)
        assert driver.create_output_topic("out-2").read_key_value() == ("k", 1)


def test_to_uses_the_given_serdes_for_the_written_bytes():
    def define(b):
        b.stream("in").to("out", key_serde=serdes.STRING, value_serde=serdes.INT)

    with driver_for(define) as driver:
        driver.create_input_topic("in").pipe_input("k", 258)
        raw = driver.create_output_topic("out", serdes.BYTES, serdes.BYTES).read_key_value()
        assert raw == (b"k", b"\x00\x00\x01\x02")


def test_to_without_serdes_uses_the_source_serdes_when_the_value_is_unchanged():
    def define(b):
        b.stream("in", key_serde=serdes.STRING, value_serde=serdes.LONG).filter(
            lambda k, v: True
        ).to("out")

    with driver_for(define) as driver:
        driver.create_input_topic("in", serdes.STRING, serdes.LONG).pipe_input("k", 7)
        assert driver.create_output_topic("out", serdes.STRING, serdes.BYTES).read_value() == (
            b"\x00" * 7 + b"\x07"
        )


def test_to_without_serdes_uses_the_config_defaults_after_map_values():
    def define(b):
        b.stream("in", value_serde=serdes.LONG).map_values(lambda v: {"n": v}).to("out")

    with driver_for(define) as driver:
        driver.create_input_topic("in", value_serde=serdes.LONG).pipe_input("k", 7)
        assert driver.create_output_topic("out", value_serde=serdes.BYTES).read_value() == (
            b'{"n":7}'
        )


def test_a_value_the_sink_serde_cannot_write_fails_as_a_production_error():
    def define(b):
        b.stream("in").to("out", value_serde=serdes.INT)

    with driver_for(define) as driver:
        inp = driver.create_input_topic("in")
        with pytest.raises(ProductionError, match=r"serde INT cannot serialize str"):
            inp.pipe_input("k", "not an int")


@pytest.mark.parametrize(
    ("key", "value", "what"),
    [(1, 1, "int key with serde STRING"), ("k", "v", "str value with serde LONG")],
)
def test_a_sink_serialization_failure_names_the_sink_the_field_and_the_serde(key, value, what):
    def define(b):
        b.stream("in").map(lambda k, v: (key, value)).to("out", value_serde=serdes.LONG, name="S")

    with driver_for(define) as driver:
        inp = driver.create_input_topic("in")
        with pytest.raises(ProductionError) as info:
            inp.pipe_input("k", 1)
    message = str(info.value)
    assert "sink 'S'" in message
    assert what in message
    assert "'out'" in message


def test_an_empty_topic_name_raises_topology_error():
    with pytest.raises(TopologyError, match="empty"):
        StreamsBuilder().stream("in").to("")


def test_a_topic_that_is_neither_name_nor_function_raises_topology_error():
    with pytest.raises(TopologyError, match="topic name or a function"):
        StreamsBuilder().stream("in").to(42)


# ---- topic chosen per record ----


def test_a_topic_function_picks_the_topic_per_record():
    def define(b):
        b.stream("in").to(lambda k, v: f"events-{v['type']}")

    with driver_for(define) as driver:
        driver.create_input_topic("in").pipe_key_value_list(
            [("a", {"type": "click"}), ("b", {"type": "view"}), ("c", {"type": "click"})]
        )
        clicks = driver.create_output_topic("events-click").read_key_values_to_list()
        views = driver.create_output_topic("events-view").read_key_values_to_list()
        assert clicks == [("a", {"type": "click"}), ("c", {"type": "click"})]
        assert views == [("b", {"type": "view"})]
        assert driver.produced_topic_names() == {"events-click", "events-view"}


def test_the_topic_function_sees_key_and_value():
    seen = []

    def choose(key, value):
        seen.append((key, value))
        return "out"

    with driver_for(lambda b: b.stream("in").to(choose)) as driver:
        driver.create_input_topic("in").pipe_input("k", 3)
    assert seen == [("k", 3)]


@pytest.mark.parametrize("bad", ["", None, 7])
def test_a_topic_function_returning_no_topic_name_fails_naming_the_sink(bad):
    def define(b):
        b.stream("in").to(lambda k, v: bad, name="router")

    with driver_for(define) as driver:
        inp = driver.create_input_topic("in")
        with pytest.raises(KStreamliteError, match=r"sink 'router'.*non-empty topic name"):
            inp.pipe_input("k", 1)


def test_a_raising_topic_function_is_a_processing_error_naming_the_sink():
    def choose(key, value):
        raise LookupError("no route")

    def define(b):
        b.stream("in").to(choose, name="router")

    with driver_for(define) as driver, pytest.raises(ProcessingError, match="no route") as info:
        driver.create_input_topic("in").pipe_input("k", 1)
    assert info.value.processor == "router"


# ---- partitioner ----


def test_partitioner_is_called_with_topic_key_value_and_partition_count():
    calls = []

    def partitioner(topic, key, value, num_partitions):
        calls.append((topic, key, value, num_partitions))
        return 0

    with driver_for(lambda b: b.stream("in").to("out", partitioner=partitioner)) as driver:
        driver.create_input_topic("in").pipe_input("k", 5)
        assert driver.create_output_topic("out").read_key_value() == ("k", 5)
    assert calls == [("out", "k", 5, 1)]


def test_partitioner_returning_none_keeps_the_default_partitioning():
    def define(b):
        b.stream("in").to("out", partitioner=lambda t, k, v, n: None)

    with driver_for(define) as driver:
        driver.create_input_topic("in").pipe_input("k", 5)
        assert driver.create_output_topic("out").read_key_value() == ("k", 5)


def test_a_non_callable_partitioner_raises_topology_error():
    with pytest.raises(TopologyError, match="partitioner must be a function"):
        StreamsBuilder().stream("in").to("out", partitioner=3)


@pytest.mark.parametrize("bad", [1, -1, 99, "0"])
def test_partitioner_out_of_range_fails_with_a_clear_message(bad):
    def define(b):
        b.stream("in").to("out", partitioner=lambda t, k, v, n: bad, name="sink")

    with driver_for(define) as driver:
        inp = driver.create_input_topic("in")
        with pytest.raises(KStreamliteError, match=r"partitioner returned .* 1 partitions"):
            inp.pipe_input("k", 5)
        assert driver.create_output_topic("out").is_empty()


def test_partitioner_out_of_range_fails_through_the_production_handler():
    def define(b):
        b.stream("in").to("out", partitioner=lambda t, k, v, n: 5)

    with driver_for(define) as driver:
        inp = driver.create_input_topic("in")
        with pytest.raises(ProductionError, match=r"topic 'in' partition 0 offset 0"):
            inp.pipe_input("k", 5)


def test_partitioner_out_of_range_is_skipped_by_log_and_continue_production_handler():
    def define(b):
        b.stream("in").to("out", partitioner=lambda t, k, v, n: 5 if v == 1 else 0)

    with driver_for(define, production_exception_handler="log_and_continue") as driver:
        driver.create_input_topic("in").pipe_value_list([1, 2])
        assert driver.create_output_topic("out").read_values_to_list() == [2]
        assert driver.metrics.value("kstreamlite_skipped_records_total", reason="production") == 1
