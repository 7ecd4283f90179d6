"""StreamTask takes the records of a task with several input partitions in timestamp order
(Kafka Streams' PartitionGroup), while keeping each partition's own order."""

from __future__ import annotations

from typing import Any

from kstreamlite import StreamsBuilder, StreamsConfig
from kstreamlite.handlers import ErrorHandling
from kstreamlite.metrics import StreamsMetrics
from kstreamlite.runtime.nodes import Collector
from kstreamlite.runtime.task import StreamTask
from kstreamlite.serdes import JSON, STRING
from kstreamlite.testing.driver import _Message
from kstreamlite.testing.topics import StoredRecord


def message(topic: str, offset: int, timestamp: int, value: Any) -> _Message:
    return _Message(
        topic, offset, StoredRecord(STRING.serialize("k"), JSON.serialize(value), timestamp, ())
    )


class ListCollector(Collector):
    def __init__(self) -> None:
        self.extra_sent = {}
        self.records: list[tuple[str, bytes | None, int]] = []

    def partition_count(self, topic: str) -> int:
        return 1

    def produce(self, topic, value, key, partition, callback, on_delivery, timestamp, headers):
        self.records.append((topic, value, timestamp))


def make_task(topics: list[str]) -> tuple[StreamTask, ListCollector]:
    builder = StreamsBuilder()
    builder.stream(topics).map_values(lambda v: v).to("out")
    topology = builder.build()
    config = StreamsConfig(application_id="ordering")
    collector = ListCollector()
    task = StreamTask(
        "0_0",
        topology.subtopologies()[0],
        0,
        topology,
        application_id="ordering",
        collector=collector,
        errors=ErrorHandling(config, collector, StreamsMetrics("ordering")),
        clock=lambda: 0,
        topic_for=lambda t: t,
        default_key_serde=STRING,
        default_value_serde=JSON,
    )
    return task, collector


def test_records_of_two_partitions_are_processed_in_timestamp_order():
    task, out = make_task(["a", "b"])
    a = [message("a", i, ts, f"a{i}") for i, ts in enumerate([10, 30, 50])]
    b = [message("b", i, ts, f"b{i}") for i, ts in enumerate([20, 40, 60])]
    task.process({("a", 0): a, ("b", 0): b})
    assert [JSON.deserialize(v) for _, v, _ in out.records] == ["a0", "b0", "a1", "b1", "a2", "b2"]
    assert [ts for _, _, ts in out.records] == [10, 20, 30, 40, 50, 60]
    assert task.offsets == {("a", 0): 3, ("b", 0): 3}
    assert task.stream_time == 60


def test_out_of_order_records_keep_their_partition_order_and_stream_time_never_drops():
    task, out = make_task(["a", "b"])
    a = [message("a", 0, 50, "a0"), message("a", 1, 5, "a1")]  # late record in a
    b = [message("b", 0, 20, "b0")]
    task.process({("a", 0): a, ("b", 0): b})
    # b0 (20) goes before a0 (50); a1 stays behind a0 although its timestamp is lower.
    assert [JSON.deserialize(v) for _, v, _ in out.records] == ["b0", "a0", "a1"]
    assert task.stream_time == 50


def test_single_partition_batches_keep_arrival_order():
    task, out = make_task(["a"])
    batch = [message("a", i, ts, i) for i, ts in enumerate([30, 10, 20])]
    task.process({("a", 0): batch})
    assert [JSON.deserialize(v) for _, v, _ in out.records] == [0, 1, 2]
    assert task.offsets == {("a", 0): 3}
