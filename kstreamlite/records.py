"""The small immutable values that flow through a topology: KeyValue, Record, Window, Windowed.

Kept free of any runtime import so every other module can depend on it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

Headers = tuple[tuple[str, bytes | None], ...] | list[tuple[str, bytes | None]]


class KeyValue(NamedTuple):
    """A key and a value; a plain tuple so ``KeyValue("a", 1) == ("a", 1)``."""

    key: Any
    value: Any


class Record:
    """What the Processor API sees: key, value, event timestamp (epoch ms) and headers.

    Immutable; the ``with_*`` methods return copies so a processor can forward a
    changed record without touching the one it received.
    """

    __slots__ = ("headers", "key", "timestamp", "value")

    def __init__(self, key: Any, value: Any, timestamp: int, headers: Headers | None = ()) -> None:
        self.key = key
        self.value = value
        self.timestamp = timestamp
        self.headers = headers if headers is not None else ()

    def with_key(self, key: Any) -> Record:
        return Record(key, self.value, self.timestamp, self.headers)

    def with_value(self, value: Any) -> Record:
        return Record(self.key, value, self.timestamp, self.headers)

    def with_timestamp(self, timestamp: int) -> Record:
        return Record(self.key, self.value, timestamp, self.headers)

    def with_headers(self, headers: Headers) -> Record:
        return Record(self.key, self.value, self.timestamp, headers)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record):
            return NotImplemented
        return (self.key, self.value, self.timestamp, tuple(self.headers)) == (
            other.key,
            other.value,
            other.timestamp,
            tuple(other.headers),
        )

    def __hash__(self) -> int:
        return hash((self.key, self.timestamp))

    def __repr__(self) -> str:
        return (
            f"Record(key={self.key!r}, value={self.value!r}, timestamp={self.timestamp}, "
            f"headers={tuple(self.headers)!r})"
        )


class Window(NamedTuple):
    """A time window ``[start, end)`` in epoch milliseconds; ``end`` is exclusive."""

    start: int
    end: int


class Windowed(NamedTuple):
    """The key of a windowed aggregate result: the record key and its window."""

    key: Any
    window: Window
