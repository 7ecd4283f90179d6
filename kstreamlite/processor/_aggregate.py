"""The runtime processor of grouped-stream aggregations (count, reduce, aggregate).

Table updates travel between table nodes as ``Change(new, old)`` so that downstream
tables can retract old values. With caching, updates are forwarded when the cache
flushes (once per key per commit); without, once per record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from ._node import NodeContext, NodeProcessor


class Change(NamedTuple):
    """A table row's new value and the value it replaced (None: absent)."""

    new: Any
    old: Any


class StoreBackedProcessor(NodeProcessor):
    """A processor owning one key-value store: with caching, it forwards each changed key
    when the cache flushes; without, the subclass forwards per record."""

    __slots__ = ("caching", "store", "store_name", "task")
    store_name: str

    def init(self, context: NodeContext) -> None:
        super().init(context)
        self.task = context.task
        assert context.task.state is not None
        self.store = context.task.state.stores[self.store_name]
        self.caching = self.store.caching
        if self.caching:
            self.store.set_flush_listener(self._flushed)

    def _flushed(self, key: Any, new: Any, old: Any, timestamp: int) -> None:
        """Forward a change a cache flush released; errors go to the processing handler."""
        try:
            self.down(key, Change(new, old), timestamp, None)
        except Exception as exc:
            self.task.outside_record_failed(exc, self.name, timestamp)


def combiner(
    initializer: Callable[[], Any] | None, aggregator: Callable[..., Any], reducing: bool
) -> Callable[[Any, Any, Any], Any]:
    """``(key, value, old) -> new`` for a store update: reduce(old, value), or
    aggregate(key, value, old) starting from ``initializer()``."""
    if reducing:

        def reduce(key: Any, value: Any, old: Any) -> Any:
            return value if old is None else aggregator(old, value)

        return reduce
    assert initializer is not None

    def aggregate(key: Any, value: Any, old: Any) -> Any:
        return aggregator(key, value, initializer() if old is None else old)

    return aggregate


class StreamAggregate(StoreBackedProcessor):
    __slots__ = ("aggregator", "combine", "initializer", "reducing")

    def __init__(
        self,
        store_name: str,
        initializer: Callable[[], Any] | None,
        aggregator: Callable[..., Any],
        *,
        reducing: bool = False,
    ) -> None:
        self.store_name = store_name
        self.initializer = initializer
        self.aggregator = aggregator
        self.reducing = reducing
        self.combine = combiner(initializer, aggregator, reducing)

    def process(self, key: Any, value: Any, timestamp: int, headers: Any) -> None:
        if key is None or value is None:
            self.task.errors.count_dropped(
                "null key or value in aggregation", self.task.record_metadata(), self.name
            )
            return
        new, old = self.store.update(key, value, self.combine, timestamp)
        if not self.caching:
            self.down(key, Change(new, old), timestamp, headers)


class ToStream(NodeProcessor):
    """KTable.to_stream(): the stream of a table's new values."""

    __slots__ = ()

    def process(self, key: Any, value: Any, timestamp: int, headers: Any) -> None:
        self.down(key, value[0], timestamp, headers)
