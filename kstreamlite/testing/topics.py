"""TestInputTopic and TestOutputTopic: typed ends of the driver's in-memory topics."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from .._time import to_millis
from ..records import KeyValue, Record
from ..serdes import Serde

if TYPE_CHECKING:
    from .driver import TopologyTestDriver


class NoSuchElementError(LookupError):
    """Read from an output topic that holds no unread record."""


class StoredRecord(NamedTuple):
    key: bytes | None
    value: bytes | None
    timestamp: int
    headers: tuple[tuple[str, bytes | None], ...]


def _headers(headers: Any) -> tuple[tuple[str, bytes | None], ...]:
    if not headers:
        return ()
    items = headers.items() if isinstance(headers, dict) else headers
    out = []
    for name, raw in items:
        out.append((name, raw.encode() if isinstance(raw, str) else raw))
    return tuple(out)


class TestInputTopic:
    """Pipe typed records into a source topic; timestamps default to the topic's own clock."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        driver: TopologyTestDriver,
        topic: str,
        key_serde: Serde[Any],
        value_serde: Serde[Any],
        start_timestamp: int,
        auto_advance: int,
    ) -> None:
        self._driver = driver
        self.topic = topic
        self._key_serde = key_serde
        self._value_serde = value_serde
        self._time = start_timestamp
        self._advance = auto_advance

    def pipe_input(
        self,
        key: Any = None,
        value: Any = None,
        timestamp: int | None = None,
        headers: Any = None,
    ) -> None:
        if timestamp is None:
            timestamp = self._time
            self._time += self._advance
        record = StoredRecord(
            self._key_serde.serialize(key),
            self._value_serde.serialize(value),
            timestamp,
            _headers(headers),
        )
        self._driver._pipe(self.topic, record)

    def pipe_key_value_list(self, pairs: Iterable[tuple[Any, Any]]) -> None:
        for key, value in pairs:
            self.pipe_input(key, value)

    def pipe_value_list(self, values: Iterable[Any]) -> None:
        for value in values:
            self.pipe_input(None, value)

    def pipe_record_list(self, records: Iterable[Record]) -> None:
        for r in records:
            self.pipe_input(r.key, r.value, r.timestamp, r.headers)

    def advance_time(self, duration: int | timedelta) -> None:
        self._time += to_millis(duration, "advance_time")


class TestOutputTopic:
    """Read what the topology wrote to a topic, oldest first; each read consumes."""

    __test__ = False

    def __init__(
        self,
        driver: TopologyTestDriver,
        topic: str,
        key_serde: Serde[Any],
        value_serde: Serde[Any],
    ) -> None:
        self._driver = driver
        self.topic = topic
        self._key_serde = key_serde
        self._value_serde = value_serde

    def _pop(self) -> StoredRecord:
        queue = self._driver._unread_queue(self.topic)
        if not queue:
            raise NoSuchElementError(f"output topic {self.topic!r} has no unread record")
        return queue.popleft()

    def read_record(self) -> Record:
        stored = self._pop()
        return Record(
            self._key_serde.deserialize(stored.key),
            self._value_serde.deserialize(stored.value),
            stored.timestamp,
            stored.headers,
        )

    def read_value(self) -> Any:
        return self.read_record().value

    def read_key_value(self) -> KeyValue:
        record = self.read_record()
        return KeyValue(record.key, record.value)

    def read_records_to_list(self) -> list[Record]:
        return [self.read_record() for _ in range(self.queue_size())]

    def read_values_to_list(self) -> list[Any]:
        return [r.value for r in self.read_records_to_list()]

    def read_key_values_to_list(self) -> list[KeyValue]:
        return [KeyValue(r.key, r.value) for r in self.read_records_to_list()]

    def read_key_values_to_map(self) -> dict[Any, Any]:
        """Latest value per key; a ``None`` value (tombstone) removes the key."""
        table: dict[Any, Any] = {}
        for record in self.read_records_to_list():
            if record.value is None:
                table.pop(record.key, None)
            else:
                table[record.key] = record.value
        return table

    def is_empty(self) -> bool:
        return self.queue_size() == 0

    def queue_size(self) -> int:
        return len(self._driver._unread_queue(self.topic))
