"""The runtime processors of KTables: sources, filter/map_values, and re-grouping.

Every table node receives and forwards ``Change(new, old)``; None on a side means the
row is absent (so ``Change(None, old)`` is a delete). Re-grouping turns each change into
a subtraction from the old group and an addition to the new one, which is what keeps
grouped table aggregates exact when a row moves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..serdes import Serde
from ._aggregate import Change, StoreBackedProcessor
from ._node import NodeContext, NodeProcessor


class TableSource(StoreBackedProcessor):
    """Materializes a stream of upserts (None value: delete) and forwards the changes."""

    __slots__ = ()

    def __init__(self, store_name: str) -> None:
        self.store_name = store_name

    def process(self, key: Any, value: Any, timestamp: int, headers: Any) -> None:
        if key is None:
            self.task.errors.count_dropped(
                "null key in table", self.task.record_metadata(), self.name
            )
            return
        old = self.store.get(key)
        if old is None and value is None:
            return  # deleting an absent row changes nothing
        self.store.put(key, value, timestamp)
        if not self.caching:
            self.down(key, Change(value, old), timestamp, headers)

    def _flushed(self, key: Any, new: Any, old: Any, timestamp: int) -> None:
        if new is not None or old is not None:
            super()._flushed(key, new, old, timestamp)


class TableFilter(NodeProcessor):
    __slots__ = ("negate", "pred")

    def __init__(self, pred: Callable[[Any, Any], Any], negate: bool = False) -> None:
        self.pred = pred
        self.negate = negate

    def _keeps(self, key: Any, value: Any) -> bool:
        return value is not None and bool(self.pred(key, value)) != self.negate

    def process(self, key: Any, change: Any, timestamp: int, headers: Any) -> None:
        new = change[0] if self._keeps(key, change[0]) else None
        old = change[1] if self._keeps(key, change[1]) else None
        if new is None and old is None:
            return
        self.down(key, Change(new, old), timestamp, headers)


class TableMapValues(NodeProcessor):
    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def process(self, key: Any, change: Any, timestamp: int, headers: Any) -> None:
        new, old = change
        self.down(
            key,
            Change(None if new is None else self.fn(new), None if old is None else self.fn(old)),
            timestamp,
            headers,
        )


class TableRegroup(NodeProcessor):
    """KTable.group_by(): old row out of its group, new row into its group (in that order)."""

    __slots__ = ("selector", "task")

    def __init__(self, selector: Callable[[Any, Any], tuple[Any, Any]]) -> None:
        self.selector = selector

    def init(self, context: NodeContext) -> None:
        super().init(context)
        self.task = context.task

    def process(self, key: Any, change: Any, timestamp: int, headers: Any) -> None:
        new, old = change
        if old is not None:
            group, value = self._select(key, old)
            if group is not None:
                self.down(group, Change(None, value), timestamp, headers)
        if new is not None:
            group, value = self._select(key, new)
            if group is not None:
                self.down(group, Change(value, None), timestamp, headers)

    def _select(self, key: Any, value: Any) -> tuple[Any, Any]:
        pair = self.selector(key, value)
        try:
            group, selected = pair
        except (TypeError, ValueError):
            raise TypeError(
                f"KTable.group_by function must return a (key, value) pair, got {pair!r:.80}"
            ) from None
        if group is None:
            self.task.errors.count_dropped("null group key", self.task.record_metadata(), self.name)
        return group, selected


class TableAggregate(StoreBackedProcessor):
    """KGroupedTable.aggregate/reduce/count: subtract the old value, add the new one."""

    __slots__ = ("adder", "initializer", "subtractor")

    def __init__(
        self,
        store_name: str,
        initializer: Callable[[], Any] | None,
        adder: Callable[[Any, Any, Any], Any],
        subtractor: Callable[[Any, Any, Any], Any],
    ) -> None:
        self.store_name = store_name
        self.initializer = initializer
        self.adder = adder
        self.subtractor = subtractor

    def process(self, key: Any, change: Any, timestamp: int, headers: Any) -> None:
        new, old = change
        previous = self.store.get(key)
        agg = previous
        if agg is None and self.initializer is not None:
            agg = self.initializer()
        if old is not None and agg is not None:
            agg = self.subtractor(key, old, agg)
        if new is not None:
            agg = new if agg is None else self.adder(key, new, agg)
        self.store.put(key, agg, timestamp)
        if not self.caching:
            self.down(key, Change(agg, previous), timestamp, headers)


class ChangeSerde(Serde[Change]):
    """How a one-sided Change crosses a repartition topic: a flag byte, then the value.

    ``inner`` may be None at build time; the task resolves it to the default value serde.
    """

    def __init__(self, inner: Serde[Any] | None) -> None:
        self.inner = inner
        inner_ser = inner.ser if inner is not None else None
        inner_de = inner.de if inner is not None else None

        def ser(change: Change) -> bytes:
            assert inner_ser is not None
            if change[0] is not None:
                return b"\x01" + inner_ser(change[0])
            return b"\x00" + inner_ser(change[1])

        def de(data: bytes) -> Change:
            assert inner_de is not None
            value = inner_de(data[1:])
            return Change(value, None) if data[:1] == b"\x01" else Change(None, value)

        super().__init__(ser, de, name=f"change({inner.name if inner else 'default'})")

    def resolve(self, default: Serde[Any]) -> Serde[Any]:
        return self if self.inner is not None else ChangeSerde(default)
