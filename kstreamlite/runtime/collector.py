"""KafkaRecordCollector: sends sink records through the instance's one producer.

Delivery reports arrive only for failures (``delivery.report.only.error``); they are
kept until the next commit, which refuses to commit offsets past a record the broker
did not acknowledge.
"""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from ..errors import ProductionError
from .nodes import Collector


class KafkaRecordCollector(Collector):
    def __init__(self, producer_settings: dict[str, Any], partition_counts: dict[str, int]) -> None:
        self.producer = self._producer = Producer(
            {**producer_settings, "on_delivery": self.on_delivery}
        )
        self.produce = self._producer.produce
        self._partitions = partition_counts
        self.failures: list[tuple[KafkaError, Message]] = []
        self.extra_sent: dict[str, int] = {}

    def on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self.failures.append((error, message))

    def produce_when_full(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None,
        partition: int,
        timestamp: int,
        headers: Any,
    ) -> None:
        deadline = time.monotonic() + 60
        while True:
            self._producer.poll(0.05)
            try:
                self.produce(topic, value, key, partition, None, None, timestamp, headers)
                return
            except BufferError:
                if time.monotonic() > deadline:
                    raise ProductionError(
                        "the producer queue stayed full for 60 s; the broker is not accepting "
                        "records (check its health) or queue.buffering.max.* is too small"
                    ) from None

    def partition_count(self, topic: str) -> int:
        count = self._partitions.get(topic)
        if count is None:
            metadata = self._producer.list_topics(topic, timeout=10)
            info = metadata.topics.get(topic)
            if info is None or not info.partitions:
                raise ProductionError(f"cannot find partitions of topic {topic!r}")
            count = self._partitions[topic] = len(info.partitions)
        return count

    def flush(self, timeout_s: float) -> None:
        """Wait until every sent record is acknowledged (or has failed)."""
        remaining = self._producer.flush(timeout_s)
        if remaining:
            raise ProductionError(
                f"{remaining} records were not acknowledged by the broker within "
                f"{timeout_s:.0f} s; not committing their input offsets"
            )
