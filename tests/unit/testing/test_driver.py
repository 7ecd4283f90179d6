"""TopologyTestDriver and its TestInputTopic / TestOutputTopic."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kstreamlite import KeyValue, Record, StreamsConfig, serdes
from kstreamlite.errors import ProcessingError, TopologyError
from kstreamlite.processor import Processor
from kstreamlite.testing import NoSuchElementError, TopologyTestDriver
from tests.unit.helpers import build, driver_for


def passthrough(b):
    b.stream("in").to("out")


# ---- reading ----


def test_read_value_returns_the_oldest_unread_value():
    with driver_for(passthrough) as driver:
        driver.create_input_topic("in").pipe_key_value_list([("a", 1), ("b", 2)])
        out = driver.create_output_topic("out")
        assert out.read_value() == 1
        assert out.read_value() == 2


def test_read_key_value_returns_a_key_value():
    with driver_for(passthrough) as driver:
        driver.create_input_topic("in").pipe_input("a", {"n": 1})
        kv = driver.create_output_topic("out").read_key_value()
    assert isinstance(kv, KeyValue)
    assert kv == ("a", {"n": 1})


def test_read_record_returns_key_value_timestamp_and_headers():
    with driver_for(passthrough) as driver:
        driver.create_input_topic("in").pipe_input("a", 1, timestamp=99, headers=[("h", b"x")])
        record = driver.create_output_topic("out").read_record()
    assert isinstance(record, Record)
    assert record == Record("a", 1, 99, (("h", b"x"),))


def test_list_reads_return_everything_unread_in_order():
    with driver_for(passthrough) as driver:
        inp = driver.create_input_topic("in")
        out = driver.create_output_topic("out")
        inp.pipe_key_value_list([("a", 1), ("b", 2)])
        assert out.read_values_to_list() == [1, 2]
        inp.pipe_key_value_list([("c", 3), ("d", 4)])
        assert out.read_key_values_to_list() == [KeyValue("c", 3), KeyValue("d", 4)]
        inp.pipe_input("e", 5, timestamp=7)
        assert out.read_records_to_list() == [Record("e", 5, 7)]
        assert out.read_values_to_list() == []


def test_read_key_values_to_map_keeps_the_latest_value_per_key_and_drops_tombstones():
    with driver_for(passthrough) as driver:
        driver.create_input_topic("in").pipe_key_value_list(
            [("a", 1), ("b", 2), ("a", 3), ("c", 4), ("b", None)]
        )
        assert driver.create_output_topic("out").read_key_values_to_map() == {"a": 3, "c": 4}


def test_reads_consume_and_queue_size_and_is_empty_follow():
    with driver_for(passthrough) as driver:
        out = driver.create_output_topic("out")
        assert out.is_empty()
        assert out.queue_size() == 0
        driver.create_input_topic("in").pipe_value_list([1, 2, 3])
        assert not out.is_empty()
        assert out.queue_size() == 3
        out.read_value()
        assert out.queue_size() == 2
        out.read_values_to_list()
        assert out.is_empty()
        assert out.queue_size() == 0


@pytest.mark.parametrize(
    "read",
    ["read_value", "read_key_value", "read_record"],
)
def test_reading_an_empty_topic_raises_no_such_element_error(read):
    with driver_for(passthrough) as driver:
        out = driver.create_output_topic("out")
        with pytest.raises(NoSuchElementError, match="'out'"):
            getattr(out, read)()


def test_reading_past_the_end_raises_no_such_element_error():
    with driver_for(passthrough) as driver:
        driver.create_input_topic("in").pipe_input("a", 1)
        out = driver.create_output_topic("out")
        out.read_value()
        with pytest.raises(NoSuchElementError):
            out.read_value()


def test_no_such_element_error_is_a_lookup_error():
    assert issubclass(NoSuchElementError, LookupError)


def test_list_reads_of_an_empty_topic_return_empty_collections():
    with driver_for(passthrough) as driver:
        out = driver.create_output_topic("out")
        assert out.read_values_to_list() == []
        assert out.read_key_values_to_list() == []
        assert out.read_records_to_list() == []
        assert out.read_key_values_to_map() == {}


def test_output_topic_serdes_decide_how_bytes_are_read():
    with driver_for(passthrough) as driver:
        driver.create_input_topic("in").pipe_input("k", {"a": 1})
        raw = driver.create_output_topic("out", key_serde=serdes.BYTES, value_serde=serdes.BYTES)
        assert raw.read_key_value() == (b"k", b'{"a":1}')


# ---- piping ----


def test_pipe_value_list_pipes_null_keys():
    with driver_for(passthrough) as driver:
        driver.create_input_topic("in").pipe_value_list(["x", "y"])
        assert driver.create_output_topic("out").read_key_values_to_list() == [
            (None, "x"),
            (None, "y"),
        ]


def test_pipe_record_list_keeps_each_records_timestamp_and_headers():
    with driver_for(passthrough) as driver:
        driver.create_input_topic("in").pipe_record_list(
            [Record("a", 1, 10, (("h", b"1"),)), Record("b", 2, 20)]
        )
        assert driver.create_output_topic("out").read_records_to_list() == [
            Record("a", 1, 10, (("h", b"1"),)),
            Record("b", 2, 20),
        ]


def _timestamps_of(driver, pipe):
    pipe()
    return [r.timestamp for r in driver.create_output_topic("out").read_records_to_list()]


def test_input_timestamps_default_to_the_initial_wall_clock_time():
    topology = build(passthrough)
    with TopologyTestDriver(topology, initial_wall_clock_time=5_000) as driver:
        inp = driver.create_input_topic("in")
        assert _timestamps_of(driver, lambda: inp.pipe_value_list([1, 2])) == [5_000, 5_000]


def test_start_timestamp_and_auto_advance_space_out_default_timestamps():
    with driver_for(passthrough) as driver:
        inp = driver.create_input_topic("in", start_timestamp=1_000, auto_advance=10)
        assert _timestamps_of(driver, lambda: inp.pipe_value_list([1, 2, 3])) == [
            1_000,
            1_010,
            1_020,
        ]


def test_auto_advance_accepts_a_timedelta():
    with driver_for(passthrough) as driver:
        inp = driver.create_input_topic("in", auto_advance=timedelta(seconds=2))
        assert _timestamps_of(driver, lambda: inp.pipe_value_list([1, 2])) == [0, 2_000]


def test_advance_time_moves_the_input_topic_clock():
    with driver_for(passthrough) as driver:
        inp = driver.create_input_topic("in", start_timestamp=100)

        def pipe():
            inp.pipe_input("a", 1)
            inp.advance_time(50)
            inp.pipe_input("b", 2)
            inp.advance_time(timedelta(milliseconds=25))
            inp.pipe_input("c", 3)

        assert _timestamps_of(driver, pipe) == [100, 150, 175]


def test_an_explicit_timestamp_does_not_move_the_input_topic_clock():
    with driver_for(passthrough) as driver:
        inp = driver.create_input_topic("in", start_timestamp=100, auto_advance=1)

        def pipe():
            inp.pipe_input("a", 1)
            inp.pipe_input("b", 2, timestamp=9_999)
            inp.pipe_input("c", 3)

        assert _timestamps_of(driver, pipe) == [100, 9_999, 101]


def test_advance_wall_clock_time_moves_the_processors_system_time():
    times = []

    class Clock(Processor):
        def process(self, record):
            times.append(self.context.current_system_time_ms)

    topology = build(lambda b: b.stream("in").process(Clock))
    with TopologyTestDriver(topology, initial_wall_clock_time=timedelta(seconds=1)) as driver:
        inp = driver.create_input_topic("in")
        inp.pipe_input("k", 1)
        driver.advance_wall_clock_time(timedelta(minutes=1))
        inp.pipe_input("k", 2)
        driver.advance_wall_clock_time(5)
        inp.pipe_input("k", 3)
    assert times == [1_000, 61_000, 61_005]


def test_advance_wall_clock_time_rejects_a_negative_duration():
    with driver_for(passthrough) as driver, pytest.raises(ValueError, match="negative"):
        driver.advance_wall_clock_time(-1)


def test_a_duration_of_the_wrong_type_is_rejected():
    with driver_for(passthrough) as driver, pytest.raises(TypeError, match="timedelta"):
        driver.advance_wall_clock_time("1s")


# ---- topics ----


def test_creating_an_input_topic_the_topology_does_not_read_raises_topology_error():
    with (
        driver_for(passthrough) as driver,
        pytest.raises(TopologyError, match=r"'other'.*\['in'\]"),
    ):
        driver.create_input_topic("other")


def test_output_topics_are_independent():
    def define(b):
        stream = b.stream("in")
        stream.filter(lambda k, v: v % 2 == 0).to("even")
        stream.filter(lambda k, v: v % 2 == 1).to("odd")

    with driver_for(define) as driver:
        driver.create_input_topic("in").pipe_value_list([1, 2, 3])
        even = driver.create_output_topic("even")
        odd = driver.create_output_topic("odd")
        assert odd.read_values_to_list() == [1, 3]
        assert even.read_values_to_list() == [2]


def test_produced_topic_names_lists_only_topics_written_to():
    def define(b):
        stream = b.stream("in")
        stream.filter(lambda k, v: v > 0).to("positive")
        stream.filter(lambda k, v: v < 0).to("negative")

    with driver_for(define) as driver:
        assert driver.produced_topic_names() == set()
        driver.create_input_topic("in").pipe_input("k", 5)
        assert driver.produced_topic_names() == {"positive"}


def test_a_source_of_several_topics_reads_each_of_them():
    with driver_for(lambda b: b.stream(["a", "b"]).to("out")) as driver:
        driver.create_input_topic("a").pipe_input("x", 1)
        driver.create_input_topic("b").pipe_input("y", 2)
        assert driver.create_output_topic("out").read_key_values_to_list() == [("x", 1), ("y", 2)]


# ---- order ----


def test_output_comes_out_in_production_order():
    def define(b):
        b.stream("in").flat_map_values(lambda v: [f"{v}-1", f"{v}-2"]).to("out")

    with driver_for(define) as driver:
        driver.create_input_topic("in").pipe_value_list(["a", "b"])
        assert driver.create_output_topic("out").read_values_to_list() == [
            "a-1",
            "a-2",
            "b-1",
            "b-2",
        ]


def test_each_input_record_is_processed_to_the_end_before_the_next():
    def define(b):
        stream = b.stream("in")
        stream.map_values(lambda v: f"direct-{v}").to("out")
        stream.repartition(name="r").map_values(lambda v: f"repartitioned-{v}").to("out")

    with driver_for(define) as driver:
        driver.create_input_topic("in").pipe_value_list([1, 2])
        assert driver.create_output_topic("out").read_values_to_list() == [
            "direct-1",
            "repartitioned-1",
            "direct-2",
            "repartitioned-2",
        ]


# ---- configuration and lifecycle ----


def test_without_config_the_driver_uses_a_default_application_id():
    with TopologyTestDriver(build(lambda b: b.stream("in").repartition(name="r").to("out"))) as d:
        d.create_input_topic("in").pipe_input("k", 1)
        assert "topology-test-driver-r-repartition" in d.produced_topic_names()


def test_config_may_be_a_dict():
    topology = build(lambda b: b.stream("in").map_values(lambda v: 1 / v).to("out"))
    config = {"application_id": "dict-app", "processing_exception_handler": "log_and_continue"}
    with TopologyTestDriver(topology, config=config) as driver:
        driver.create_input_topic("in").pipe_value_list([0, 2])
        assert driver.create_output_topic("out").read_values_to_list() == [0.5]
        assert driver.config.application_id == "dict-app"


def test_default_serdes_come_from_the_config():
    topology = build(passthrough)
    config = StreamsConfig(application_id="t", default_key_serde="LONG", default_value_serde="INT")
    with TopologyTestDriver(topology, config=config) as driver:
        driver.create_input_topic("in").pipe_input(7, 258)
        raw = driver.create_output_topic("out", serdes.BYTES, serdes.BYTES).read_key_value()
        assert raw == (b"\x00" * 7 + b"\x07", b"\x00\x00\x01\x02")
        assert driver.create_output_topic("out").is_empty()


def test_piping_into_a_closed_driver_raises_topology_error():
    driver = driver_for(passthrough)
    inp = driver.create_input_topic("in")
    driver.close()
    driver.close()  # closing twice is harmless
    with pytest.raises(TopologyError, match="closed"):
        inp.pipe_input("k", 1)


def test_output_can_still_be_read_after_a_failed_record():
    def define(b):
        b.stream("in").map_values(lambda v: 10 // v).to("out")

    with driver_for(define) as driver:
        inp = driver.create_input_topic("in")
        inp.pipe_input("a", 5)
        with pytest.raises(ProcessingError, match="division"):
            inp.pipe_input("b", 0)
        assert driver.create_output_topic("out").read_values_to_list() == [2]
