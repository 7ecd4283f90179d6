"""Processor API state stores and punctuation (stream time and wall-clock time)."""

from __future__ import annotations

import tempfile
from datetime import timedelta

import pytest

from kstreamlite import KeyValue, Record, StreamsConfig, serdes
from kstreamlite.errors import ProcessingError, TopologyError
from kstreamlite.processor import Processor, PunctuationType
from kstreamlite.state import Stores
from kstreamlite.testing import TopologyTestDriver
from tests.unit.helpers import APP_ID, build, driver_for

STREAM = PunctuationType.STREAM_TIME
WALL = PunctuationType.WALL_CLOCK_TIME


def driver_at(define, wall_clock: int = 0, **config) -> TopologyTestDriver:
    return TopologyTestDriver(
        build(define),
        config=StreamsConfig(application_id=APP_ID, **config),
        initial_wall_clock_time=wall_clock,
    )


@pytest.fixture
def temp_in_tmp_path(tmp_path, monkeypatch):
    """Make the driver's temporary state directory land in tmp_path (visible, cleaned up)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


# ---- state stores ----


class RunningTotal(Processor):
    def init(self, context):
        self.context = context
        self.store = context.get_state_store("totals")

    def process(self, record):
        total = (self.store.get(record.key) or 0) + record.value
        self.store.put(record.key, total)
        self.context.forward(record.with_value(total))


def running_total(**store_options):
    def define(b):
        b.add_state_store(Stores.key_value_store_builder("totals", **store_options))
        b.stream("in").process(RunningTotal, stores=["totals"], name="totals-proc").to("out")

    return define


@pytest.mark.parametrize("persistent", [True, False], ids=["rocksdb", "in-memory"])
def test_a_processor_keeps_state_in_a_store_it_is_connected_to(persistent):
    with driver_for(running_total(persistent=persistent)) as driver:
        driver.create_input_topic("in").pipe_key_value_list([("a", 1), ("b", 10), ("a", 2)])
        assert driver.create_output_topic("out").read_key_values_to_list() == [
            ("a", 1),
            ("b", 10),
            ("a", 3),
        ]
        store = driver.get_key_value_store("totals")
        assert list(store.all()) == [KeyValue("a", 3), KeyValue("b", 10)]


def test_a_processor_store_is_logged_to_application_store_changelog():
    with driver_for(running_total()) as driver:
        driver.create_input_topic("in").pipe_key_value_list([("a", 1), ("a", 2)])
        assert driver.produced_topic_names() == {"out", f"{APP_ID}-totals-changelog"}
        changelog = driver.create_output_topic(f"{APP_ID}-totals-changelog")
        assert changelog.read_key_values_to_list() == [("a", 1), ("a", 3)]


def test_a_processor_store_without_logging_writes_no_changelog():
    with driver_for(running_total(logging=False)) as driver:
        driver.create_input_topic("in").pipe_input("a", 1)
        assert driver.produced_topic_names() == {"out"}


def test_a_processor_store_uses_the_serdes_of_its_builder():
    with driver_for(running_total(key_serde=serdes.STRING, value_serde=serdes.LONG)) as driver:
        driver.create_input_topic("in").pipe_input("a", 7)
        changelog = driver.create_output_topic(
            f"{APP_ID}-totals-changelog", value_serde=serdes.BYTES
        )
        assert changelog.read_value() == (7).to_bytes(8, "big")


class PutTwice(Processor):
    def init(self, context):
        self.store = context.get_state_store("s")

    def process(self, record):
        self.store.put(record.key, record.value)
        self.store.put(record.key, record.value * 2)


def put_twice(caching):
    def define(b):
        b.add_state_store(Stores.key_value_store_builder("s", caching=caching))
        b.stream("in").process(PutTwice, stores=["s"])

    return define


def test_with_caching_the_driver_commit_after_each_record_logs_only_the_latest_value():
    with driver_for(put_twice(True)) as driver:
        driver.create_input_topic("in").pipe_key_value_list([("a", 1), ("a", 5)])
        changelog = driver.create_output_topic(f"{APP_ID}-s-changelog")
        assert changelog.read_key_values_to_list() == [("a", 2), ("a", 10)]


def test_without_caching_every_put_of_a_processor_is_logged():
    with driver_for(put_twice(False)) as driver:
        driver.create_input_topic("in").pipe_key_value_list([("a", 1), ("a", 5)])
        changelog = driver.create_output_topic(f"{APP_ID}-s-changelog")
        assert changelog.read_key_values_to_list() == [("a", 1), ("a", 2), ("a", 5), ("a", 10)]


def test_get_state_store_of_an_unconnected_store_raises_topology_error_naming_connected_ones(
    temp_in_tmp_path,
):
    class WrongStore(Processor):
        def init(self, context):
            context.get_state_store("other")

        def process(self, record):
            pass

    def define(b):
        b.add_state_store(Stores.key_value_store_builder("mine"))
        b.add_state_store(Stores.key_value_store_builder("other"))
        b.stream("in").process(WrongStore, stores=["mine"], name="p")

    with pytest.raises(TopologyError) as info:
        driver_for(define)
    message = str(info.value)
    assert "processor 'p' is not connected to store 'other'" in message
    assert "connected stores: ['mine']" in message
    assert "Pass stores=['other'] to process()" in message


def test_get_state_store_during_process_fails_the_record_with_the_topology_error_as_cause():
    class LateLookup(Processor):
        def process(self, record):
            self.context.get_state_store("missing")

    with driver_for(lambda b: b.stream("in").process(LateLookup, name="late")) as driver:
        inp = driver.create_input_topic("in")
        with pytest.raises(ProcessingError, match=r"connected stores: \[\]") as info:
            inp.pipe_input("k", 1)
    assert info.value.processor == "late"
    assert isinstance(info.value.__cause__, TopologyError)


def test_process_with_an_unregistered_store_is_rejected_when_building():
    with pytest.raises(TopologyError, match="state store 'ghost' is not registered"):
        build(lambda b: b.stream("in").process(RunningTotal, stores=["ghost"], name="p"))


def test_two_processors_sharing_a_store_see_each_others_writes():
    class Write(Processor):
        def init(self, context):
            self.context = context
            self.store = context.get_state_store("shared")

        def process(self, record):
            self.store.put(record.key, record.value)

    class Read(Processor):
        def init(self, context):
            self.context = context
            self.store = context.get_state_store("shared")

        def process(self, record):
            self.context.forward(record.with_value(self.store.get(record.value)))

    def define(b):
        b.add_state_store(Stores.key_value_store_builder("shared"))
        b.stream("writes").process(Write, stores=["shared"])
        b.stream("reads").process(Read, stores=["shared"]).to("out")

    with driver_for(define) as driver:
        driver.create_input_topic("writes").pipe_input("x", 42)
        driver.create_input_topic("reads").pipe_input("q", "x")
        assert driver.create_output_topic("out").read_key_value() == ("q", 42)
        assert len(build(define).subtopologies()) == 1


def test_commit_inside_process_is_accepted_and_processing_goes_on():
    class Committing(Processor):
        def process(self, record):
            self.context.commit()
            self.context.forward(record)

    with driver_for(lambda b: b.stream("in").process(Committing).to("out")) as driver:
        driver.create_input_topic("in").pipe_key_value_list([("a", 1), ("b", 2)])
        assert driver.create_output_topic("out").read_key_values_to_list() == [
            ("a", 1),
            ("b", 2),
        ]


# ---- punctuation ----


def ticking(kind, interval, fired, *, name="ticker", on_tick=None, on_record=None):
    """A topology whose processor schedules one punctuator in init and records its calls."""

    class Ticker(Processor):
        def init(self, context):
            self.context = context
            self.handle = context.schedule(interval, kind, self.tick)

        def tick(self, timestamp):
            fired.append(timestamp)
            if on_tick is not None:
                on_tick(self, timestamp)

        def process(self, record):
            if on_record is not None:
                on_record(self, record)

    def define(b):
        b.stream("in").process(Ticker, name=name).to("out")

    return define


def fires_per_record(define, timestamps):
    """The punctuator calls that each piped record (at the given timestamps) caused."""
    fired: list[int] = []
    steps = []
    with driver_for(define(fired)) as driver:
        inp = driver.create_input_topic("in")
        for ts in timestamps:
            before = len(fired)
            inp.pipe_input("k", 1, timestamp=ts)
            steps.append(fired[before:])
    return steps


def test_a_stream_time_punctuator_fires_first_with_the_first_records_timestamp():
    assert fires_per_record(lambda f: ticking(STREAM, 10, f), [1000]) == [[1000]]


def test_a_stream_time_punctuator_does_not_fire_without_records_however_the_wall_clock_moves():
    fired: list[int] = []
    with driver_at(ticking(STREAM, 10, fired)) as driver:
        driver.advance_wall_clock_time(10_000)
    assert fired == []


def test_a_stream_time_punctuator_fires_again_when_stream_time_reaches_the_next_interval():
    steps = fires_per_record(lambda f: ticking(STREAM, 10, f), [1000, 1005, 1009, 1010, 1019])
    assert steps == [[1000], [], [], [1010], []]


def test_a_stream_time_punctuator_fires_only_once_when_stream_time_jumps_several_intervals():
    steps = fires_per_record(lambda f: ticking(STREAM, 10, f), [1000, 1055, 1059, 1060])
    # after the jump to 1055 the next punctuation is due at 1060, not at 1010..1050
    assert steps == [[1000], [1055], [], [1060]]


def test_a_stream_time_punctuator_never_fires_for_out_of_order_records():
    steps = fires_per_record(lambda f: ticking(STREAM, 10, f), [1000, 1015, 1001, 1019, 1020])
    assert steps == [[1000], [1015], [], [], [1020]]


def test_stream_time_punctuation_combined_schedule_matches_kafka_streams():
    steps = fires_per_record(
        lambda f: ticking(STREAM, 10, f), [100, 105, 110, 109, 135, 139, 140, 150]
    )
    assert steps == [[100], [], [110], [], [135], [], [140], [150]]


def test_stream_time_punctuation_is_aligned_to_multiples_of_the_interval_as_in_kafka():
    steps = fires_per_record(lambda f: ticking(STREAM, 10, f), [7, 16, 17, 25, 26])
    # Kafka: due at 0, then 10, 20, 30 (the code gives [[7], [], [17], [], []]: due at 17, 27)
    assert steps == [[7], [16], [], [25], []]


def test_the_stream_time_punctuator_sees_the_current_stream_time():
    seen = []

    def on_tick(proc, ts):
        seen.append((ts, proc.context.current_stream_time_ms))

    fires_per_record(lambda f: ticking(STREAM, 10, f, on_tick=on_tick), [50, 60])
    assert seen == [(50, 50), (60, 60)]


def test_a_wall_clock_punctuator_fires_once_the_interval_has_passed_and_not_before():
    fired: list[int] = []
    with driver_at(ticking(WALL, 100, fired), wall_clock=5000) as driver:
        driver.advance_wall_clock_time(99)
        assert fired == []
        driver.advance_wall_clock_time(1)
        assert fired == [5100]
        driver.advance_wall_clock_time(99)
        assert fired == [5100]
        driver.advance_wall_clock_time(1)
        assert fired == [5100, 5200]


def test_a_wall_clock_punctuator_fires_only_once_for_a_jump_of_several_intervals():
    fired: list[int] = []
    with driver_at(ticking(WALL, 100, fired)) as driver:
        driver.advance_wall_clock_time(350)
        assert fired == [350]
        driver.advance_wall_clock_time(49)  # 399: the next one is due at 400
        assert fired == [350]
        driver.advance_wall_clock_time(1)
        assert fired == [350, 400]


def test_a_wall_clock_punctuator_ignores_record_timestamps():
    fired: list[int] = []
    with driver_at(ticking(WALL, 100, fired)) as driver:
        inp = driver.create_input_topic("in")
        inp.pipe_input("k", 1, timestamp=1_000_000)
        inp.pipe_input("k", 1, timestamp=2_000_000)
        assert fired == []
        driver.advance_wall_clock_time(100)
        assert fired == [100]


def test_a_wall_clock_interval_may_be_a_timedelta():
    fired: list[int] = []
    with driver_at(ticking(WALL, timedelta(seconds=2), fired)) as driver:
        driver.advance_wall_clock_time(timedelta(seconds=1))
        assert fired == []
        driver.advance_wall_clock_time(timedelta(seconds=1))
        assert fired == [2000]


def test_cancel_stops_a_punctuator_from_inside_its_callback():
    fired: list[int] = []

    def cancel_on_second(proc, ts):
        if len(fired) == 2:
            proc.handle.cancel()

    with driver_at(ticking(WALL, 100, fired, on_tick=cancel_on_second)) as driver:
        for _ in range(5):
            driver.advance_wall_clock_time(100)
    assert fired == [100, 200]


def test_cancel_from_process_stops_a_stream_time_punctuator():
    def cancel_at_1020(proc, record):
        if record.timestamp == 1020:
            proc.handle.cancel()

    steps = fires_per_record(
        lambda f: ticking(STREAM, 10, f, on_record=cancel_at_1020), [1000, 1010, 1020, 1030]
    )
    # the record at 1020 is processed (and cancels) before punctuation is checked
    assert steps == [[1000], [1010], [], []]


def test_records_forwarded_from_a_wall_clock_punctuator_reach_the_sink():
    def emit(proc, ts):
        proc.context.forward(Record("tick", ts // 100, ts))

    fired: list[int] = []
    with driver_at(ticking(WALL, 100, fired, on_tick=emit)) as driver:
        driver.advance_wall_clock_time(100)
        driver.advance_wall_clock_time(100)
        records = driver.create_output_topic("out").read_records_to_list()
    assert [(r.key, r.value, r.timestamp) for r in records] == [("tick", 1, 100), ("tick", 2, 200)]


class WindowedSum(Processor):
    """Sums values per key and emits (then clears) the sums every 10 ms of stream time."""

    def init(self, context):
        self.context = context
        self.store = context.get_state_store("sums")
        context.schedule(10, STREAM, self.emit)

    def process(self, record):
        self.store.put(record.key, (self.store.get(record.key) or 0) + record.value)

    def emit(self, timestamp):
        for key, total in list(self.store.all()):
            self.context.forward(Record(key, total, timestamp))
            self.store.delete(key)


def test_a_stream_time_punctuator_can_emit_and_clear_store_contents():
    def define(b):
        b.add_state_store(Stores.key_value_store_builder("sums"))
        b.stream("in").process(WindowedSum, stores=["sums"]).to("out")

    with driver_for(define) as driver:
        inp = driver.create_input_topic("in")
        inp.pipe_input("a", 1, timestamp=0)  # punctuates at 0, after the record
        inp.pipe_input("a", 2, timestamp=5)
        inp.pipe_input("b", 3, timestamp=6)
        inp.pipe_input("a", 4, timestamp=10)  # punctuates at 10
        out = driver.create_output_topic("out")
        records = out.read_records_to_list()
        assert [(r.key, r.value, r.timestamp) for r in records] == [
            ("a", 1, 0),
            ("a", 6, 10),
            ("b", 3, 10),
        ]
        assert list(driver.get_key_value_store("sums").all()) == []


def test_record_metadata_is_none_inside_punctuators_and_set_while_processing():
    seen = []

    def on_tick(proc, ts):
        seen.append(("tick", proc.context.record_metadata))

    def on_record(proc, record):
        seen.append(("record", proc.context.record_metadata))

    with driver_at(ticking(STREAM, 10, [], on_tick=on_tick, on_record=on_record)) as driver:
        driver.create_input_topic("in").pipe_input("k", 1, timestamp=0)
    assert seen == [("record", ("in", 0, 0)), ("tick", None)]

    seen.clear()
    with driver_at(ticking(WALL, 10, [], on_tick=on_tick, on_record=on_record)) as driver:
        driver.create_input_topic("in").pipe_input("k", 1, timestamp=0)
        driver.advance_wall_clock_time(10)
    assert seen == [("record", ("in", 0, 0)), ("tick", None)]


def test_an_exception_in_a_wall_clock_punctuator_is_a_processing_error_naming_the_processor():
    def explode(proc, ts):
        raise RuntimeError("punctuator broke")

    with (
        driver_at(ticking(WALL, 100, [], name="clock-proc", on_tick=explode)) as driver,
        pytest.raises(ProcessingError, match="punctuator broke") as info,
    ):
        driver.advance_wall_clock_time(100)
    assert info.value.processor == "clock-proc"
    assert "processor 'clock-proc' raised RuntimeError" in str(info.value)
    assert isinstance(info.value.__cause__, RuntimeError)


def test_an_exception_in_a_stream_time_punctuator_fails_the_piped_record():
    def explode(proc, ts):
        raise KeyError("missing")

    with driver_at(ticking(STREAM, 10, [], name="stream-proc", on_tick=explode)) as driver:
        inp = driver.create_input_topic("in")
        with pytest.raises(ProcessingError) as info:
            inp.pipe_input("k", 1, timestamp=0)
    assert info.value.processor == "stream-proc"
    assert isinstance(info.value.__cause__, KeyError)


def test_log_and_continue_skips_a_failing_punctuation_and_keeps_the_schedule():
    fired: list[int] = []

    def explode_first(proc, ts):
        if len(fired) == 1:
            raise RuntimeError("first tick fails")

    with driver_at(
        ticking(WALL, 100, fired, on_tick=explode_first),
        processing_exception_handler="log_and_continue",
    ) as driver:
        driver.advance_wall_clock_time(100)
        driver.advance_wall_clock_time(100)
        assert fired == [100, 200]
        assert driver.metrics.value("kstreamlite_skipped_records_total") == 1.0


def test_schedule_rejects_an_interval_below_one_millisecond(temp_in_tmp_path):
    with pytest.raises(ValueError, match="at least 1 ms, got 0"):
        driver_at(ticking(WALL, 0, []))


def test_schedule_rejects_a_punctuation_type_that_is_not_a_punctuation_type(temp_in_tmp_path):
    with pytest.raises(TypeError, match="STREAM_TIME or WALL_CLOCK_TIME"):
        driver_at(ticking("stream_time", 10, []))


def test_a_driver_that_fails_to_build_removes_its_temporary_state_directory(temp_in_tmp_path):
    with pytest.raises(ValueError):
        driver_at(ticking(WALL, 0, []))
    assert [p.name for p in temp_in_tmp_path.iterdir()] == []
