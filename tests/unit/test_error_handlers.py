"""Deserialization, processing and production exception handlers, and the dead-letter queue."""

from __future__ import annotations

import pytest

from kstreamlite import serdes
from kstreamlite.errors import ProcessingError, ProductionError, SerializationError
from kstreamlite.handlers import ErrorContext, HandlerResponse
from tests.unit.helpers import driver_for

SKIPPED = "kstreamlite_skipped_records_total"
DEAD_LETTERED = "kstreamlite_dead_letter_records_total"
MALFORMED = b"{not json"


def passthrough(b):
    b.stream("in").to("out")


def raw_input(driver):
    """An input topic that pipes raw bytes, so malformed payloads reach the source as they are."""
    return driver.create_input_topic("in", key_serde=serdes.BYTES, value_serde=serdes.BYTES)


# ---- deserialization: log_and_fail (default) ----


def test_malformed_json_fails_by_default_naming_topic_partition_and_offset():
    with driver_for(passthrough) as driver:
        inp = raw_input(driver)
        inp.pipe_input(b"k", b"1")
        inp.pipe_input(b"k", b"2")
        with pytest.raises(SerializationError) as info:
            inp.pipe_input(b"k", MALFORMED)
    message = str(info.value)
    assert "topic 'in'" in message
    assert "partition 0" in message
    assert "offset 2" in message
    assert (info.value.topic, info.value.partition, info.value.offset) == ("in", 0, 2)


def test_the_fail_message_suggests_log_and_continue():
    with driver_for(passthrough) as driver:
        inp = raw_input(driver)
        with pytest.raises(SerializationError, match="deserialization_exception_handler"):
            inp.pipe_input(b"k", MALFORMED)


def test_explicit_log_and_fail_fails_on_a_malformed_key():
    with driver_for(passthrough, deserialization_exception_handler="log_and_fail") as driver:
        inp = raw_input(driver)
        with pytest.raises(SerializationError, match=r"offset 0"):
            inp.pipe_input(b"\xff\xfe", b"1")


def test_records_before_the_failure_were_already_written():
    with driver_for(passthrough) as driver:
        inp = raw_input(driver)
        out = driver.create_output_topic("out")
        inp.pipe_input(b"a", b"1")
        with pytest.raises(SerializationError):
            inp.pipe_input(b"b", MALFORMED)
        assert out.read_key_values_to_list() == [("a", 1)]


# ---- deserialization: log_and_continue ----


def test_log_and_continue_skips_malformed_records_and_counts_them():
    with driver_for(passthrough, deserialization_exception_handler="log_and_continue") as driver:
        inp = raw_input(driver)
        out = driver.create_output_topic("out")
        inp.pipe_input(b"a", b"1")
        inp.pipe_input(b"b", MALFORMED)
        inp.pipe_input(b"c", b"[3]")
        inp.pipe_input(b"\xff", b"4")  # key is not UTF-8
        inp.pipe_input(b"e", b"")  # empty is not JSON either
        inp.pipe_input(b"f", b'{"ok": true}')
        assert out.read_key_values_to_list() == [("a", 1), ("c", [3]), ("f", {"ok": True})]
        assert driver.metrics.value(SKIPPED, reason="deserialization") == 3
        assert driver.metrics.value(SKIPPED, reason="deserialization", topic="in") == 3
        assert driver.metrics.value(SKIPPED, reason="processing") == 0


def test_log_and_continue_logs_a_warning_naming_the_record(caplog):
    with driver_for(passthrough, deserialization_exception_handler="log_and_continue") as driver:
        raw_input(driver).pipe_input(b"k", MALFORMED)
    warnings = [r for r in caplog.records if r.name == "kstreamlite.handlers"]
    assert len(warnings) == 1
    assert warnings[0].levelname == "WARNING"
    assert "topic in partition 0 offset 0" in warnings[0].getMessage()


# ---- deserialization: a callable handler ----


def test_a_callable_handler_receives_the_exception_and_an_error_context():
    calls = []

    def handler(exc, ctx):
        calls.append((exc, ctx))
        return "continue"

    with driver_for(passthrough, deserialization_exception_handler=handler) as driver:
        inp = raw_input(driver)
        inp.pipe_input(b"ok", b"1")
        inp.pipe_input(b"bad", MALFORMED, timestamp=777, headers=[("h", b"v")])
        assert driver.create_output_topic("out").read_key_values_to_list() == [("ok", 1)]
    assert len(calls) == 1
    exc, ctx = calls[0]
    assert isinstance(exc, Exception)
    assert isinstance(ctx, ErrorContext)
    assert ctx.stage == "deserialization"
    assert (ctx.topic, ctx.partition, ctx.offset) == ("in", 0, 1)
    assert ctx.timestamp == 777
    assert (ctx.key, ctx.value) == (b"bad", MALFORMED)
    assert list(ctx.headers) == [("h", b"v")]
    assert ctx.processor is None
    assert ctx.task_id == "0_0"


@pytest.mark.parametrize("answer", ["continue", HandlerResponse.CONTINUE])
def test_a_callable_handler_answering_continue_skips_the_record(answer):
    def handler(exc, ctx):
        return answer

    with driver_for(passthrough, deserialization_exception_handler=handler) as driver:
        inp = raw_input(driver)
        inp.pipe_input(b"a", MALFORMED)
        inp.pipe_input(b"b", b"2")
        assert driver.create_output_topic("out").read_key_values_to_list() == [("b", 2)]
        assert driver.metrics.value(SKIPPED, reason="deserialization") == 1


@pytest.mark.parametrize("answer", ["fail", HandlerResponse.FAIL, None])
def test_a_callable_handler_answering_fail_fails_with_serialization_error(answer):
    def handler(exc, ctx):
        return answer

    with driver_for(passthrough, deserialization_exception_handler=handler) as driver:
        inp = raw_input(driver)
        with pytest.raises(SerializationError, match=r"topic 'in', partition 0, offset 0"):
            inp.pipe_input(b"a", MALFORMED)
        assert driver.metrics.value(SKIPPED, reason="deserialization") == 0


def test_a_callable_handler_can_decide_per_record():
    def handler(exc, ctx):
        return "continue" if ctx.key == b"skip-me" else "fail"

    with driver_for(passthrough, deserialization_exception_handler=handler) as driver:
        inp = raw_input(driver)
        inp.pipe_input(b"skip-me", MALFORMED)
        with pytest.raises(SerializationError, match="offset 1"):
            inp.pipe_input(b"other", MALFORMED)


# ---- dead-letter queue ----


def test_dead_letter_queue_receives_the_original_bytes_with_headers_saying_why():
    config = {"deserialization_exception_handler": "log_and_continue"}
    with driver_for(passthrough, dead_letter_queue_topic="dlq", **config) as driver:
        inp = raw_input(driver)
        inp.pipe_input(b"good", b"1")
        inp.pipe_input(b"bad", MALFORMED, timestamp=4_242, headers=[("trace", b"t1")])
        dlq = driver.create_output_topic("dlq", serdes.BYTES, serdes.BYTES)
        record = dlq.read_record()
        assert dlq.is_empty()
        assert driver.create_output_topic("out").read_key_values_to_list() == [("good", 1)]
        assert "dlq" in driver.produced_topic_names()
        assert driver.metrics.value(DEAD_LETTERED, reason="deserialization") == 1
        assert driver.metrics.value(SKIPPED, reason="deserialization") == 1
    assert (record.key, record.value) == (b"bad", MALFORMED)
    assert record.timestamp == 4_242
    headers = dict(record.headers)
    assert headers["trace"] == b"t1"
    assert headers["kstreamlite.dlq.stage"] == b"deserialization"
    assert headers["kstreamlite.dlq.topic"] == b"in"
    assert headers["kstreamlite.dlq.partition"] == b"0"
    assert headers["kstreamlite.dlq.offset"] == b"1"
    assert headers["kstreamlite.dlq.exception"] == b"JSONDecodeError"
    assert headers["kstreamlite.dlq.message"]


def test_dead_letter_queue_also_receives_records_failing_in_a_processor():
    def define(b):
        b.stream("in").map_values(lambda v: 1 / v, name="invert").to("out")

    config = {"processing_exception_handler": "log_and_continue"}
    with driver_for(define, dead_letter_queue_topic="dlq", **config) as driver:
        driver.create_input_topic("in").pipe_value_list([0, 4])
        assert driver.create_output_topic("out").read_values_to_list() == [0.25]
        record = driver.create_output_topic("dlq", serdes.BYTES, serdes.BYTES).read_record()
    assert record.value == b"0"
    headers = dict(record.headers)
    assert headers["kstreamlite.dlq.stage"] == b"processing"
    assert headers["kstreamlite.dlq.processor"] == b"invert"
    assert headers["kstreamlite.dlq.offset"] == b"0"
    assert headers["kstreamlite.dlq.exception"] == b"ZeroDivisionError"


# ---- processing ----


def _boom_on_two(v):
    if v == 2:
        raise ValueError("boom")
    return v * 10


def test_a_raising_user_function_fails_by_default_naming_node_topic_and_offset():
    def define(b):
        b.stream("in").map(lambda k, v: (k, _boom_on_two(v))).to("out")

    with driver_for(define) as driver:
        inp = driver.create_input_topic("in")
        inp.pipe_input("a", 1)
        with pytest.raises(ProcessingError) as info:
            inp.pipe_input("b", 2)
    error = info.value
    assert error.processor == "KSTREAM-MAP-0000000001"
    assert (error.topic, error.partition, error.offset) == ("in", 0, 1)
    message = str(error)
    assert "'KSTREAM-MAP-0000000001'" in message
    assert "ValueError: boom" in message
    assert "topic 'in' partition 0 offset 1" in message
    assert "processing_exception_handler" in message
    assert isinstance(error.__cause__, ValueError)


def test_the_processing_error_names_a_node_given_a_name():
    def define(b):
        b.stream("in").filter(lambda k, v: True).map_values(_boom_on_two, name="times-ten").to(
            "out"
        )

    with driver_for(define) as driver:
        inp = driver.create_input_topic("in")
        with pytest.raises(ProcessingError, match="'times-ten'") as info:
            inp.pipe_input("a", 2)
    assert info.value.processor == "times-ten"


def test_the_processing_error_names_the_innermost_failing_node():
    def define(b):
        b.stream("in").peek(lambda k, v: None, name="first").filter(
            lambda k, v: 1 / 0, name="second"
        ).to("out")

    with driver_for(define) as driver:
        inp = driver.create_input_topic("in")
        with pytest.raises(ProcessingError) as info:
            inp.pipe_input("a", 1)
    assert info.value.processor == "second"


def test_processing_log_and_continue_skips_the_record_and_counts_it():
    def define(b):
        b.stream("in").map_values(_boom_on_two).to("out")

    with driver_for(define, processing_exception_handler="log_and_continue") as driver:
        driver.create_input_topic("in").pipe_value_list([1, 2, 3, 2])
        assert driver.create_output_topic("out").read_values_to_list() == [10, 30]
        assert driver.metrics.value(SKIPPED, reason="processing") == 2
        assert driver.metrics.value(SKIPPED, reason="deserialization") == 0


def test_a_callable_processing_handler_sees_the_failing_node():
    contexts = []

    def handler(exc, ctx):
        contexts.append(ctx)
        return "continue"

    def define(b):
        b.stream("in").map_values(_boom_on_two, name="m").to("out")

    with driver_for(define, processing_exception_handler=handler) as driver:
        driver.create_input_topic("in").pipe_value_list([2])
    assert [(c.stage, c.processor, c.topic, c.offset) for c in contexts] == [
        ("processing", "m", "in", 0)
    ]


def test_a_failing_timestamp_extractor_goes_through_the_processing_handler():
    def define(b):
        b.stream("in", timestamp_extractor=lambda k, v, ts: v["ts"]).to("out")

    with driver_for(define, processing_exception_handler="log_and_continue") as driver:
        driver.create_input_topic("in").pipe_value_list([{"no": 1}, {"ts": 5}])
        assert driver.create_output_topic("out").read_record().timestamp == 5
        assert driver.metrics.value(SKIPPED, reason="processing") == 1


# ---- production ----


def test_a_sink_serialization_failure_fails_as_production_error_by_default():
    def define(b):
        b.stream("in").to("out", value_serde=serdes.LONG)

    with driver_for(define) as driver:
        inp = driver.create_input_topic("in")
        with pytest.raises(ProductionError, match=r"topic 'in' partition 0 offset 0.*LONG"):
            inp.pipe_input("k", "text")


def test_production_log_and_continue_skips_unserializable_records_and_counts_them():
    def define(b):
        b.stream("in").to("out", value_serde=serdes.LONG)

    with driver_for(define, production_exception_handler="log_and_continue") as driver:
        driver.create_input_topic("in").pipe_value_list([1, "x", 3])
        assert driver.create_output_topic("out", value_serde=serdes.LONG).read_values_to_list() == [
            1,
            3,
        ]
        assert driver.metrics.value(SKIPPED, reason="production") == 1


def _raise(*args):
    raise RuntimeError("user code failed")


@pytest.mark.parametrize(
    ("failing", "chain"),
    [
        ("p", lambda s: s.peek(_raise, name="p").map_values(abs, name="mv")),
        ("f", lambda s: s.map(lambda k, v: (k, v), name="m").filter(_raise, name="f")),
        ("fn", lambda s: s.map(lambda k, v: (k, v), name="m").filter_not(_raise, name="fn")),
        ("mv", lambda s: s.map(lambda k, v: (k, v), name="m").map_values(_raise, name="mv")),
        ("sk", lambda s: s.filter(lambda k, v: True, name="f").select_key(_raise, name="sk")),
        ("m2", lambda s: s.map_values(abs, name="mv").map(_raise, name="m2")),
        ("fm", lambda s: s.map_values(abs, name="mv").flat_map(_raise, name="fm")),
        (
            "fmv",
            lambda s: s.select_key(lambda k, v: k, name="sk").flat_map_values(_raise, name="fmv"),
        ),
    ],
)
def test_the_processing_error_names_the_failing_node_anywhere_in_a_chain(failing, chain):
    def define(b):
        chain(b.stream("in")).to("out")

    with driver_for(define) as driver:
        inp = driver.create_input_topic("in")
        with pytest.raises(ProcessingError, match="user code failed") as info:
            inp.pipe_input("a", -1)
    assert info.value.processor == failing
    assert f"processor {failing!r} raised RuntimeError" in str(info.value)


def test_a_production_failure_is_dead_lettered_naming_the_sink():
    def define(b):
        b.stream("in").map_values(lambda v: v).to("out", value_serde=serdes.LONG, name="sink")

    config = {"production_exception_handler": "log_and_continue"}
    with driver_for(define, dead_letter_queue_topic="dlq", **config) as driver:
        driver.create_input_topic("in").pipe_value_list(["x", 2])
        assert driver.create_output_topic("out", value_serde=serdes.LONG).read_values_to_list() == [
            2
        ]
        record = driver.create_output_topic("dlq", serdes.BYTES, serdes.BYTES).read_record()
    assert record.value == b'"x"'
    headers = dict(record.headers)
    assert headers["kstreamlite.dlq.stage"] == b"production"
    assert headers["kstreamlite.dlq.processor"] == b"sink"


def test_a_raising_branch_predicate_names_the_split_node():
    def define(b):
        b.stream("in").split(prefix="route-").branch(_raise, name="a").default_branch()

    with driver_for(define) as driver:
        inp = driver.create_input_topic("in")
        with pytest.raises(ProcessingError) as info:
            inp.pipe_input("k", 1)
    assert info.value.processor == "route-"


def test_a_serialization_error_raised_by_user_code_is_skipped_by_log_and_continue():
    def define(b):
        b.stream("in", value_serde=serdes.BYTES).map_values(serdes.JSON.deserialize).to("out")

    with driver_for(define, processing_exception_handler="log_and_continue") as driver:
        inp = driver.create_input_topic("in", value_serde=serdes.BYTES)
        inp.pipe_input("a", b"{bad")
        inp.pipe_input("b", b"[1]")
        assert driver.create_output_topic("out").read_values_to_list() == [[1]]
        assert driver.metrics.value(SKIPPED, reason="processing") == 1


def test_a_serialization_error_raised_by_user_code_fails_as_a_processing_error():
    def define(b):
        b.stream("in", value_serde=serdes.BYTES).map_values(
            serdes.JSON.deserialize, name="parse"
        ).to("out")

    with driver_for(define) as driver:
        inp = driver.create_input_topic("in", value_serde=serdes.BYTES)
        with pytest.raises(ProcessingError) as info:
            inp.pipe_input("a", b"{bad")
    assert (info.value.processor, info.value.topic, info.value.offset) == ("parse", "in", 0)
