"""The suppression buffer: updates held back by ``suppress``, ordered by when they are due.

Kept in memory and changelogged (as Kafka Streams' in-memory time-ordered buffer): entry
key ``due time (8 bytes) + key bytes``, entry value ``timestamp (8 bytes) + flag byte +
value bytes`` (flag 0 marks a null value). An index from key bytes to due time finds a
key's entry; it is rebuilt from the entries after a restore.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any

from ..serdes import Serde
from .kv import KeyValueStore, StoreMeter
from .windowed import pack_time, unpack_time

_TS = struct.Struct(">q")


class SuppressBuffer:
    persistent = False

    def __init__(self, kv: KeyValueStore, key_serde: Serde[Any], value_serde: Serde[Any]) -> None:
        self.kv = kv
        self.name = kv.name
        self._kser, self._kde = key_serde.ser, key_serde.de
        self._vser, self._vde = value_serde.ser, value_serde.de
        self._due: dict[bytes, int] | None = None  # key bytes -> due time

    @property
    def meter(self) -> StoreMeter:
        return self.kv.meter

    @property
    def caching(self) -> bool:
        return False

    def _index(self) -> dict[bytes, int]:
        if self._due is None:
            self._due = {
                composite[8:]: unpack_time(composite, 0)
                for composite, _ in self.kv._backend.range(None, None)
            }
        return self._due

    def __len__(self) -> int:
        return len(self._index())

    def first_time(self, key: Any) -> int | None:
        return self._index().get(self._kser(key))

    def put(self, due: int, key: Any, value: Any, timestamp: int) -> None:
        kb = self._kser(key)
        index = self._index()
        previous = index.get(kb)
        if previous is not None and previous != due:
            self.kv.put(pack_time(previous) + kb, None, timestamp)
        index[kb] = due
        payload = b"\x00" if value is None else b"\x01" + self._vser(value)
        self.kv.put(pack_time(due) + kb, _TS.pack(timestamp) + payload, timestamp)

    def discard(self, key: Any) -> None:
        kb = self._kser(key)
        due = self._index().pop(kb, None)
        if due is not None:
            self.kv.put(pack_time(due) + kb, None)

    def pop_due(self, watermark: int) -> list[tuple[Any, Any, int]]:
        """Remove and return ``(key, value, timestamp)`` of every entry due by ``watermark``."""
        due = []
        for composite, raw in self.kv._backend.range(None, pack_time(watermark + 1)):
            if unpack_time(composite, 0) > watermark:
                break
            due.append((composite, raw))
        return [self._take(composite, raw) for composite, raw in due]

    def pop_oldest(self) -> tuple[Any, Any, int]:
        for composite, raw in self.kv._backend.range(None, None):
            return self._take(composite, raw)
        raise KeyError("the suppression buffer is empty")

    def _take(self, composite: bytes, raw: bytes) -> tuple[Any, Any, int]:
        kb = composite[8:]
        timestamp = _TS.unpack_from(raw, 0)[0]
        self.kv.put(composite, None, timestamp)
        self._index().pop(kb, None)
        value = None if raw[8:9] == b"\x00" else self._vde(raw[9:])
        return self._kde(kb), value, timestamp

    def approximate_num_entries(self) -> int:
        return len(self)

    def flush(self) -> None:
        self.kv.flush()

    def restore(self, records: Iterable[tuple[bytes, bytes | None]]) -> None:
        self.kv.restore(records)
        self._due = None

    def close(self) -> None:
        self.kv.close()

    def destroy(self) -> None:
        self.kv.destroy()
