"""Source and sink nodes: where bytes become values and values become bytes again.

The source node's per-record work is inlined in StreamTask's loop for speed; this
class only carries what that loop needs. The sink node is on the hot path too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import ProductionError, SerializationError, TopologyError
from ..handlers import ErrorContext
from ..processor._node import NodeContext, NodeProcessor
from ..serdes import Serde


class Collector:
    """Where sinks send serialized records (Kafka producer or the test driver's memory).

    ``produce`` has confluent-kafka's positional signature ``(topic, value, key,
    partition, callback, on_delivery, timestamp, headers)`` so that for Kafka the sink
    calls the producer's C method directly: no Python frame, no keyword parsing.
    It raises BufferError when the queue is full; ``produce_when_full`` then waits.
    """

    produce: Callable[..., None]
    extra_sent: dict[str, int]  # records sent through send(), per topic

    def produce_when_full(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None,
        partition: int,
        timestamp: int,
        headers: Any,
    ) -> None:
        raise NotImplementedError  # pragma: no cover - interface

    def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        timestamp: int,
        headers: Any,
        partition: int = -1,
    ) -> None:
        """The convenient, slower path (dead-letter records)."""
        try:
            self.produce(topic, value, key, partition, None, None, timestamp, headers)
        except BufferError:
            self.produce_when_full(topic, value, key, partition, timestamp, headers)
        self.extra_sent[topic] = self.extra_sent.get(topic, 0) + 1

    def drain_extra_sent(self) -> dict[str, int]:
        counts, self.extra_sent = self.extra_sent, {}
        return counts

    def partition_count(self, topic: str) -> int:
        raise NotImplementedError  # pragma: no cover - interface


class SourceNode(NodeProcessor):
    __slots__ = ("extract", "kde", "topics", "vde")

    def __init__(
        self,
        topics: list[str],
        key_serde: Serde[Any],
        value_serde: Serde[Any],
        extractor: Callable[[Any, Any, int], int] | None,
    ) -> None:
        self.topics = topics
        self.kde = key_serde.de
        self.vde = value_serde.de
        self.extract = extractor

    def process(self, key: Any, value: Any, timestamp: int, headers: Any) -> None:
        self.down(key, value, timestamp, headers)


class SinkNode(NodeProcessor):
    """Serializes and hands a record to the collector; the topic may be chosen per record."""

    __slots__ = (
        "collector",
        "extractor",
        "key_serde",
        "kser",
        "partitioner",
        "produce",
        "produced",
        "task",
        "topic",
        "topic_for",
        "topic_produced",
        "value_serde",
        "vser",
    )

    def __init__(
        self,
        topic: str | None,
        extractor: Callable[[Any, Any], str] | None,
        key_serde: Serde[Any],
        value_serde: Serde[Any],
        partitioner: Callable[[str, Any, Any, int], int | None] | None,
        topic_for: Callable[[str], str],
    ) -> None:
        self.topic = topic
        self.extractor = extractor
        self.key_serde, self.value_serde = key_serde, value_serde
        self.kser = key_serde.ser
        self.vser = value_serde.ser
        self.partitioner = partitioner
        self.topic_for = topic_for

    def init(self, context: NodeContext) -> None:
        super().init(context)
        self.task = context.task
        self.collector = context.task.collector
        self.produce = self.collector.produce
        self.produced = 0
        self.topic_produced: dict[str, int] = {}

    # Hot path: a fixed topic and no partitioner is the common case.
    def process(self, key: Any, value: Any, timestamp: int, headers: Any) -> None:
        topic = self.topic
        if topic is None:
            topic = self._choose_topic(key, value)
        try:
            kb = None if key is None else self.kser(key)
            vb = None if value is None else self.vser(value)
        except Exception as exc:
            self._serialization_failed(exc, topic, key, value, timestamp, headers)
            return
        partition = -1 if self.partitioner is None else self._partition(topic, key, value)
        if partition is None:
            return  # the production handler chose to skip it
        if timestamp < 0:
            timestamp = 0
        try:
            self.produce(topic, vb, kb, partition, None, None, timestamp, headers)
        except BufferError:
            self.collector.produce_when_full(topic, vb, kb, partition, timestamp, headers)
        self.produced += 1

    def drain_produced(self) -> dict[str, int]:
        """Records sent since the last call, per topic (metrics)."""
        if self.topic is not None:
            counts = {self.topic: self.produced} if self.produced else {}
        else:
            counts = self.topic_produced
            self.topic_produced = {}
        self.produced = 0
        return counts

    def _choose_topic(self, key: Any, value: Any) -> str:
        topic = self.extractor(key, value)  # type: ignore[misc]
        if not isinstance(topic, str) or not topic:
            raise TopologyError(
                f"sink {self.name!r}: the topic function returned {topic!r}; "
                "it must return a non-empty topic name"
            )
        topic = self.topic_for(topic)
        self.topic_produced[topic] = self.topic_produced.get(topic, 0) + 1
        return topic

    def _partition(self, topic: str, key: Any, value: Any) -> int | None:
        """The partitioner's choice (-1: the default partitioner), None to skip the record."""
        count = self.task.collector.partition_count(topic)
        chosen = self.partitioner(topic, key, value, count)  # type: ignore[misc]
        if chosen is None:
            return -1
        if isinstance(chosen, int) and 0 <= chosen < count:
            return chosen
        error = ProductionError(
            f"sink {self.name!r}: partitioner returned {chosen!r} for topic {topic!r}, "
            f"which has {count} partitions; return 0..{count - 1} or None"
        )
        self._production_failed(error, None)
        return None

    def _serialization_failed(
        self, exc: BaseException, topic: str, key: Any, value: Any, timestamp: int, headers: Any
    ) -> None:
        """Sink serialization errors go to the production handler, as in Kafka Streams."""
        try:
            self.key_serde.serialize(key)
            what = f"{type(value).__name__} value with serde {self.value_serde.name}"
        except Exception:
            what = f"{type(key).__name__} key with serde {self.key_serde.name}"
        error = SerializationError(
            f"sink {self.name!r} cannot serialize a {what} for topic {topic!r}: "
            f"{type(exc).__name__}: {exc}"
        )
        error.__cause__ = exc
        self._production_failed(error, headers, timestamp)

    def _production_failed(
        self, error: BaseException, headers: Any, timestamp: int | None = None
    ) -> None:
        """Hand a record this sink cannot send to the production exception handler."""
        msg = self.task.current
        self.task.errors.handle(
            error,
            ErrorContext(
                stage="production",
                topic=msg.topic() if msg is not None else None,
                partition=msg.partition() if msg is not None else None,
                offset=msg.offset() if msg is not None else None,
                timestamp=timestamp,
                key=msg.key() if msg is not None else None,
                value=msg.value() if msg is not None else None,
                headers=headers,
                processor=self.name,
                task_id=self.task.id,
            ),
        )
