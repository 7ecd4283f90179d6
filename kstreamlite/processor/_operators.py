"""The runtime processors of the stateless KStream operators.

Each is a tiny slotted object whose ``process`` calls the user's function and then its
child directly; these run per record, so they do nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..errors import TopologyError
from ._node import Forward, NodeContext, NodeProcessor


def not_a_pair(operator: str, result: Any) -> None:
    promise = "yield (key, value) pairs" if operator == "flat_map" else "return a (key, value) pair"
    raise TypeError(f"{operator} function must {promise}, got {result!r:.80}") from None


class Filter(NodeProcessor):
    __slots__ = ("pred",)

    def __init__(self, pred: Callable[[Any, Any], Any]) -> None:
        self.pred = pred

    def process(self, key: Any, value: Any, timestamp: int, headers: Any) -> None:
        if self.pred(key, value):
            self.down(key, value, timestamp, headers)


class FilterNot(Filter):
    __slots__ = ()

    def process(self, key: Any, value: Any, timestamp: int, headers: Any) -> None:
        if not self.pred(key, value):
            self.down(key, value, timestamp, headers)


class Map(NodeProcessor):
    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Any, Any], Any]) -> None:
        self.fn = fn

    def process(self, key: Any, value: Any, timestamp: int, headers: Any) -> None:
        pair = self.fn(key, value)
        try:
            new_key, new_value = pair
        except (TypeError, ValueError):
            not_a_pair("map", pair)
        self.down(new_key, new_value, timestamp, headers)


class MapValues(NodeProcessor):
    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def process(self, key: Any, value: Any, timestamp: int, headers: Any) -> None:
        self.down(key, self.fn(value), timestamp, headers)


class FlatMap(NodeProcessor):
    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Any, Any], Any]) -> None:
        self.fn = fn

    def process(self, key: Any, value: Any, timestamp: int, headers: Any) -> None:
        down = self.down
        for pair in self.fn(key, value) or ():
            try:
                new_key, new_value = pair
            except (TypeError, ValueError):
                not_a_pair("flat_map", pair)
            down(new_key, new_value, timestamp, headers)


class FlatMapValues(NodeProcessor):
    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def process(self, key: Any, value: Any, timestamp: int, headers: Any) -> None:
        down = self.down
        for new_value in self.fn(value) or ():
            down(key, new_value, timestamp, headers)


class SelectKey(NodeProcessor):
    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Any, Any], Any]) -> None:
        self.fn = fn

    def process(self, key: Any, value: Any, timestamp: int, headers: Any) -> None:
        self.down(self.fn(key, value), value, timestamp, headers)


class Peek(NodeProcessor):
    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Any, Any], Any]) -> None:
        self.fn = fn

    def process(self, key: Any, value: Any, timestamp: int, headers: Any) -> None:
        self.fn(key, value)
        self.down(key, value, timestamp, headers)


class PassThrough(NodeProcessor):
    """merge() and branch children: forward unchanged."""

    __slots__ = ()

    def process(self, key: Any, value: Any, timestamp: int, headers: Any) -> None:
        self.down(key, value, timestamp, headers)


class Split(NodeProcessor):
    """Sends each record to the first branch whose predicate holds, else to the default."""

    __slots__ = ("branches", "default", "default_target", "predicates", "targets")

    def __init__(
        self,
        predicates: Sequence[Callable[[Any, Any], Any]],
        branches: Sequence[str],
        default: str | None,
    ) -> None:
        self.predicates = tuple(predicates)
        self.branches = tuple(branches)
        self.default = default

    def init(self, context: NodeContext) -> None:
        super().init(context)
        missing = [b for b in self.branches if b not in context.children]
        if missing:
            raise TopologyError(f"split {context.name!r}: branch nodes {missing} are missing")
        self.targets: tuple[tuple[Callable[[Any, Any], Any], Forward], ...] = tuple(
            zip(self.predicates, [context.children[b] for b in self.branches], strict=True)
        )
        self.default_target = context.children[self.default] if self.default else None

    def process(self, key: Any, value: Any, timestamp: int, headers: Any) -> None:
        for pred, target in self.targets:
            if pred(key, value):
                target(key, value, timestamp, headers)
                return
        if self.default_target is not None:
            self.default_target(key, value, timestamp, headers)
