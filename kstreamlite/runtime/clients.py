"""librdkafka settings for the consumer, producer and admin client of one instance.

Defaults are tuned for throughput (see DESIGN.md: ``fetch.queue.backoff.ms``) and for
Kafka Streams' semantics (range assignment, manual commits, Java-compatible
partitioning); anything in the user's ``*_config`` overrides them.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from ..config import StreamsConfig

librdkafka_log = logging.getLogger("kstreamlite.librdkafka")


def _common(config: StreamsConfig, role: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": config.require_bootstrap_servers(),
        "client.id": f"{config.application_id}-{role}-{uuid.uuid4().hex[:8]}",
        "logger": librdkafka_log,
    }


# Throughput settings, shared with the benchmarks' plain-loop ceiling so both are tuned alike.
THROUGHPUT_CONSUMER: dict[str, Any] = {
    # Co-partitioned topics must land on the same instance; only range does that.
    "partition.assignment.strategy": "range",
    "fetch.queue.backoff.ms": 10,
    # Prefetch enough to keep the loop busy, not hundreds of MiB (measured on the memory
    # benchmark: 34-52 MiB less resident memory, no throughput lost).
    "queued.min.messages": 10_000,
    "queued.max.messages.kbytes": 16_384,
    "fetch.max.bytes": 4 * 1024 * 1024,
}
THROUGHPUT_PRODUCER: dict[str, Any] = {
    # murmur2 of the key bytes, random for null keys: the Java client's default.
    "partitioner": "murmur2_random",
    "acks": "all",
    "linger.ms": 5,
    "batch.num.messages": 10_000,
    "queue.buffering.max.messages": 1_000_000,
    "queue.buffering.max.kbytes": 1_048_576,
}


def consumer_config(config: StreamsConfig) -> dict[str, Any]:
    settings = _common(config, "consumer")
    settings.update(
        {
            **THROUGHPUT_CONSUMER,
            "group.id": config.application_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 45_000,
            "isolation.level": "read_committed"
            if config.processing_guarantee == "exactly_once_v2"
            else "read_uncommitted",
        }
    )
    settings.update(config.consumer_config)
    return settings


# Kafka Streams' producer default under exactly-once: a crashed instance's open
# transaction blocks read_committed readers of its partitions for at most this long.
EOS_TRANSACTION_TIMEOUT_MS = 10_000


def producer_config(config: StreamsConfig, transactional_id: str | None = None) -> dict[str, Any]:
    settings = _common(config, "producer")
    settings.update({**THROUGHPUT_PRODUCER, "delivery.report.only.error": True})
    if transactional_id is not None:
        settings.update(
            {
                "transactional.id": transactional_id,
                "transaction.timeout.ms": EOS_TRANSACTION_TIMEOUT_MS,
            }
        )
    settings.update(config.producer_config)
    return settings


def admin_config(config: StreamsConfig) -> dict[str, Any]:
    settings = _common(config, "admin")
    settings.update(config.admin_config)
    return settings
