"""The Processor API through KStream.process(): forwarding, the context, lifecycle."""

from __future__ import annotations

import pytest

from kstreamlite import Record
from kstreamlite.errors import ProcessingError, TopologyError
from kstreamlite.processor import Processor, ProcessorContext
from tests.unit.helpers import APP_ID, driver_for


class TimesTen(Processor):
    def process(self, record):
        self.context.forward(record.with_value(record.value * 10))


def test_a_processor_forwards_records_downstream():
    def define(b):
        b.stream("in").process(TimesTen).to("out")

    with driver_for(define) as driver:
        driver.create_input_topic("in").pipe_key_value_list([("a", 1), ("b", 2)])
        assert driver.create_output_topic("out").read_key_values_to_list() == [
            ("a", 10),
            ("b", 20),
        ]


def test_a_processor_receives_key_value_timestamp_and_headers_as_a_record():
    seen = []

    class Keep(Processor):
        def process(self, record):
            seen.append(record)

    with driver_for(lambda b: b.stream("in").process(Keep)) as driver:
        driver.create_input_topic("in").pipe_input(
            "k", {"x": 1}, timestamp=42, headers=[("h", b"1")]
        )
    assert seen == [Record("k", {"x": 1}, 42, (("h", b"1"),))]


def test_a_processor_may_forward_zero_or_many_records_with_new_keys_and_timestamps():
    class Fan(Processor):
        def process(self, record):
            for i in range(record.value):
                self.context.forward(
                    record.with_key(f"{record.key}-{i}").with_timestamp(record.timestamp + i)
                )

    with driver_for(lambda b: b.stream("in").process(Fan).to("out")) as driver:
        inp = driver.create_input_topic("in")
        inp.pipe_input("a", 0, timestamp=100)
        inp.pipe_input("b", 2, timestamp=100)
        records = driver.create_output_topic("out").read_records_to_list()
    assert [(r.key, r.value, r.timestamp) for r in records] == [
        ("b-0", 2, 100),
        ("b-1", 2, 101),
    ]


def _routing_topology(processor_factory):
    def define(b):
        routed = b.stream("in").process(processor_factory, name="router")
        routed.peek(lambda k, v: None, name="evens").to("even")
        routed.peek(lambda k, v: None, name="odds").to("odd")

    return define


class ParityRouter(Processor):
    def process(self, record):
        self.context.forward(record, to="evens" if record.value % 2 == 0 else "odds")


def test_forward_to_a_named_child_reaches_only_that_child():
    with driver_for(_routing_topology(ParityRouter)) as driver:
        driver.create_input_topic("in").pipe_value_list([1, 2, 3, 4])
        assert driver.create_output_topic("even").read_values_to_list() == [2, 4]
        assert driver.create_output_topic("odd").read_values_to_list() == [1, 3]


def test_forward_without_to_reaches_every_child():
    with driver_for(_routing_topology(TimesTen)) as driver:
        driver.create_input_topic("in").pipe_value_list([1])
        assert driver.create_output_topic("even").read_values_to_list() == [10]
        assert driver.create_output_topic("odd").read_values_to_list() == [10]


def test_forward_to_unknown_child_fails_naming_processor_and_children():
    class Lost(Processor):
        def process(self, record):
            self.context.forward(record, to="nowhere")

    with driver_for(_routing_topology(Lost)) as driver:
        inp = driver.create_input_topic("in")
        with pytest.raises(
            ProcessingError, match=r"unknown child 'nowhere'.*\['evens', 'odds'\]"
        ) as info:
            inp.pipe_input("k", 1)
    assert info.value.processor == "router"
    assert isinstance(info.value.__cause__, TopologyError)


def test_forwarding_something_other_than_a_record_is_a_processing_error():
    class Sloppy(Processor):
        def process(self, record):
            self.context.forward((record.key, record.value))

    with driver_for(lambda b: b.stream("in").process(Sloppy, name="sloppy").to("out")) as driver:
        inp = driver.create_input_topic("in")
        with pytest.raises(ProcessingError, match=r"forward a kstreamlite\.Record") as info:
            inp.pipe_input("k", 1)
    assert info.value.processor == "sloppy"


def test_the_context_exposes_record_metadata_task_and_application_id():
    seen = []

    class Inspect(Processor):
        def init(self, context):
            self.context = context
            seen.append(("init", context.record_metadata))

        def process(self, record):
            ctx = self.context
            seen.append((ctx.record_metadata, ctx.task_id, ctx.application_id))

    with driver_for(lambda b: b.stream("in").process(Inspect)) as driver:
        driver.create_input_topic("in").pipe_value_list([1, 2, 3])
    assert seen == [
        ("init", None),
        (("in", 0, 0), "0_0", APP_ID),
        (("in", 0, 1), "0_0", APP_ID),
        (("in", 0, 2), "0_0", APP_ID),
    ]


def test_the_context_is_a_processor_context():
    contexts = []

    class Grab(Processor):
        def init(self, context):
            contexts.append(context)

        def process(self, record):
            pass

    with driver_for(lambda b: b.stream("in").process(Grab)):
        pass
    assert len(contexts) == 1
    assert isinstance(contexts[0], ProcessorContext)


def test_record_metadata_after_a_repartition_names_the_internal_topic_and_second_task():
    seen = []

    class Inspect(Processor):
        def process(self, record):
            seen.append((self.context.record_metadata, self.context.task_id))

    def define(b):
        b.stream("in").repartition(name="r").process(Inspect)

    with driver_for(define) as driver:
        driver.create_input_topic("in").pipe_value_list([1, 2])
    assert seen == [
        ((f"{APP_ID}-r-repartition", 0, 0), "1_0"),
        ((f"{APP_ID}-r-repartition", 0, 1), "1_0"),
    ]


def test_current_stream_time_is_the_highest_timestamp_seen_so_far():
    times = []

    class Clock(Processor):
        def process(self, record):
            times.append(self.context.current_stream_time_ms)

    with driver_for(lambda b: b.stream("in").process(Clock)) as driver:
        inp = driver.create_input_topic("in")
        for ts in (100, 50, 200, 150):
            inp.pipe_input("k", ts, timestamp=ts)
    assert times == [100, 100, 200, 200]


def test_current_system_time_follows_the_driver_wall_clock():
    times = []

    class Clock(Processor):
        def process(self, record):
            times.append(self.context.current_system_time_ms)

    with driver_for(lambda b: b.stream("in").process(Clock)) as driver:
        inp = driver.create_input_topic("in")
        inp.pipe_input("k", 1)
        driver.advance_wall_clock_time(1_500)
        inp.pipe_input("k", 2)
    assert times == [0, 1_500]


def test_the_factory_is_called_once_per_task_and_close_is_called_when_the_driver_closes():
    events = []

    class Lifecycle(Processor):
        def init(self, context):
            super().init(context)
            events.append("init")

        def process(self, record):
            events.append(("process", record.value))

        def close(self):
            events.append("close")

    def factory():
        events.append("factory")
        return Lifecycle()

    with driver_for(lambda b: b.stream("in").process(factory)) as driver:
        driver.create_input_topic("in").pipe_value_list([1])
        assert events == ["factory", "init", ("process", 1)]
    assert events == ["factory", "init", ("process", 1), "close"]


def test_a_processor_class_without_init_still_gets_a_context():
    with driver_for(lambda b: b.stream("in").process(TimesTen).to("out")) as driver:
        driver.create_input_topic("in").pipe_input("k", 3)
        assert driver.create_output_topic("out").read_value() == 30


def test_a_processor_must_define_process():
    class Empty(Processor):
        pass

    with driver_for(lambda b: b.stream("in").process(Empty, name="empty")) as driver:
        inp = driver.create_input_topic("in")
        with pytest.raises(ProcessingError, match="Empty must define process"):
            inp.pipe_input("k", 1)


def test_an_exception_in_a_processor_is_a_processing_error_naming_its_node():
    class Broken(Processor):
        def process(self, record):
            raise KeyError("missing")

    with driver_for(lambda b: b.stream("in").process(Broken, name="broken")) as driver:
        inp = driver.create_input_topic("in")
        with pytest.raises(ProcessingError, match="KeyError: 'missing'") as info:
            inp.pipe_input("k", 1)
    assert (info.value.processor, info.value.topic, info.value.offset) == ("broken", "in", 0)
