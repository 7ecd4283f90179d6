"""Bad conditions while an application runs: the broker unreachable for a while, and an
output topic deleted under it. Each either recovers with nothing it acknowledged lost, or
ends in ERROR with a message that names the problem.

Not here: a source topic deleted under a running app. Against Tansu 0.6.0 the metadata
that follows crashes librdkafka itself (SIGSEGV in rd_kafka_metadata_cache_find, seen with
gdb), taking the test process down; the runtime's answer on Apache Kafka is the
MissingSourceTopicError raised in StreamThread._consumer_error."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from kstreamlite import KafkaStreams, State, StreamsBuilder

from .kafka_helpers import (
    KafkaHelper,
    close_all,
    failed,
    json_value,
    streams_config,
    wait_running,
)

pytestmark = pytest.mark.integration

OUTAGE_S = 8.0  # longer than the tests' 6 s session timeout: the group must recover too


def _echo(source: str, sink: str):
    builder = StreamsBuilder()
    builder.stream(source).map_values(lambda v: {"id": v["id"]}).to(sink)
    return builder.build()


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once_v2"])
def test_an_unreachable_broker_for_a_while_loses_nothing(
    kafka: KafkaHelper,
    bootstrap_servers: str,
    unique: str,
    tmp_path: Path,
    broker_outage,
    guarantee: str,
) -> None:
    source = kafka.create_topic(f"outage-in-{unique}", partitions=2)
    sink = kafka.create_topic(f"outage-out-{unique}", partitions=2)
    before = [(f"k{i % 11}", {"id": i}) for i in range(300)]
    after = [(f"k{i % 11}", {"id": i}) for i in range(300, 600)]
    kafka.produce(source, before)
    config = streams_config(
        f"outage-{unique}", bootstrap_servers, tmp_path, processing_guarantee=guarantee
    )
    app = KafkaStreams(_echo(source, sink), config)
    try:
        app.start()
        wait_running(app)
        kafka.read(sink, len(before), timeout=30, abort_if=lambda: failed(app))
        with broker_outage():
            time.sleep(OUTAGE_S)  # commits, fetches and heartbeats all fail meanwhile
        assert app.state is not State.ERROR, app.exception
        kafka.produce(source, after)
        out = kafka.read(
            sink,
            len(before) + len(after),
            timeout=60,
            settle=1.0,
            abort_if=lambda: failed(app),
            read_committed=True,
        )
        assert app.wait_for_state(State.RUNNING, timeout=30_000), app.state
    finally:
        close_all(app)
    assert app.exception is None
    ids = [json_value(m)["id"] for m in out]
    assert set(ids) == set(range(600))  # nothing lost (at-least-once may repeat some)


def test_an_output_topic_deleted_under_a_running_app_ends_in_error_naming_it(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Path
) -> None:
    if kafka.accepts_writes_to_deleted_topics():
        pytest.skip(
            "this broker acknowledges writes to a deleted topic from a producer that knew it "
            "(Tansu 0.6.0), so no client can notice the deletion"
        )
    source = kafka.create_topic(f"gone-in-{unique}", partitions=1)
    sink = kafka.create_topic(f"gone-out-{unique}", partitions=1)
    kafka.produce(source, [("k", {"id": 0})])
    config = streams_config(
        f"gone-{unique}",
        bootstrap_servers,
        tmp_path,
        producer_config={"message.timeout.ms": 5000},
    )
    app = KafkaStreams(_echo(source, sink), config)
    try:
        app.start()
        wait_running(app)
        kafka.read(sink, 1, timeout=30, abort_if=lambda: failed(app))
        admin = AdminClient({"bootstrap.servers": bootstrap_servers})
        admin.delete_topics([sink])[sink].result(10)
        kafka.produce(source, [("k", {"id": i}) for i in range(1, 50)])
        assert app.wait_for_state(State.ERROR, timeout=60_000), (
            f"the app kept running ({app.state}) while its output topic was gone"
        )
    finally:
        close_all(app)
    assert sink in str(app.exception), app.exception
    # Nothing acknowledged was lost: the failed records' offsets were not committed.
    assert kafka.committed(config.application_id, source).get(0, 0) <= 1
