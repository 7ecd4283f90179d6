"""Restore: before a task processes, replay its changelog partitions into its stores.

Reads from the checkpointed offset (or the start) to the end offset recorded when the
restore began, with a consumer of its own (no group), logging progress once a second.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition

from ..errors import KStreamliteError
from ..state.kv import KeyValueStore
from .task import StreamTask

log = logging.getLogger("kstreamlite.restore")

BATCH = 10_000
# A changelog whose end offset is never reached (a broker that drops its last records)
# must not hold a task in REBALANCING forever: give up waiting after this much silence.
STALL_S = 10.0


@dataclass
class _Job:
    store: KeyValueStore
    topic: str
    partition: int
    start: int
    end: int
    position: int = 0


class Restorer:
    def __init__(self, settings: dict[str, Any], timeout_s: float) -> None:
        self._consumer = Consumer(settings)
        self._timeout = timeout_s
        self.restored_total = 0
        self.last_rate = 0.0  # records/s of the last restore that read anything

    def restore(self, tasks: Iterable[StreamTask]) -> None:
        jobs = self._jobs(tasks)
        if not jobs:
            return
        by_tp = {(j.topic, j.partition): j for j in jobs}
        total = sum(j.end - j.start for j in jobs)
        log.info("restoring %d changelog partitions, up to %d records", len(jobs), total)
        self._consumer.assign([TopicPartition(j.topic, j.partition, j.start) for j in jobs])
        started = last_log = last_record = time.monotonic()
        done = 0
        pending = set(by_tp)
        try:
            while pending:
                messages = self._consumer.consume(BATCH, 0.1)
                if messages:
                    last_record = time.monotonic()
                elif time.monotonic() - last_record > STALL_S:
                    log.warning(
                        "restore: no changelog records for %.0f s before the end offsets of %s; "
                        "treating those partitions as restored",
                        STALL_S,
                        sorted(pending),
                    )
                    break
                changes: dict[tuple[str, int], list[tuple[bytes, bytes | None]]] = {}
                for msg in messages:
                    error = msg.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            continue
                        raise KStreamliteError(f"restoring from {msg.topic()}: {error}")
                    tp = (msg.topic(), msg.partition())
                    changes.setdefault(tp, []).append((msg.key(), msg.value()))
                    by_tp[tp].position = msg.offset() + 1
                for tp, records in changes.items():
                    by_tp[tp].store.restore(records)
                    done += len(records)
                for tp in list(pending):
                    if by_tp[tp].position >= by_tp[tp].end:
                        pending.discard(tp)
                now = time.monotonic()
                if now - last_log >= 1.0:
                    last_log = now
                    rate = done / max(now - started, 1e-9)
                    log.info(
                        "restore: %d records (%.0f/s), about %d remaining",
                        done,
                        rate,
                        max(total - done, 0),
                    )
        finally:
            self._consumer.unassign()
        elapsed = time.monotonic() - started
        self.restored_total += done
        self.last_rate = done / max(elapsed, 1e-9)
        log.info(
            "restore done: %d records in %.2f s (%.0f records/s)",
            done,
            elapsed,
            done / max(elapsed, 1e-9),
        )

    def _jobs(self, tasks: Iterable[StreamTask]) -> list[_Job]:
        jobs = []
        for task in tasks:
            if task.state is None:
                continue
            starts = task.state.restore_offsets()
            for name, (topic, partition) in task.state.changelogs.items():
                low, high = self._consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=self._timeout, cached=False
                )
                start = max(starts.get(name, 0), low)
                if start < high:
                    jobs.append(_Job(task.state.stores[name], topic, partition, start, high, start))
        return jobs

    def end_offset(self, topic: str, partition: int) -> int:
        _, high = self._consumer.get_watermark_offsets(
            TopicPartition(topic, partition), timeout=self._timeout, cached=False
        )
        return int(high)

    def close(self) -> None:
        self._consumer.close()
