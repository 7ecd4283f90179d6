"""Join processors: stream-table, stream-global table, table-table, stream-stream.

Joiners see values only, ``joiner(left, right)``; a missing side is ``None`` (left and
outer joins). Stream-stream joins buffer both sides in window stores keyed by
``(key, record time)``, each holding the list of values of that key at that time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..records import Window
from ..state.kv import KeyValueStore
from ..state.suppress_buffer import SuppressBuffer
from ..state.windowed import WindowStore
from ..windows.specs import JoinWindows
from ._aggregate import Change
from ._node import NodeContext, NodeProcessor

Joiner = Callable[[Any, Any], Any]
INNER, LEFT, OUTER = "inner", "left", "outer"


class _Joining(NodeProcessor):
    __slots__ = ("joiner", "left", "task")

    def init(self, context: NodeContext) -> None:
        super().init(context)
        self.task = context.task

    def _dropped(self, why: str) -> None:
        self.task.errors.count_dropped(why, self.task.record_metadata(), self.name)


class StreamTableJoin(_Joining):
    """KStream.join/left_join(KTable): each stream record looks up the table's current row."""

    __slots__ = ("store", "store_name")

    def __init__(self, store_name: str, joiner: Joiner, left: bool) -> None:
        self.store_name = store_name
        self.joiner = joiner
        self.left = left

    def init(self, context: NodeContext) -> None:
        super().init(context)
        assert context.task.state is not None
        self.store: KeyValueStore = context.task.state.stores[self.store_name]

    def process(self, key: Any, value: Any, timestamp: int, headers: Any) -> None:
        if value is None:
            self._dropped("null value in stream-table join")
            return
        row = None if key is None else self.store.get(key)
        if row is None and not self.left:
            if key is None:
                self._dropped("null key in stream-table join")
            return
        self.down(key, self.joiner(value, row), timestamp, headers)


class StreamGlobalJoin(_Joining):
    """KStream.join/left_join(GlobalKTable): the row is found by ``key_selector(key, value)``."""

    __slots__ = ("key_selector", "store", "store_name")

    def __init__(
        self,
        store_name: str,
        key_selector: Callable[[Any, Any], Any],
        joiner: Joiner,
        left: bool,
    ) -> None:
        self.store_name = store_name
        self.key_selector = key_selector
        self.joiner = joiner
        self.left = left

    def init(self, context: NodeContext) -> None:
        super().init(context)
        self.store = context.task.global_stores[self.store_name]

    def process(self, key: Any, value: Any, timestamp: int, headers: Any) -> None:
        if value is None:
            self._dropped("null value in stream-global table join")
            return
        row_key = self.key_selector(key, value)
        row = None if row_key is None else self.store.get(row_key)
        if row is None and not self.left:
            if row_key is None:
                self._dropped("null join key from key_selector in stream-global table join")
            return
        self.down(key, self.joiner(value, row), timestamp, headers)


class TableMaterialize(NodeProcessor):
    """Keeps a derived table's rows in a store so a join can look them up."""

    __slots__ = ("store", "store_name")

    def __init__(self, store_name: str) -> None:
        self.store_name = store_name

    def init(self, context: NodeContext) -> None:
        super().init(context)
        assert context.task.state is not None
        self.store: KeyValueStore = context.task.state.stores[self.store_name]

    def process(self, key: Any, change: Any, timestamp: int, headers: Any) -> None:
        if key is None:
            return
        self.store.put(key, change[0], timestamp)
        self.down(key, change, timestamp, headers)


class TableTableJoin(NodeProcessor):
    """One side of KTable.join/left_join/outer_join: a change on this side is joined with
    the other side's current row; the result is a table change ``Change(new, old)``."""

    __slots__ = ("joiner", "mode", "other", "other_store", "this_is_left")

    def __init__(self, other_store: str, joiner: Joiner, mode: str, this_is_left: bool) -> None:
        self.other_store = other_store
        self.joiner = joiner
        self.mode = mode
        self.this_is_left = this_is_left

    def init(self, context: NodeContext) -> None:
        super().init(context)
        assert context.task.state is not None
        self.other: KeyValueStore = context.task.state.stores[self.other_store]

    def _result(self, this: Any, other: Any) -> Any:
        left, right = (this, other) if self.this_is_left else (other, this)
        if left is None and right is None:
            return None
        if self.mode == INNER and (left is None or right is None):
            return None
        if self.mode == LEFT and left is None:
            return None
        return self.joiner(left, right)

    def process(self, key: Any, change: Any, timestamp: int, headers: Any) -> None:
        if key is None:
            return
        new, old = change
        other = self.other.get(key)
        result_new = self._result(new, other)
        result_old = self._result(old, other)
        if result_new is None and result_old is None:
            return
        self.down(key, Change(result_new, result_old), timestamp, headers)


class StreamStreamJoin(_Joining):
    """One side of a windowed stream-stream join (Kafka Streams' JOINTHIS / JOINOTHER).

    A record at ``t`` joins the other side's records of its key within
    ``[t - before, t + after]`` (the other side sees the windows mirrored). Left and outer
    joins hold a record without a match in a changelogged buffer until no record that
    could still match it can arrive (the watermark passes ``t + before + after + grace``),
    then emit it with ``None`` for the missing side: no spurious ``None`` results.
    """

    __slots__ = (
        "after",
        "before",
        "clock",
        "emits_unmatched",
        "grace",
        "is_left",
        "other_pending",
        "other_pending_name",
        "other_store",
        "other_store_name",
        "pending",
        "pending_name",
        "wait",
        "window_store",
        "window_store_name",
    )

    def __init__(
        self,
        *,
        windows: JoinWindows,
        is_left: bool,
        window_store: str,
        other_store: str,
        pending: str | None,
        other_pending: str | None,
        joiner: Joiner,
    ) -> None:
        self.is_left = is_left
        # The other side's records that match one of ours, relative to our time.
        self.before = windows.before_ms if is_left else windows.after_ms
        self.after = windows.after_ms if is_left else windows.before_ms
        self.grace = windows.grace_ms
        self.wait = windows.before_ms + windows.after_ms + windows.grace_ms
        self.window_store_name = window_store
        self.other_store_name = other_store
        self.pending_name = pending
        self.other_pending_name = other_pending
        self.emits_unmatched = pending is not None
        self.joiner = joiner

    def init(self, context: NodeContext) -> None:
        super().init(context)
        state = context.task.state
        assert state is not None
        self.clock = context.task.clock_state
        self.window_store: WindowStore = state.stores[self.window_store_name]
        self.other_store: WindowStore = state.stores[self.other_store_name]
        self.window_store.expire_on_put = False
        self.pending: SuppressBuffer | None = (
            state.stores[self.pending_name] if self.pending_name else None
        )
        self.other_pending: SuppressBuffer | None = (
            state.stores[self.other_pending_name] if self.other_pending_name else None
        )
        self.other_store.expire_on_put = False
        if self.is_left:  # one listener for both sides: emit, then expire both stores
            context.task.watermark_listeners.append(self._on_watermark)

    def _join(self, mine: Any, theirs: Any) -> Any:
        return self.joiner(mine, theirs) if self.is_left else self.joiner(theirs, mine)

    def process(self, key: Any, value: Any, timestamp: int, headers: Any) -> None:
        if key is None or value is None:
            self._dropped("null key or value in stream-stream join")
            return
        watermark = self.clock.watermark
        if timestamp + self.after + self.grace < watermark:
            self._late(key, value, timestamp)
            return
        store = self.window_store
        same_time = store.get(key, timestamp)
        store.put(key, [*(same_time or ()), value], timestamp, timestamp)
        matched = False
        for other_time, values in self.other_store.fetch(
            key, timestamp - self.before, timestamp + self.after
        ):
            matched = True
            at = max(timestamp, other_time)
            for other in values:
                self.down(key, self._join(value, other), at, headers)
            if self.other_pending is not None:
                self.other_pending.discard((key, other_time))
        if matched or self.pending is None:
            return
        due = timestamp + self.wait + 1
        if due <= watermark:  # out of order: nothing can match it any more
            self.down(key, self._join(value, None), timestamp, headers)
        else:
            self.pending.put(due, (key, timestamp), None, timestamp)

    def _on_watermark(self, watermark: int) -> None:
        """Emit both sides' unmatched records whose window has closed, in time order; then
        let records past the retention expire (only after: emitting reads their values)."""
        due: list[tuple[int, bool, Any]] = []
        for buffer, is_left in ((self.pending, True), (self.other_pending, False)):
            if buffer is not None:
                due += [(ts, is_left, key) for (key, ts), _, _ in buffer.pop_due(watermark)]
        due.sort(key=lambda entry: entry[0])
        for ts, is_left, key in due:
            store = self.window_store if is_left else self.other_store
            for value in store.get(key, ts) or ():
                result = self.joiner(value, None) if is_left else self.joiner(None, value)
                self.down(key, result, ts, None)
        self.window_store.observe(watermark)
        self.other_store.observe(watermark)

    def _late(self, key: Any, value: Any, timestamp: int) -> None:
        window = Window(timestamp - self.before, timestamp + self.after)
        self.task.late(self.name, key, value, timestamp, window)
