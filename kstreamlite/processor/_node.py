"""The runtime side of a topology node: what a task instantiates from a node definition.

Every node, built-in or user-written, is a NodeProcessor whose ``process(key, value,
timestamp, headers)`` is called directly by its parent. Passing the four fields as plain
arguments (no Record object, no dispatch table) is deliberate: this is the hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..runtime.task import StreamTask

Forward = Callable[[Any, Any, int, Any], None]


def _drop(key: Any, value: Any, timestamp: int, headers: Any) -> None:
    """Downstream of a node without children."""


def fanout(targets: Sequence[Forward]) -> Forward:
    """One callable that forwards to every target; the single-child case costs nothing extra."""
    if not targets:
        return _drop
    if len(targets) == 1:
        return targets[0]
    fixed = tuple(targets)

    def forward_all(key: Any, value: Any, timestamp: int, headers: Any) -> None:
        for target in fixed:
            target(key, value, timestamp, headers)

    return forward_all


class NodeContext:
    """What a node learns about its place in a task when it is initialised."""

    __slots__ = ("children", "downstream", "name", "stores", "task")

    def __init__(
        self, task: StreamTask, name: str, children: Mapping[str, Forward], stores: Sequence[str]
    ) -> None:
        self.task = task
        self.name = name
        self.children = dict(children)
        self.downstream = fanout(list(children.values()))
        self.stores = tuple(stores)


class NodeProcessor:
    """Base of all runtime nodes. Subclasses set ``process``; ``init``/``close`` are optional."""

    __slots__ = ("down", "name")

    def init(self, context: NodeContext) -> None:
        self.name = context.name
        self.down = context.downstream

    def process(self, key: Any, value: Any, timestamp: int, headers: Any) -> None:
        raise NotImplementedError  # pragma: no cover - every subclass defines it

    def close(self) -> None:
        """Release what init() acquired."""
