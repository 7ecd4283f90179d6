"""Stateless pipelines against a real broker: what lands on the output topics, and where."""

from __future__ import annotations

from collections import Counter

import pytest

from kstreamlite import KafkaStreams, State, StreamsBuilder

from .kafka_helpers import (
    KafkaHelper,
    close_all,
    default_partition,
    failed,
    headers_dict,
    json_value,
    key_str,
    streams_config,
)

pytestmark = pytest.mark.integration

SETTLE = 1.0  # seconds to keep reading after the expected count, to catch duplicates


def test_end_to_end(kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path) -> None:
    source = kafka.create_topic(f"e2e-in-{unique}", partitions=4)
    sink = kafka.create_topic(f"e2e-out-{unique}", partitions=4)
    n = 1000
    records = [(f"user-{i % 37}", {"id": i, "amount": i % 10}) for i in range(n)]
    # The Java client's default partitioner, so input partitions are what a Kafka user gets.
    kafka.produce(source, records, partitioner="murmur2_random", headers=[("trace", b"t-1")])
    expected = Counter(
        (key, value["id"], value["amount"] * 2) for key, value in records if value["amount"] >= 3
    )

    builder = StreamsBuilder()
    (
        builder.stream(source)
        .filter(lambda k, v: v["amount"] >= 3)
        .map_values(lambda v: {"id": v["id"], "double": v["amount"] * 2})
        .to(sink)
    )
    config = streams_config(f"e2e-{unique}", bootstrap_servers, tmp_path)
    app = KafkaStreams(builder.build(), config)
    try:
        app.start()
        assert app.wait_for_state(State.RUNNING, timeout=30_000), app.state
        out = kafka.read(
            sink, sum(expected.values()), timeout=30, settle=SETTLE, abort_if=lambda: failed(app)
        )
    finally:
        close_all(app)

    got = Counter((key_str(m), json_value(m)["id"], json_value(m)["double"]) for m in out)
    assert got == expected  # every output exactly once, keys preserved

    inputs = kafka.read(source, n, timeout=30)
    input_partition: dict[str, int] = {}
    input_timestamp: dict[int, int] = {}
    for m in inputs:
        key = key_str(m)
        assert input_partition.setdefault(key, m.partition()) == m.partition()
        input_timestamp[json_value(m)["id"]] = m.timestamp()[1]
    for m in out:
        key = key_str(m)
        # Same key bytes, same murmur2: the output partition is the input key's partition.
        assert m.partition() == input_partition[key], key
        assert m.partition() == default_partition(m.key(), 4), key
        # Kafka Streams semantics: an output record keeps its input's timestamp and headers.
        assert m.timestamp()[1] == input_timestamp[json_value(m)["id"]]
        assert headers_dict(m).get("trace") == b"t-1"


def test_repartition_topic_created_and_used(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path
) -> None:
    source = kafka.create_topic(f"rp-in-{unique}", partitions=3)
    sink = kafka.create_topic(f"rp-out-{unique}", partitions=2)
    app_id = f"rp-{unique}"
    n = 300
    records = [(f"k{i}", {"id": i, "user": f"u{i % 7}"}) for i in range(n)]
    kafka.produce(source, records, partitioner="murmur2_random")

    builder = StreamsBuilder()
    builder.stream(source).select_key(lambda k, v: v["user"]).repartition(name="rk").to(sink)
    app = KafkaStreams(builder.build(), streams_config(app_id, bootstrap_servers, tmp_path))
    try:
        app.start()
        assert app.wait_for_state(State.RUNNING, timeout=30_000), app.state
        out = kafka.read(sink, n, timeout=30, settle=SETTLE, abort_if=lambda: failed(app))
    finally:
        close_all(app)

    repartition_topic = f"{app_id}-rk-repartition"
    topics = kafka.topics()
    assert repartition_topic in topics, sorted(t for t in topics if app_id in t)
    assert topics[repartition_topic] == kafka.partitions(source) == 3

    expected = Counter((v["user"], v["id"]) for _, v in records)
    assert Counter((key_str(m), json_value(m)["id"]) for m in out) == expected
    for m in out:
        assert m.partition() == default_partition(m.key(), 2)

    # The repartition topic really carried the records, partitioned by their new key.
    through = kafka.read(repartition_topic, n, timeout=30)
    assert Counter((key_str(m), json_value(m)["id"]) for m in through) == expected
    for m in through:
        assert m.partition() == default_partition(m.key(), 3), key_str(m)
