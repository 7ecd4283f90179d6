"""Windowed aggregations (time, sliding, session windows) and suppression.

Lateness is judged against the task's watermark (``TaskClock``), which already includes
the current record. Results are keyed by ``Windowed(key, Window(start, end))`` and travel
as ``Change(new, old)`` like other table updates. With caching, updates are forwarded
when the cache flushes, and also as soon as the watermark closes a window that has a
pending update, so a downstream ``suppress`` never emits a final result ahead of the
last update still sitting in the cache.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..records import Window, Windowed
from ..state.windowed import SessionStore, WindowStore
from ..timing.clock import END_OF_TIME
from ..windows.specs import SessionWindows, SlidingWindows, TimeWindows
from ._aggregate import Change, combiner
from ._node import NodeContext, NodeProcessor

_NEVER = 1 << 62


class _WindowedAggregate(NodeProcessor):
    __slots__ = ("caching", "clock", "grace", "pending_close", "store", "store_name", "task")
    store_name: str
    grace: int

    def init(self, context: NodeContext) -> None:
        super().init(context)
        self.task = context.task
        assert context.task.state is not None
        self.store = context.task.state.stores[self.store_name]
        self.clock = context.task.clock_state
        self.caching = self.store.caching
        self.store.expire_on_put = False  # expiry follows the watermark (_on_watermark)
        self.pending_close = _NEVER
        if self.caching:
            self.store.set_flush_listener(self._flushed)
        context.task.watermark_listeners.append(self._on_watermark)

    def _on_watermark(self, watermark: int) -> None:
        # Flush before expiring: expiry discards pending updates of expired windows.
        if watermark >= self.pending_close:
            self.pending_close = _NEVER
            self.store.flush()
        self.store.observe(watermark)

    def _flushed(self, composite: Any, new: Any, old: Any, timestamp: int) -> None:
        try:
            self.down(self._windowed(composite), Change(new, old), timestamp, None)
        except Exception as exc:
            self.task.outside_record_failed(exc, self.name, timestamp)

    def _windowed(self, composite: Any) -> Windowed:
        raise NotImplementedError  # pragma: no cover

    def _late(self, key: Any, value: Any, timestamp: int, window: Window) -> None:
        self.task.late(self.name, key, value, timestamp, window)

    def _drop_null(self, key: Any, value: Any) -> bool:
        if key is None or value is None:
            self.task.errors.count_dropped(
                "null key or value in windowed aggregation", self.task.record_metadata(), self.name
            )
            return True
        return False


class TimeWindowAggregate(_WindowedAggregate):
    """Tumbling and hopping windows: ``[start, start + size)``."""

    __slots__ = ("aggregator", "combine", "initializer", "reducing", "size", "tumbling", "windows")

    def __init__(
        self,
        store_name: str,
        windows: TimeWindows,
        initializer: Callable[[], Any] | None,
        aggregator: Callable[..., Any],
        *,
        reducing: bool = False,
    ) -> None:
        self.store_name = store_name
        self.windows = windows
        self.size = windows.size_ms
        self.grace = windows.grace_ms
        self.initializer = initializer
        self.aggregator = aggregator
        self.reducing = reducing
        self.tumbling = windows.advance_ms == windows.size_ms
        self.combine = combiner(initializer, aggregator, reducing)

    def _windowed(self, composite: Any) -> Windowed:
        key, start = composite
        return Windowed(key, Window(start, start + self.size))

    def process(self, key: Any, value: Any, timestamp: int, headers: Any) -> None:
        if self._drop_null(key, value):
            return
        watermark = self.clock.watermark
        store: WindowStore = self.store
        size, grace = self.size, self.grace
        # Tumbling (the common case): the one window start, without building a range.
        starts = (
            (timestamp - timestamp % size,) if self.tumbling else self.windows.starts_for(timestamp)
        )
        live = False
        end = timestamp + 1
        for start in starts:
            end = start + size
            if end + grace <= watermark:
                continue  # this window has closed
            live = True
            new, old = store.update(key, start, value, self.combine, timestamp)
            if self.caching:
                if end + grace < self.pending_close:
                    self.pending_close = end + grace
            else:
                self.down(Windowed(key, Window(start, end)), Change(new, old), timestamp, headers)
        if not live:
            self._late(key, value, timestamp, Window(end - size, end))


class SessionWindowAggregate(_WindowedAggregate):
    """Sessions ``[first, last]`` (inclusive); a record within ``gap`` of sessions merges them."""

    __slots__ = ("aggregator", "gap", "initializer", "merger")

    def __init__(
        self,
        store_name: str,
        windows: SessionWindows,
        initializer: Callable[[], Any],
        aggregator: Callable[..., Any],
        merger: Callable[[Any, Any, Any], Any],
    ) -> None:
        self.store_name = store_name
        self.gap = windows.gap_ms
        self.grace = windows.grace_ms
        self.initializer = initializer
        self.aggregator = aggregator
        self.merger = merger

    def _windowed(self, composite: Any) -> Windowed:
        key, end, start = composite
        return Windowed(key, Window(start, end))

    def process(self, key: Any, value: Any, timestamp: int, headers: Any) -> None:
        if self._drop_null(key, value):
            return
        store: SessionStore = self.store
        gap = self.gap
        overlapping = list(store.find_sessions(key, timestamp - gap, timestamp + gap))
        start = end = timestamp
        agg = self.initializer()
        for kv in overlapping:
            agg = self.merger(key, agg, kv.value)
            start = min(start, kv.key.window.start)
            end = max(end, kv.key.window.end)
        # Kafka Streams' rule for sessions (whose end is inclusive): late once
        # end + grace < watermark.
        if end + self.grace < self.clock.watermark:
            self._late(key, value, timestamp, Window(start, end))
            return
        agg = self.aggregator(key, value, agg)
        merged = Windowed(key, Window(start, end))
        old = None
        for kv in overlapping:
            if kv.key == merged:
                old = kv.value
                continue
            store.remove(kv.key)
            if not self.caching:
                self.down(kv.key, Change(None, kv.value), timestamp, headers)
        store.put(merged, agg, timestamp)
        if self.caching:
            if end + self.grace + 1 < self.pending_close:
                self.pending_close = end + self.grace + 1
        else:
            self.down(merged, Change(agg, old), timestamp, headers)


class SlidingWindowAggregate(_WindowedAggregate):
    """Kafka Streams' sliding windows (KIP-450): ``[start, end]`` with both ends inclusive
    and ``end - start == time_difference``; one window ends at each record (its left
    window) and one starts just after each record that has a later record within reach
    (its right window). Every window holds exactly the records inside it, so each new
    window is aggregated from the key's buffered records; an existing window that covers
    the record is updated in place.
    """

    __slots__ = ("aggregator", "diff", "initializer", "records", "records_store", "reducing")

    def __init__(
        self,
        store_name: str,
        records_store: str,
        windows: SlidingWindows,
        initializer: Callable[[], Any] | None,
        aggregator: Callable[..., Any],
        *,
        reducing: bool = False,
    ) -> None:
        self.store_name = store_name
        self.records_store = records_store
        self.diff = windows.time_difference_ms
        self.grace = windows.grace_ms
        self.initializer = initializer
        self.aggregator = aggregator
        self.reducing = reducing

    def init(self, context: NodeContext) -> None:
        super().init(context)
        assert context.task.state is not None
        # The key's records within reach, as a list of values per timestamp.
        self.records: WindowStore = context.task.state.stores[self.records_store]
        self.records.expire_on_put = False

    def _on_watermark(self, watermark: int) -> None:
        super()._on_watermark(watermark)
        self.records.observe(watermark)

    def _windowed(self, composite: Any) -> Windowed:
        key, start = composite
        return Windowed(key, Window(start, start + self.diff))

    def _fold(self, key: Any, low: int, high: int) -> Any:
        """The aggregate of the key's buffered records with low <= ts <= high."""
        agg: Any = None
        first = True
        for _ts, values in self.records.fetch(key, low, high):
            for value in values:
                if self.reducing:
                    agg = value if first else self.aggregator(agg, value)
                else:
                    base = self.initializer() if first else agg  # type: ignore[misc]
                    agg = self.aggregator(key, value, base)
                first = False
        return agg

    def process(self, key: Any, value: Any, timestamp: int, headers: Any) -> None:
        if self._drop_null(key, value):
            return
        diff, grace = self.diff, self.grace
        watermark = self.clock.watermark
        # Sliding windows include their end: one is closed once end + grace < watermark,
        # and a record is late when every window that could hold it is.
        if timestamp + diff + grace < watermark:
            self._late(key, value, timestamp, Window(timestamp - diff, timestamp))
            return
        same_time = self.records.get(key, timestamp)
        self.records.put(key, [*(same_time or ()), value], timestamp, timestamp)
        store: WindowStore = self.store
        existing = dict(store.fetch(key, timestamp - diff, timestamp + 1))
        touched: dict[int, tuple[Any, Any]] = {}
        # 1. windows that already exist and cover the record: add it.
        for start, old in existing.items():
            if start <= timestamp <= start + diff and start + diff + grace >= watermark:
                if self.reducing:
                    new = self.aggregator(old, value)
                else:
                    new = self.aggregator(key, value, old)
                touched[start] = (new, old)
        # 2. windows that must exist now: the record's left window, its right window (if a
        # later record is in reach) and the right windows of earlier records it falls in.
        # A record earlier than the time difference has no room for its left window:
        # as in Kafka Streams, such records share the window [0, time_difference].
        wanted = {max(0, timestamp - diff)}
        reach = self.records.fetch(key, timestamp - diff - 1, timestamp + diff + 1)
        times = [ts for ts, _ in reach]
        if any(timestamp < ts <= timestamp + 1 + diff for ts in times):
            wanted.add(timestamp + 1)
        for ts in times:
            if ts < timestamp <= ts + 1 + diff:
                wanted.add(ts + 1)
        for start in sorted(wanted):
            if start in existing or start in touched or start + diff + grace < watermark:
                continue
            touched[start] = (self._fold(key, start, start + diff), None)
        for start, (new, old) in sorted(touched.items()):
            store.put(key, new, start, timestamp)
            end = start + diff
            if self.caching:
                if end + grace < self.pending_close:
                    self.pending_close = end + grace
            else:
                self.down(Windowed(key, Window(start, end)), Change(new, old), timestamp, headers)


class Suppress(NodeProcessor):
    """KTable.suppress: hold updates in a changelogged buffer and release them later.

    ``until_window_closes``: the buffer is keyed by close time then windowed key, so the
    watermark releases a prefix of it, oldest window first, one final result each.
    ``until_time_limit``: a key's latest update leaves once the watermark is ``time``
    past the key's first buffered update, or when the buffer holds ``max_records`` keys.
    """

    __slots__ = (
        "buffer",
        "close_after",
        "final",
        "limit",
        "max_records",
        "observed",
        "released",
        "store_name",
        "task",
    )

    def __init__(
        self,
        store_name: str,
        *,
        final: bool,
        close_after: Callable[[Any], int] | None,
        time_limit_ms: int,
        max_records: int | None,
    ) -> None:
        self.store_name = store_name
        self.final = final
        self.close_after = close_after
        self.limit = time_limit_ms
        self.max_records = max_records

    def init(self, context: NodeContext) -> None:
        super().init(context)
        self.task = context.task
        assert context.task.state is not None
        self.buffer = context.task.state.stores[self.store_name]
        self.observed = -1
        self.released = -1  # the watermark final results were last released at
        if self.final:
            # Final results follow the task's watermark (the windowed aggregate upstream
            # flushes its cached updates of a window before the watermark closes it).
            context.task.watermark_listeners.append(self._release)
        # A bounded run's end (flush_to_end) lets every buffered result go.
        context.task.end_listeners.append(self._release_all)

    def process(self, key: Any, value: Any, timestamp: int, headers: Any) -> None:
        new = value.new if isinstance(value, Change) else value
        if self.final:
            assert self.close_after is not None
            # Released already: its final result is out, a late update changes nothing.
            # An update whose close lies between the last release and the watermark is one
            # the aggregate held in its cache until the close: buffered, released below.
            if self.close_after(key) <= self.released:
                return
            if new is None:
                # A window that no longer exists (a session merged into another) has no
                # final result: forget what was buffered for it.
                self.buffer.discard(key)
                return
            # Released only from the watermark listener, which runs after the aggregate has
            # flushed its cached updates of the windows that watermark closes.
            self.buffer.put(self.close_after(key), key, new, timestamp)
            return
        # A time limit counts in the time of the updates this node sees (as Kafka Streams'
        # suppression does), so updates a cache upstream still holds cannot be overtaken.
        if timestamp > self.observed:
            self.observed = timestamp
        due = self.buffer.first_time(key)
        self.buffer.put(timestamp + self.limit if due is None else due, key, new, timestamp)
        if self.max_records is not None and len(self.buffer) > self.max_records:
            self._emit(self.buffer.pop_oldest())
        self._release(self.observed)

    def _release_all(self) -> None:
        self._release(END_OF_TIME)

    def _release(self, watermark: int) -> None:
        if self.final and watermark > self.released:
            self.released = watermark
        for entry in self.buffer.pop_due(watermark):
            self._emit(entry)

    def _emit(self, entry: tuple[Any, Any, int]) -> None:
        key, value, timestamp = entry
        try:
            self.down(key, Change(value, None), timestamp, None)
        except Exception as exc:
            self.task.outside_record_failed(exc, self.name, timestamp)
