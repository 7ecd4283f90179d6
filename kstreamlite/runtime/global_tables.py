"""Global tables: every instance's whole copy of each global table's topic.

The topic is the changelog, so the stores are not logged; they are emptied and rebuilt
from the start of the topic whenever the application starts (a row deleted while the
instance was down must not linger). ``GlobalTables`` holds the stores and applies
records (both runtimes use it); ``GlobalTableReader`` is the Kafka side: it loads every
partition up to its end before any task processes, then the stream thread calls
``poll`` between batches so the tables stay current.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from ..errors import MissingSourceTopicError
from ..handlers import ErrorContext, ErrorHandling
from ..state.kv import CacheBudget
from ..topology import Topology
from .state_manager import StateManager

log = logging.getLogger("kstreamlite.global")

GLOBAL_TASK_ID = "global"
BATCH = 5_000


class GlobalTables:
    def __init__(
        self,
        topology: Topology,
        *,
        state_dir: str,
        config: Any,
        errors: ErrorHandling,
        clock: Any,
    ) -> None:
        tables = topology.global_tables
        self.topics = {t.topic: name for name, t in tables.items()}
        self._errors = errors
        self._state = StateManager(
            GLOBAL_TASK_ID,
            0,
            [t.store for t in tables.values()],
            state_dir=state_dir,
            application_id=config.application_id,
            key_serde=config.default_key_serde,
            value_serde=config.default_value_serde,
            budget=CacheBudget(0),
            send_changelog=_no_changelog,
            clock=clock,
        )
        self.stores: dict[str, Any] = self._state.stores
        for store in self.stores.values():  # rebuilt from the topic: start empty
            backend = store._backend
            backend.write([(kb, None) for kb, _ in list(backend.range(None, None))])

    def apply(self, messages: Iterable[Any]) -> int:
        """Upsert (or delete, for a None value) each record into its table's store."""
        applied = 0
        for msg in messages:
            if msg.error() is not None:
                continue
            store = self.stores[self.topics[msg.topic()]]
            kb, vb = msg.key(), msg.value()
            try:
                if kb is None:
                    raise ValueError("a global table record needs a key")
                key = store._kde(kb)
                store.put(key, None if vb is None else store._vde(vb), msg.timestamp()[1])
            except Exception as exc:
                context = ErrorContext.of_message(
                    "deserialization", msg, self.topics[msg.topic()], GLOBAL_TASK_ID
                )
                self._errors.handle(exc, context)
                continue
            applied += 1
        return applied

    def close(self) -> None:
        self._state.close()


def _no_changelog(topic: str, partition: int, kb: bytes, vb: bytes | None, ts: int) -> None:
    raise AssertionError("global stores are not changelogged")  # pragma: no cover


class GlobalTableReader:
    """Reads every partition of the global tables' topics, with a consumer of its own."""

    def __init__(self, tables: GlobalTables, settings: dict[str, Any], timeout_s: float) -> None:
        self._tables = tables
        self._timeout = timeout_s
        self._consumer = Consumer(
            {
                **settings,
                "group.id": f"{settings.get('group.id', 'kstreamlite')}-global",
                "client.id": f"{settings.get('client.id', 'kstreamlite')}-global",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )

    def bootstrap(self) -> None:
        """Load every partition to its end offset; return only then (tasks wait on this)."""
        consumer = self._consumer
        metadata = consumer.list_topics(timeout=self._timeout)
        partitions: list[TopicPartition] = []
        for topic in self._tables.topics:
            found = metadata.topics.get(topic)
            if found is None or found.error is not None:
                raise MissingSourceTopicError(
                    f"global table topic {topic!r} does not exist; create it before starting "
                    "the application"
                )
            partitions += [TopicPartition(topic, p, OFFSET_BEGINNING) for p in found.partitions]
        ends = {}
        for tp in partitions:
            _, high = consumer.get_watermark_offsets(tp, timeout=self._timeout)
            ends[(tp.topic, tp.partition)] = high
        consumer.assign(partitions)
        started = time.monotonic()
        positions = {key: 0 for key in ends}
        loaded = 0
        while True:
            batch = consumer.consume(BATCH, 0.5)
            loaded += self._tables.apply(batch)
            for msg in batch:
                if msg.error() is None:
                    positions[(msg.topic(), msg.partition())] = msg.offset() + 1
            # Done at the end offsets once a batch brings nothing more: some brokers report
            # a high watermark below the true end (BROKER-NOTES #2).
            if not batch and all(positions[k] >= end for k, end in ends.items()):
                break
            if time.monotonic() - started > max(self._timeout, 60.0) and not batch:
                log.warning("global tables: end offsets %s not reached; going on", ends)
                break
        log.info(
            "global tables %s loaded: %d records in %.1f s",
            sorted(self._tables.stores),
            loaded,
            time.monotonic() - started,
        )

    def poll(self) -> None:
        """Apply what arrived since the last call (non-blocking)."""
        batch = self._consumer.consume(BATCH, 0)
        if batch:
            self._tables.apply(batch)
            for msg in batch:
                err = msg.error()
                if err is not None and err.code() != KafkaError._PARTITION_EOF:
                    log.warning("global table consumer: %s", err)

    def close(self) -> None:
        self._consumer.close()
