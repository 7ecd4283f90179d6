"""Restore: replay each new task's changelog partitions into its stores before it processes.

Incremental: ``add`` registers tasks, ``step`` reads one batch and returns the tasks that
have caught up. The stream thread calls ``step`` from its loop while the restoring tasks'
inputs are paused, so the main consumer keeps polling (and keeps its group membership,
however long the restore takes). Reads from the checkpointed offset (or the start) to the
end offset seen when the task was added, with a consumer of its own (no group), and logs
progress once a second.
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
# must not hold a task back forever: give up waiting after this much silence.
STALL_S = 10.0


@dataclass
class _Job:
    task: StreamTask
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
        self._jobs: dict[tuple[str, int], _Job] = {}
        self.restored_total = 0
        self.last_rate = 0.0  # records/s of the last restore that read anything
        self._started = self._last_log = self._last_record = 0.0
        self._done = 0
        self._total = 0

    @property
    def active(self) -> bool:
        return bool(self._jobs)

    def add(self, tasks: Iterable[StreamTask]) -> list[StreamTask]:
        """Start restoring these tasks; returns those that have anything to restore."""
        new = self._plan(tasks)
        if not new:
            return []
        if not self._jobs:
            self._started = self._last_log = self._last_record = time.monotonic()
            self._done = self._total = 0
        for job in new:
            self._jobs[(job.topic, job.partition)] = job
        added = sum(j.end - j.start for j in new)
        self._total += added
        log.info("restoring %d changelog partitions, up to %d records", len(new), added)
        self._reassign()
        return list({id(j.task): j.task for j in new}.values())

    def remove(self, tasks: Iterable[StreamTask]) -> None:
        """Forget tasks that were revoked before they finished restoring."""
        gone = {id(t) for t in tasks}
        before = len(self._jobs)
        self._jobs = {tp: j for tp, j in self._jobs.items() if id(j.task) not in gone}
        if len(self._jobs) != before:
            self._reassign()

    def step(self, timeout_s: float = 0.05) -> list[StreamTask]:
        """Apply one batch of changelog records; returns the tasks that are now restored."""
        if not self._jobs:
            return []
        messages = self._consumer.consume(BATCH, timeout_s)
        now = time.monotonic()
        stalled = False
        if messages:
            self._last_record = now
        elif now - self._last_record > STALL_S:
            log.warning(
                "restore: no changelog records for %.0f s before the end offsets of %s; "
                "treating those partitions as restored",
                STALL_S,
                sorted(self._jobs),
            )
            stalled = True
        changes: dict[tuple[str, int], list[tuple[bytes, bytes | None]]] = {}
        for msg in messages:
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    # Past the last record: a transaction marker (exactly-once) leaves the
                    # last record's offset + 1 short of the end.
                    job = self._jobs.get((msg.topic(), msg.partition()))
                    if job is not None:
                        job.position = max(job.position, msg.offset())
                    continue
                raise KStreamliteError(f"restoring from {msg.topic()}: {error}")
            tp = (msg.topic(), msg.partition())
            if tp in self._jobs:
                changes.setdefault(tp, []).append((msg.key(), msg.value()))
                self._jobs[tp].position = msg.offset() + 1
        for tp, records in changes.items():
            self._jobs[tp].store.restore(records)
            self._done += len(records)
        # Done at the end offset once a batch brings nothing more: on a broker whose high
        # watermark lags its last batch (Tansu), the rest of that batch is already fetched.
        finished = [
            tp
            for tp, j in self._jobs.items()
            if stalled or (j.position >= j.end and tp not in changes)
        ]
        waiting = {id(j.task) for tp, j in self._jobs.items() if tp not in finished}
        ready: dict[int, StreamTask] = {}
        for tp in finished:
            task = self._jobs.pop(tp).task
            if id(task) not in waiting:
                ready[id(task)] = task
        if finished:
            self._reassign()
        if now - self._last_log >= 1.0:
            self._last_log = now
            log.info(
                "restore: %d records (%.0f/s), about %d remaining",
                self._done,
                self._done / max(now - self._started, 1e-9),
                max(self._total - self._done, 0),
            )
        if not self._jobs:
            self._finish()
        return list(ready.values())

    def _finish(self) -> None:
        elapsed = time.monotonic() - self._started
        self.restored_total += self._done
        if self._done:
            self.last_rate = self._done / max(elapsed, 1e-9)
        log.info(
            "restore done: %d records in %.2f s (%.0f records/s)",
            self._done,
            elapsed,
            self._done / max(elapsed, 1e-9),
        )

    def _reassign(self) -> None:
        if self._jobs:
            self._consumer.assign(
                [TopicPartition(j.topic, j.partition, j.position) for j in self._jobs.values()]
            )
        else:
            self._consumer.unassign()

    def _plan(self, tasks: Iterable[StreamTask]) -> list[_Job]:
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
                    store = task.state.stores[name]
                    jobs.append(_Job(task, store, topic, partition, start, high, start))
        return jobs

    def remaining(self) -> dict[tuple[str, str], int]:
        """Records still to restore per (task id, store name)."""
        left: dict[tuple[str, str], int] = {}
        for job in list(self._jobs.values()):
            key = (job.task.id, job.store.name)
            left[key] = left.get(key, 0) + max(job.end - job.position, 0)
        return left

    def end_offset(self, topic: str, partition: int) -> int:
        return self.offsets(topic, partition)[1]

    def offsets(self, topic: str, partition: int) -> tuple[int, int]:
        """(log start, end) of a partition, asked of the broker."""
        low, high = self._consumer.get_watermark_offsets(
            TopicPartition(topic, partition), timeout=self._timeout, cached=False
        )
        return int(low), int(high)

    def close(self) -> None:
        self._consumer.close()
