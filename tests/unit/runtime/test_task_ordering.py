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


def values(out: ListCollector) -> list[Any]:
    return [JSON.deserialize(v) for _, v, _ in out.records]


def test_offer_holds_records_back_while_an_empty_partition_may_not_be_skipped():
    """KIP-695: while partition b has nothing queued but is not caught up, a's newer records
    wait, so b's older records, fetched later, still go first."""
    task, out = make_task(["a", "b"])
    waiting_for_b = True
    may_skip = lambda tp: tp != ("b", 0) or not waiting_for_b  # noqa: E731
    a = [message("a", i, ts, f"a{i}") for i, ts in enumerate([30, 40])]
    assert task.offer({("a", 0): a}, may_skip) is False
    assert out.records == [] and task.buffered == 2 and task.offsets == {}
    assert task.offer({("b", 0): [message("b", 0, 10, "b0")]}, may_skip) is False
    # b0 (10) went first; a0 waits again because b is empty and still not skippable
    assert values(out) == ["b0"] and task.buffered == 2
    waiting_for_b = False
    assert task.drain(may_skip) is True
    assert values(out) == ["b0", "a0", "a1"]
    assert task.offsets == {("a", 0): 2, ("b", 0): 1} and task.buffered == 0


def test_offer_takes_the_single_partition_path_when_the_others_may_be_skipped():
    task, out = make_task(["a", "b"])
    a = [message("a", i, ts, f"a{i}") for i, ts in enumerate([30, 10, 20])]
    assert task.offer({("a", 0): a}, lambda tp: True) is True
    assert values(out) == ["a0", "a1", "a2"] and task.offsets == {("a", 0): 3}


def test_drain_interleaves_runs_of_queued_partitions_by_head_timestamp():
    task, out = make_task(["a", "b"])
    never = lambda tp: False  # noqa: E731
    task.buffer({("a", 0): [message("a", i, ts, f"a{i}") for i, ts in enumerate([1, 2, 5, 6])]})
    task.buffer({("b", 0): [message("b", i, ts, f"b{i}") for i, ts in enumerate([3, 4, 7])]})
    # stops when a runs dry: b2 (7) may not go before a's next, unfetched record
    assert task.drain(never) is False
    assert values(out) == ["a0", "a1", "b0", "b1", "a2", "a3"]
    assert task.buffered == 1 and task.offsets == {("a", 0): 4, ("b", 0): 2}
