"""Failures a user meets: bad input bytes, missing topics, no broker, exceptions in their code.
Each must end in a clear error (or a clearly skipped record), never a hang or silent loss."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from kstreamlite import KafkaStreams, State, StreamsBuilder
from kstreamlite.errors import (
    BrokerUnavailableError,
    MissingSourceTopicError,
    ProcessingError,
    SerializationError,
)

from .kafka_helpers import (
    KafkaHelper,
    close_all,
    failed,
    free_port,
    headers_dict,
    json_value,
    key_str,
    streams_config,
    wait_until,
)

pytestmark = pytest.mark.integration

SETTLE = 1.0
DLQ = "kstreamlite.dlq."


def _skipped(app: KafkaStreams, reason: str) -> float:
    return sum(
        value
        for name, value in app.metrics().items()
        if name.startswith("kstreamlite_skipped_records_total{") and f"reason={reason}" in name
    )


def test_malformed_records_go_to_dead_letter_topic(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path
) -> None:
    source = kafka.create_topic(f"dlq-in-{unique}", partitions=2)
    sink = kafka.create_topic(f"dlq-out-{unique}", partitions=1)
    dlq = kafka.create_topic(f"dlq-dead-{unique}", partitions=1)
    # Non-empty on purpose: Tansu drops empty values on fetch (BROKER-NOTES.md, 1).
    malformed = [
        ("bad-0", b"{not json"),
        ("bad-1", b"\xff\xfe\x00binary"),
        ("bad-2", b"plain text"),
        ("bad-3", b'{"id": 1,'),
    ]
    valid = [(f"k{i}", {"id": i}) for i in range(120)]
    kafka.produce(source, valid[:60])
    kafka.produce(source, malformed, json_values=False, headers=[("origin", b"sensor-7")])
    kafka.produce(source, valid[60:])

    builder = StreamsBuilder()
    builder.stream(source).map_values(lambda v: {"id": v["id"], "ok": True}).to(sink)
    config = streams_config(
        f"dlq-{unique}",
        bootstrap_servers,
        tmp_path,
        deserialization_exception_handler="log_and_continue",
        dead_letter_queue_topic=dlq,
    )
    app = KafkaStreams(builder.build(), config)
    try:
        app.start()
        assert app.wait_for_state(State.RUNNING, timeout=30_000), app.state
        abort = lambda: failed(app)  # noqa: E731
        out = kafka.read(sink, len(valid), timeout=30, settle=SETTLE, abort_if=abort)
        dead = kafka.read(dlq, len(malformed), timeout=30, settle=SETTLE, abort_if=abort)
        wait_until(lambda: _skipped(app, "deserialization") == len(malformed), timeout=10)
        assert app.state is State.RUNNING, app.exception
    finally:
        close_all(app)

    assert Counter((key_str(m), json_value(m)["id"]) for m in out) == Counter(
        (k, v["id"]) for k, v in valid
    )

    where = {(key_str(m), m.value()): (m.partition(), m.offset()) for m in kafka.read(source, 124)}
    assert sorted((key_str(m), m.value()) for m in dead) == sorted(malformed)
    for m in dead:
        headers = headers_dict(m)
        partition, offset = where[(key_str(m), m.value())]
        assert headers[DLQ + "topic"] == source.encode()
        assert headers[DLQ + "partition"] == str(partition).encode()
        assert headers[DLQ + "offset"] == str(offset).encode()
        assert headers[DLQ + "stage"] == b"deserialization"
        assert headers["origin"] == b"sensor-7"  # the record's own headers are kept


def test_missing_source_topic_gives_clear_error(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path
) -> None:
    present = kafka.create_topic(f"present-{unique}")
    sink = kafka.create_topic(f"missing-out-{unique}")
    missing = f"no-such-topic-{unique}"
    kafka.produce(present, [("k", {"id": 1})])

    def topology():
        builder = StreamsBuilder()
        builder.stream([present, missing]).to(sink)
        return builder.build()

    config = streams_config(f"missing-{unique}", bootstrap_servers, tmp_path)
    app = KafkaStreams(topology(), config.model_copy(update={"startup_timeout_ms": 5_000}))
    try:
        app.start()
        assert app.wait_for_state(State.ERROR, timeout=15_000), app.state
        assert isinstance(app.exception, MissingSourceTopicError), repr(app.exception)
        assert repr(missing) in str(app.exception)
        assert repr(present) not in str(app.exception)
    finally:
        close_all(app)

    blocking = KafkaStreams(topology(), config)
    try:
        with pytest.raises(MissingSourceTopicError, match=missing):
            blocking.run()
        assert blocking.state is State.ERROR
    finally:
        close_all(blocking)
    # Nothing was processed from the topic that does exist.
    assert kafka.read(sink, 0, timeout=5, settle=SETTLE) == []


def test_unreachable_broker_gives_clear_error(unique: str, tmp_path) -> None:
    address = f"127.0.0.1:{free_port()}"
    builder = StreamsBuilder()
    builder.stream(f"in-{unique}").to(f"out-{unique}")
    config = streams_config(f"nobroker-{unique}", address, tmp_path, startup_timeout_ms=3_000)
    app = KafkaStreams(builder.build(), config)
    began = time.monotonic()
    try:
        app.start()
        assert app.wait_for_state(State.ERROR, timeout=20_000), app.state
        took = time.monotonic() - began
        assert isinstance(app.exception, BrokerUnavailableError), repr(app.exception)
        assert address in str(app.exception)
        assert took < 15, f"reaching ERROR took {took:.1f} s with a 3 s startup timeout"
    finally:
        assert app.close(10_000), "close() hung after a start-up failure"


def _bad_on_seven(value):
    if value["n"] == 7:
        raise ValueError("cannot handle seven")
    return {"n": value["n"], "square": value["n"] ** 2}


def _exploding_app(source, sink, config):
    builder = StreamsBuilder()
    builder.stream(source).map_values(_bad_on_seven).to(sink)
    topology = builder.build()
    lines = topology.describe().splitlines()
    mapper = next(line.split()[1] for line in lines if "MAPVALUES" in line)
    return KafkaStreams(topology, config), mapper


def test_exception_in_user_code_ends_in_error(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path
) -> None:
    source = kafka.create_topic(f"boom-in-{unique}")
    sink = kafka.create_topic(f"boom-out-{unique}")
    records = [(f"k{i}", {"n": i}) for i in range(20)]
    kafka.produce(source, records)
    bad_offset = next(m.offset() for m in kafka.read(source, 20) if json_value(m)["n"] == 7)

    app_id = f"boom-{unique}"
    app, mapper = _exploding_app(
        source, sink, streams_config(app_id, bootstrap_servers, tmp_path / "fail")
    )
    try:
        app.start()
        assert app.wait_for_state(State.ERROR, timeout=30_000), app.state
    finally:
        close_all(app)
    error = app.exception
    assert isinstance(error, ProcessingError), repr(error)
    assert (error.processor, error.topic, error.partition, error.offset) == (
        mapper,
        source,
        0,
        bad_offset,
    )
    text = str(error)
    for part in (mapper, repr(source), "partition 0", f"offset {bad_offset}", "cannot handle"):
        assert part in text, (part, text)
    # Nothing from the bad record onwards came out, and no commit passed it.
    out = kafka.read(sink, 7, timeout=5, settle=SETTLE)
    assert all(json_value(m)["n"] < 7 for m in out), [json_value(m) for m in out]
    assert all(offset <= bad_offset for offset in kafka.committed(app_id, source).values())

    # The same code with log_and_continue: the bad record is skipped (and dead-lettered),
    # the rest flow.
    sink_continue = kafka.create_topic(f"{sink}-continue")
    dlq = kafka.create_topic(f"{sink}-dead")
    config = streams_config(
        f"{app_id}-continue",
        bootstrap_servers,
        tmp_path / "continue",
        processing_exception_handler="log_and_continue",
        dead_letter_queue_topic=dlq,
    )
    tolerant, _ = _exploding_app(source, sink_continue, config)
    try:
        tolerant.start()
        assert tolerant.wait_for_state(State.RUNNING, timeout=30_000), tolerant.state
        abort = lambda: failed(tolerant)  # noqa: E731
        out = kafka.read(sink_continue, 19, timeout=30, settle=SETTLE, abort_if=abort)
        dead = kafka.read(dlq, 1, timeout=30, settle=SETTLE, abort_if=abort)
        wait_until(lambda: _skipped(tolerant, "processing") == 1, timeout=10)
        assert tolerant.state is State.RUNNING, tolerant.exception
    finally:
        close_all(tolerant)
    assert sorted((key_str(m), json_value(m)["n"]) for m in out) == sorted(
        (k, v["n"]) for k, v in records if v["n"] != 7
    )
    assert [(key_str(m), json_value(m)) for m in dead] == [("k7", {"n": 7})]
    headers = headers_dict(dead[0])
    assert headers[DLQ + "stage"] == b"processing"
    assert headers[DLQ + "processor"] == mapper.encode()
    assert headers[DLQ + "offset"] == str(bad_offset).encode()
    assert headers[DLQ + "exception"] == b"ValueError"


def test_malformed_record_with_log_and_fail_names_its_origin(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path
) -> None:
    source = kafka.create_topic(f"badjson-in-{unique}")
    sink = kafka.create_topic(f"badjson-out-{unique}")
    kafka.produce(source, [("k0", {"id": 0}), ("k1", {"id": 1})])
    kafka.produce(source, [("k2", b"{oops")], json_values=False)
    kafka.produce(source, [("k3", {"id": 3})])

    builder = StreamsBuilder()
    builder.stream(source).to(sink)
    app = KafkaStreams(
        builder.build(), streams_config(f"badjson-{unique}", bootstrap_servers, tmp_path)
    )
    try:
        app.start()  # deserialization_exception_handler defaults to log_and_fail
        assert app.wait_for_state(State.ERROR, timeout=30_000), app.state
    finally:
        close_all(app)
    error = app.exception
    assert isinstance(error, SerializationError), repr(error)
    assert (error.topic, error.partition, error.offset) == (source, 0, 2)
    assert all(part in str(error) for part in (repr(source), "partition 0", "offset 2"))
    out = kafka.read(sink, 2, timeout=5, settle=SETTLE)
    assert all(key_str(m) in ("k0", "k1") for m in out), [key_str(m) for m in out]
