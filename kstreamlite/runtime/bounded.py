"""Bounded runs: what a StreamThread needs to process what the topics hold now, then stop.

At assignment each source partition gets its end: the end offset then, or the end an
unfinished earlier run of the same application recorded with its committed offsets (so
the new owner of a partition after a rebalance stops where the old one would have). A
task is complete when it has read every source partition to its end and every upstream
task writing to its repartition partitions has announced its own end. A complete task
closes its windows (unless ``flush_windows_at_end=False``), writes its cached state,
and announces its end downstream; the instance stops when all its tasks are complete.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..errors import TopologyError
from ..topology import SinkDef, Topology
from .task import StreamTask

TopicPartition = tuple[str, int]
# A complete task repeats its end mark this often, for a downstream task that moved to a
# new owner after the mark was consumed and committed.
REANNOUNCE_S = 0.5


@dataclass
class BoundedRunSummary:
    """What ``app.run(bounded=True)`` returns: records read and written per topic (output
    and repartition topics; not changelogs or watermark marks), and the time it took."""

    read: dict[str, int] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0

    @property
    def records_read(self) -> int:
        return sum(self.read.values())

    @property
    def records_per_second(self) -> float:
        return self.records_read / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def __str__(self) -> str:
        lines = [
            f"bounded run: {self.records_read:,} records read in {self.elapsed_s:.2f} s "
            f"({self.records_per_second:,.0f} records/s)"
        ]
        lines += [f"  read    {topic}: {n:,}" for topic, n in sorted(self.read.items())]
        lines += [f"  written {topic}: {n:,}" for topic, n in sorted(self.written.items())]
        return "\n".join(lines)


def check_acyclic(topology: Topology) -> None:
    """A bounded run ends a sub-topology once every sub-topology writing to its repartition
    topics has ended; sub-topologies that write to each other (a foreign-key join's
    subscription and response topics) would wait for each other for ever."""
    writers: dict[str, set[int]] = {}
    for sub in topology.subtopologies():
        for name in sub.nodes:
            node = topology.node(name)
            if isinstance(node, SinkDef) and node.internal and node.topic is not None:
                writers.setdefault(node.topic, set()).add(sub.id)
    feeds: dict[int, set[int]] = {}  # writer sub-topology -> reader sub-topologies
    for sub in topology.subtopologies():
        for topic in sub.source_topics:
            for writer in writers.get(topic, ()):
                feeds.setdefault(writer, set()).add(sub.id)

    def reaches(start: int, goal: int) -> bool:
        seen, todo = set(), [start]
        while todo:
            current = todo.pop()
            for nxt in feeds.get(current, ()):
                if nxt == goal:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    cyclic = sorted(sub.id for sub in topology.subtopologies() if reaches(sub.id, sub.id))
    if cyclic:
        raise TopologyError(
            f"a bounded run cannot end sub-topologies {cyclic}: they write to each other's "
            "repartition topics (a foreign-key join does), so none can know the others are "
            "done. Run this topology as a streaming application instead"
        )


def recorded_end(metadata: str | None) -> int | None:
    """The end an unfinished bounded run committed with a partition's offset, if any."""
    if not metadata:
        return None
    try:
        data = orjson.loads(metadata)
    except orjson.JSONDecodeError:
        return None
    end = data.get("e") if isinstance(data, dict) else None
    return end if isinstance(end, int) else None


class BoundedRun:
    def fresh(self) -> BoundedRun:
        """For a replacement thread: the same settings, ends read again at assignment."""
        return BoundedRun(self.flush_windows)

    def __init__(self, flush_windows: bool) -> None:
        self.flush_windows = flush_windows
        self.ends: dict[TopicPartition, int] = {}
        self.starts: dict[TopicPartition, int] = {}  # where reading starts when nothing is read
        self.at_end: set[TopicPartition] = set()  # paused: reached its end
        # Where the consumer last reached a partition's end: offsets without a record (a
        # compacted or transaction-marker gap) cannot be reached by records.
        self.eof: dict[TopicPartition, int] = {}
        self.complete: set[StreamTask] = set()
        self.assigned = False
        self._read: Counter[str] = Counter()
        self._written: Counter[str] = Counter()
        self._started = time.monotonic()
        self._announced = 0.0

    # ---- assignment ----

    def add_partition(
        self,
        tp: TopicPartition,
        committed: int,
        metadata: str | None,
        offsets: Callable[[str, int], tuple[int, int]],
    ) -> None:
        """Record a source partition's end (and where reading starts) at assignment."""
        low, high = offsets(*tp)
        end = recorded_end(metadata)
        self.ends[tp] = high if end is None else end
        self.starts[tp] = committed if committed >= 0 else max(low, 0)
        self.at_end.discard(tp)
        self.eof.pop(tp, None)

    def forget(self, task: StreamTask) -> None:
        self.complete.discard(task)
        for tp in task.clock_state.partitions:
            self.ends.pop(tp, None)
            self.starts.pop(tp, None)
            self.at_end.discard(tp)
            self.eof.pop(tp, None)

    # ---- processing ----

    def trim(self, tp: TopicPartition, run: list[Any]) -> list[Any]:
        """Cut a fetched run at the partition's end; records from there on are not this run's."""
        end = self.ends.get(tp)
        if end is None or run[-1].offset() < end:
            return run
        self.at_end.add(tp)
        return [msg for msg in run if msg.offset() < end]

    def position(self, task: StreamTask, tp: TopicPartition) -> int:
        return task.offsets.get(tp, self.starts.get(tp, 0))

    def reached_end(self, task: StreamTask, tp: TopicPartition) -> bool:
        end = self.ends.get(tp)
        if end is None:
            return False
        if self.position(task, tp) >= end:
            return True
        return self.eof.get(tp, -1) >= end and not task.buffered_in(tp)

    def is_complete(self, task: StreamTask) -> bool:
        for tp, part in task.clock_state.partitions.items():
            if part.internal:
                if not part.ended():
                    return False
            elif not self.reached_end(task, tp):
                return False
        return True

    def finish(self, task: StreamTask) -> None:
        """Close the task's run: windows (unless kept open), cached state, end mark."""
        for tp, end in self.ends.items():
            if tp in task.clock_state.partitions:
                # Commit the end even where no record sits right before it (a gap), or
                # where nothing was read: an earlier run's recorded end must not stay.
                task.offsets[tp] = max(self.position(task, tp), end)
        if self.flush_windows:
            task.flush_to_end()
        task.flush_state()
        task.announce_end()
        self.complete.add(task)

    def reannounce(self) -> None:
        now = time.monotonic()
        if now - self._announced >= REANNOUNCE_S:
            self._announced = now
            for task in self.complete:
                task.announce_end()

    def end_offset_to_commit(self, task: StreamTask, tp: TopicPartition) -> int | None:
        """An unfinished task commits its partitions' ends; a complete one clears them, so
        the next bounded run records new ones."""
        if task in self.complete or task.clock_state.partitions[tp].internal:
            return None
        return self.ends.get(tp)

    # ---- summary ----

    def count(self, read: dict[str, int], written: dict[str, int]) -> None:
        self._read.update(read)
        self._written.update(written)

    def summary(self) -> BoundedRunSummary:
        return BoundedRunSummary(
            read=dict(self._read),
            written=dict(self._written),
            elapsed_s=time.monotonic() - self._started,
        )
