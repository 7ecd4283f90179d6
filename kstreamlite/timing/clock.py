"""TaskClock: one task's watermark, from its input partitions' watermarks.

Direct inputs: a partition's watermark is its highest timestamp minus the strategy's
delay. Repartition inputs carry several upstream tasks' records interleaved, so their
timestamps say nothing about completeness; instead every upstream task announces its
own watermark with a *control record* on every partition of the repartition topic
(key null, value ``MARK_VALUE``, header ``kstreamlite.watermark`` =
``<task id>/<upstream task count>/<watermark or "idle">``). Such a partition's watermark
is the minimum over all upstream tasks' announcements, and is unknown (holding the
task back) until every upstream task has announced once. Upstream tasks announce after
their watermark advances (at most every ``announce_interval_ms``) and at each commit.
A task that has ended a bounded run adds ``/end``: once every upstream task has said so,
the partition holds nothing more for this run.

The task's watermark is the minimum over its non-idle partitions and never moves back.
A partition is idle once it has brought nothing for the strategy's idleness timeout; a
partition that has never brought a record holds the watermark back until then. When
every partition is idle, the watermark follows the wall clock from the last record on.
Per-partition state is committed with the input offsets (commit metadata), so a
restarted or migrated task resumes with the watermark it had.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from .watermarks import WatermarkStrategy

MARK_VALUE = b"\x00kstreamlite.watermark"
HEADER = "kstreamlite.watermark"
_IDLE = "idle"
_END = "end"
NO_WATERMARK = -1
END_OF_TIME = 1 << 62  # the watermark a bounded run ends on: every window closes


class PartitionClock:
    __slots__ = (
        "counts",
        "delay",
        "finished",
        "idle_ms",
        "internal",
        "last_wall",
        "marks_from",
        "max_ts",
        "upstream",
        "writers",
    )

    def __init__(
        self, strategy: WatermarkStrategy, internal: bool, now: int, counts: bool = True
    ) -> None:
        # A table's topic (builder.table) does not hold the task's watermark back: tables
        # change rarely, and windows and joins run on the streams' event time.
        self.counts = counts
        self.delay = strategy.max_delay_ms
        self.idle_ms = strategy.idleness_ms
        self.internal = internal
        self.max_ts = NO_WATERMARK
        self.last_wall = now
        self.upstream: dict[str, int | None] = {}  # upstream task -> watermark, None: idle
        self.writers = 0  # how many upstream tasks write here (from their announcements)
        # Upstream tasks that ended a bounded run: all they wrote here is before their mark.
        # In memory only: finished tasks repeat it until their instance exits.
        self.finished: set[str] = set()
        # End marks below this offset are an earlier run's (repeated after its last read).
        self.marks_from = 0

    def watermark(self) -> int | None:
        """None while unknown; NO_WATERMARK-free ints otherwise."""
        if not self.internal:
            return self.max_ts - self.delay if self.max_ts >= 0 else None
        if not self.writers or len(self.upstream) < self.writers:
            return None
        known = [w for w in self.upstream.values() if w is not None]
        return min(known) if known else None  # already delayed upstream

    def ended(self) -> bool:
        """A repartition input whose every upstream task has ended its bounded run."""
        return self.internal and self.writers > 0 and len(self.finished) >= self.writers

    def idle(self, now: int) -> bool:
        complete = self.internal and self.writers and len(self.upstream) >= self.writers
        if complete and all(w is None for w in self.upstream.values()):
            return True  # every upstream task says it is idle
        return self.idle_ms is not None and now - self.last_wall >= self.idle_ms


class TaskClock:
    def __init__(self) -> None:
        self.partitions: dict[tuple[str, int], PartitionClock] = {}
        self.watermark = NO_WATERMARK
        self.max_event = NO_WATERMARK  # highest timestamp seen on any direct input
        self.last_record_wall = 0
        self.uses_idleness = False
        self._counted: list[PartitionClock] = []  # the partitions the watermark follows

    def add(
        self,
        tp: tuple[str, int],
        strategy: WatermarkStrategy,
        internal: bool,
        now: int,
        counts: bool = True,
    ) -> None:
        self.partitions[tp] = PartitionClock(strategy, internal, now, counts)
        self._counted = [p for p in self.partitions.values() if p.counts]
        self.last_record_wall = now
        self.uses_idleness = self.uses_idleness or strategy.idleness_ms is not None

    @property
    def single_direct(self) -> PartitionClock | None:
        """The one direct input partition, when the task has exactly that (the fast path)."""
        if len(self.partitions) == 1:
            (part,) = self.partitions.values()
            if not part.internal:
                return part
        return None

    def touched(self, tp: tuple[str, int], now: int) -> None:
        self.partitions[tp].last_wall = now
        self.last_record_wall = now

    def control(self, tp: tuple[str, int], headers: Any, offset: int | None = None) -> bool:
        """Apply a watermark announcement; False if the headers carry none."""
        for name, raw in headers or ():
            if name != HEADER:
                continue
            task, count, mark, *end = bytes(raw).decode().split("/")
            part = self.partitions[tp]
            part.writers = int(count)
            if end == [_END] and (offset is None or offset >= part.marks_from):
                part.finished.add(task)
            part.upstream[task] = None if mark == _IDLE else int(mark)
            return True
        return False

    def recompute(self, now: int) -> int:
        """The task watermark from its partitions (never lower than before)."""
        lowest: int | None = None
        all_idle = True
        counted = self._counted
        for part in counted:
            if part.idle(now):
                continue
            all_idle = False
            mark = part.watermark()
            if mark is None:
                return self.watermark  # an input without a watermark holds the task back
            if lowest is None or mark < lowest:
                lowest = mark
        if all_idle and counted:
            if self.max_event < 0 and not any(p.internal for p in counted):
                return self.watermark
            delay = min(p.delay for p in counted)
            # Event time moves on with the wall clock from the last record's watermark.
            lowest = self.max_event - delay + max(now - self.last_record_wall, 0)
        if lowest is not None and lowest > self.watermark:
            self.watermark = lowest
        return self.watermark

    def announcement(self, task_id: str, tasks: int, now: int, end: bool = False) -> bytes:
        """This task's header value for repartition control records; ``end``: the task
        has ended its bounded run."""
        idle_without_data = self.watermark < 0 and all(
            p.idle(now) for p in self.partitions.values()
        )
        mark = _IDLE if idle_without_data else str(self.watermark)
        return f"{task_id}/{tasks}/{mark}{'/' + _END if end else ''}".encode()

    # ---- persistence through commit metadata ----

    def metadata(self, tp: tuple[str, int], end_offset: int | None = None) -> str:
        """What is committed with ``tp``'s offset; ``end_offset``: where an unfinished
        bounded run stops reading it (a new owner after a rebalance stops there too)."""
        part = self.partitions.get(tp)
        if part is None:
            return ""
        if part.internal:
            return orjson.dumps({"w": part.writers, "u": part.upstream}).decode()
        if end_offset is not None:
            return orjson.dumps({"t": part.max_ts, "e": end_offset}).decode()
        return orjson.dumps({"t": part.max_ts}).decode()

    def resume(self, entries: Iterable[tuple[tuple[str, int], str | None]], now: int) -> None:
        """Take back the per-partition state committed with the offsets."""
        for tp, text in entries:
            part = self.partitions.get(tp)
            if part is None or not text:
                continue
            try:
                data = orjson.loads(text)
            except orjson.JSONDecodeError:
                continue  # not ours (another tool committed this group's offsets)
            if not isinstance(data, dict):
                continue
            if part.internal and isinstance(data.get("u"), dict):
                part.writers = int(data.get("w", 0))
                part.upstream = {
                    str(k): (None if v is None else int(v)) for k, v in data["u"].items()
                }
            elif not part.internal and isinstance(data.get("t"), int):
                part.max_ts = max(part.max_ts, data["t"])
                self.max_event = max(self.max_event, part.max_ts)
        self.recompute(now)
