"""The public Processor API: Processor, ProcessorContext, PunctuationType.

A Processor sees Records one at a time and forwards what it likes through its context.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from .._time import to_millis
from ..errors import TopologyError
from ..records import Record
from ._node import Forward, NodeContext, NodeProcessor

if TYPE_CHECKING:
    from ..runtime.task import StreamTask


class PunctuationType(enum.Enum):
    """Whether a punctuator follows stream time (record timestamps) or the wall clock."""

    STREAM_TIME = "stream_time"
    WALL_CLOCK_TIME = "wall_clock_time"


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class Processor:
    """Subclass and override ``process``; ``init`` and ``close`` are optional."""

    def init(self, context: ProcessorContext) -> None:
        self.context = context

    def process(self, record: Record) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define process(record)")

    def close(self) -> None:
        """Called once when the task closes."""


class ProcessorContext:
    """A processor's view of the task that runs it; one per processor instance."""

    def __init__(
        self,
        task: StreamTask,
        node_name: str,
        children: dict[str, Forward],
        stores: Sequence[str] = (),
    ) -> None:
        self._task = task
        self._node_name = node_name
        self._stores = tuple(stores)
        self._children = children
        self._all = list(children.values())

    def forward(self, record: Record, to: str | None = None) -> None:
        """Send a record to every child, or only to the child named ``to``."""
        if not isinstance(record, Record):
            raise TypeError(
                f"processor {self._node_name!r} forwarded a {type(record).__name__}; "
                "forward a kstreamlite.Record (for example record.with_value(v))"
            )
        headers = record.headers
        # confluent-kafka takes headers as a list (or None), never a tuple.
        args = (record.key, record.value, record.timestamp, list(headers) if headers else None)
        if to is None:
            for child in self._all:
                child(*args)
            return
        target = self._children.get(to)
        if target is None:
            raise TopologyError(
                f"processor {self._node_name!r} forwarded to unknown child {to!r}; "
                f"its children are {sorted(self._children)}"
            )
        target(*args)

    def schedule(
        self,
        interval: int | timedelta,
        punctuation_type: PunctuationType,
        callback: Callable[[int], Any],
    ) -> Cancellable:
        """Call ``callback(timestamp)`` every ``interval`` of stream time or wall-clock time."""
        if not isinstance(punctuation_type, PunctuationType):
            raise TypeError(
                "punctuation_type must be PunctuationType.STREAM_TIME or WALL_CLOCK_TIME"
            )
        return self._task.schedule(
            to_millis(interval, "interval"), punctuation_type, callback, self._node_name
        )

    def get_state_store(self, name: str) -> Any:
        """A store connected to this processor (``process(..., stores=[name])``)."""
        if name not in self._stores:
            raise TopologyError(
                f"processor {self._node_name!r} is not connected to store {name!r}; connected "
                f"stores: {sorted(self._stores)}. Pass stores=[{name!r}] to process()"
            )
        assert self._task.state is not None
        return self._task.state.stores[name]

    def commit(self) -> None:
        """Ask for a commit as soon as the current record is done."""
        self._task.commit_requested = True

    @property
    def record_metadata(self) -> tuple[str, int, int] | None:
        """(topic, partition, offset) of the record being processed, or None in a punctuator."""
        return self._task.record_metadata()

    @property
    def task_id(self) -> str:
        return self._task.id

    @property
    def application_id(self) -> str:
        return self._task.application_id

    @property
    def current_stream_time_ms(self) -> int:
        return self._task.stream_time

    @property
    def current_system_time_ms(self) -> int:
        return self._task.clock()


class ProcessNode(NodeProcessor):
    """Runs a user Processor inside a task: builds a Record per call, as the API promises."""

    __slots__ = ("factory", "user")

    def __init__(self, factory: Any) -> None:
        self.factory = factory

    def init(self, context: NodeContext) -> None:
        super().init(context)
        user = self.factory()
        if not callable(getattr(user, "process", None)):
            raise TopologyError(
                f"processor factory for {context.name!r} returned {type(user).__name__}, "
                "which has no process(record) method; return a kstreamlite.processor.Processor"
            )
        self.user = user
        init = getattr(user, "init", None)
        if init is not None:
            init(ProcessorContext(context.task, context.name, context.children, context.stores))

    def process(self, key: Any, value: Any, timestamp: int, headers: Any) -> None:
        self.user.process(Record(key, value, timestamp, headers))

    def close(self) -> None:
        close = getattr(self.user, "close", None)
        if close is not None:
            close()
