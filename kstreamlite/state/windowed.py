"""Window and session stores: a KeyValueStore over composite keys, plus a time index.

Layout, on RocksDB or in memory: data entries ``b"d" + key + times`` (key-first, so one
key's windows are a contiguous range for ``fetch``) and index entries
``b"t" + time + key + times`` (time-first, so expiry deletes the oldest windows without
scanning the rest). ``times`` is the window start for a window store and ``end, start``
for a session store; each is 8 bytes, big-endian, offset so negative times sort first.
The cache, changelog and restore are the KeyValueStore's: the changelog carries the data
entries' composite keys (without the prefix), and restore rebuilds both entries.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..records import KeyValue, Window, Windowed
from ..serdes import Serde
from .backends import BytesStore
from .kv import KeyValueStore, StoreMeter

_OFFSET = 1 << 63
_U64 = struct.Struct(">Q")
_TWO = struct.Struct(">QQ")
_DATA, _INDEX = b"d", b"t"
_DATA_END, _INDEX_END = b"e", b"u"  # one past each prefix: bounds for open ranges
MIN_TIME, MAX_TIME = -_OFFSET, _OFFSET - 1


def pack_time(t: int) -> bytes:
    return _U64.pack(t + _OFFSET)


def unpack_time(data: bytes, at: int) -> int:
    return int(_U64.unpack_from(data, at)[0]) - _OFFSET


class TimeIndexedBackend:
    """A BytesStore over composite keys that also keeps the time index for expiry."""

    def __init__(self, inner: BytesStore, suffix_len: int) -> None:
        self.inner = inner
        self.suffix_len = suffix_len

    def _index_key(self, composite: bytes) -> bytes:
        at = len(composite) - self.suffix_len
        return _INDEX + composite[at : at + 8] + composite

    def get(self, key: bytes) -> bytes | None:
        return self.inner.get(_DATA + key)

    def write(self, changes: Iterable[tuple[bytes, bytes | None]]) -> None:
        entries: list[tuple[bytes, bytes | None]] = []
        for key, value in changes:
            entries.append((_DATA + key, value))
            entries.append((self._index_key(key), None if value is None else b""))
        self.inner.write(entries)

    def range(self, low: bytes | None, high: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        for key, value in self.inner.range(
            _DATA + (low or b""), _DATA_END if high is None else _DATA + high
        ):
            yield key[1:], value

    def count(self) -> int:
        return self.inner.count() // 2

    def expire(self, cutoff: int) -> list[bytes]:
        """Delete every entry whose indexed time is below ``cutoff``; their composite keys."""
        expired = [k[9:] for k, _ in self.inner.range(_INDEX, _INDEX + pack_time(cutoff))]
        expired = [k for k in expired if unpack_time(k, len(k) - self.suffix_len) < cutoff]
        if expired:
            self.inner.write(
                [(_DATA + k, None) for k in expired] + [(self._index_key(k), None) for k in expired]
            )
        return expired

    def close(self) -> None:
        self.inner.close()

    def destroy(self) -> None:
        self.inner.destroy()


def window_key_serde(inner: Serde[Any]) -> Serde[Any]:
    """(key, window start) <-> key bytes + 8-byte start."""
    kser, kde = inner.ser, inner.de
    packed: dict[int, bytes] = {}  # window starts repeat for every key: pack each once

    def ser(composite: tuple[Any, int]) -> bytes:
        key, start = composite
        tail = packed.get(start)
        if tail is None:
            if len(packed) >= 4096:
                packed.clear()
            tail = packed[start] = pack_time(start)
        return kser(key) + tail

    def de(data: bytes) -> tuple[Any, int]:
        return kde(data[:-8]), unpack_time(data, len(data) - 8)

    return Serde(ser, de, name=f"window-key({inner.name})")


def session_key_serde(inner: Serde[Any]) -> Serde[Any]:
    """(key, end, start) <-> key bytes + 8-byte end + 8-byte start (end first: expiry)."""
    kser, kde = inner.ser, inner.de

    def ser(composite: tuple[Any, int, int]) -> bytes:
        return kser(composite[0]) + _TWO.pack(composite[1] + _OFFSET, composite[2] + _OFFSET)

    def de(data: bytes) -> tuple[Any, int, int]:
        end, start = _TWO.unpack_from(data, len(data) - 16)
        return kde(data[:-16]), end - _OFFSET, start - _OFFSET

    return Serde(ser, de, name=f"session-key({inner.name})")


class _ExpiringStore:
    """What window and session stores share: the KeyValueStore inside and expiry."""

    def __init__(self, kv: KeyValueStore, backend: TimeIndexedBackend, retention_ms: int) -> None:
        self.kv = kv
        self.name = kv.name
        self._backend = backend
        self.retention_ms = retention_ms
        self.persistent = getattr(backend.inner, "persistent", False)
        self.observed = MIN_TIME  # highest time put or advanced to; drives expiry
        self._expired_below = MIN_TIME
        self._expiry_step = max(1, retention_ms // 4)
        # Processor API stores expire by the times put into them, as Kafka Streams' do;
        # windowed aggregations turn this off and expire by the task's watermark instead.
        self.expire_on_put = True

    @property
    def meter(self) -> StoreMeter:
        return self.kv.meter

    @property
    def caching(self) -> bool:
        return self.kv.caching

    def set_flush_listener(self, listener: Any) -> None:
        self.kv.set_flush_listener(listener)

    def observe(self, time: int) -> None:
        """Time has reached ``time``: drop what is older than the retention period.

        Expiry runs in steps of a quarter of the retention, as Kafka Streams drops whole
        segments: a window outlives its retention by at most that step.
        """
        if time > self.observed:
            self.observed = time
            cutoff = time - self.retention_ms
            if cutoff >= self._expired_below + self._expiry_step:
                self.expire(cutoff + 1)

    def expire(self, cutoff: int) -> None:
        self._expired_below = cutoff
        # A dirty cached entry of an expired window must not come back at the next flush.
        at = self._backend.suffix_len
        self.kv.discard_dirty(lambda kb: unpack_time(kb, len(kb) - at) < cutoff)
        expired = self._backend.expire(cutoff)
        if expired:
            self.kv.drop_cached(expired)

    def approximate_num_entries(self) -> int:
        return self.kv.approximate_num_entries()

    def flush(self) -> None:
        self.kv.flush()

    def restore(self, records: Iterable[tuple[bytes, bytes | None]]) -> None:
        self.kv.restore(records)

    def close(self) -> None:
        self.kv.close()

    def destroy(self) -> None:
        self.kv.destroy()


class WindowStore(_ExpiringStore):
    """Values per (key, window start); windows older than the retention are dropped."""

    def __init__(
        self,
        kv: KeyValueStore,
        backend: TimeIndexedBackend,
        retention_ms: int,
        window_size_ms: int,
    ) -> None:
        super().__init__(kv, backend, retention_ms)
        self.window_size_ms = window_size_ms

    def put(self, key: Any, value: Any, window_start: int, timestamp: int | None = None) -> None:
        if window_start + self.retention_ms <= self.observed:
            return  # already expired: Kafka Streams drops such writes too
        self.kv.put((key, window_start), value, timestamp)
        if self.expire_on_put:
            self.observe(window_start)

    def get(self, key: Any, window_start: int) -> Any:
        return self.kv.get((key, window_start))

    def update(
        self,
        key: Any,
        window_start: int,
        value: Any,
        combine: Callable[[Any, Any, Any], Any],
        timestamp: int | None = None,
    ) -> tuple[Any, Any]:
        """KeyValueStore.update for one window: ``combine(key, value, old) -> new``."""
        if key is None:
            raise ValueError(f"store {self.name!r}: keys must not be None")
        if window_start + self.retention_ms <= self.observed:
            old = self.get(key, window_start)
            return combine(key, value, old), old  # already expired: not stored, as put()
        composite = (key, window_start)
        kv = self.kv
        result = kv._update(kv._kser(composite), composite, key, value, combine, timestamp)
        if self.expire_on_put:
            self.observe(window_start)
        return result

    def fetch(self, key: Any, time_from: int, time_to: int) -> Iterator[tuple[int, Any]]:
        """``(window_start, value)`` for the key's windows starting in [time_from, time_to]."""
        for kv in self.kv.range((key, time_from), (key, time_to)):
            if kv.key[0] == key:
                yield kv.key[1], kv.value

    def fetch_all(self, time_from: int, time_to: int) -> Iterator[KeyValue]:
        """``KeyValue(Windowed, value)`` for every window starting in [time_from, time_to]."""
        for kv in self.all():
            if time_from <= kv.key.window.start <= time_to:
                yield kv

    def all(self) -> Iterator[KeyValue]:
        size = self.window_size_ms
        for kv in self.kv.all():
            key, start = kv.key
            yield KeyValue(Windowed(key, Window(start, start + size)), kv.value)


class SessionStore(_ExpiringStore):
    """Sessions per key, keyed by ``Windowed(key, Window(start, end))`` (both inclusive)."""

    def put(self, session: Windowed, value: Any, timestamp: int | None = None) -> None:
        key, (start, end) = session
        if end + self.retention_ms <= self.observed:
            return
        self.kv.put((key, end, start), value, timestamp)
        if self.expire_on_put:
            self.observe(end)

    def remove(self, session: Windowed) -> None:
        key, (start, end) = session
        self.kv.put((key, end, start), None)

    def fetch_session(self, key: Any, start: int, end: int) -> Any:
        return self.kv.get((key, end, start))

    def find_sessions(self, key: Any, earliest_end: int, latest_start: int) -> Iterator[KeyValue]:
        """Sessions of ``key`` with ``end >= earliest_end`` and ``start <= latest_start``."""
        for kv in self.kv.range((key, earliest_end, MIN_TIME), (key, MAX_TIME, MAX_TIME)):
            k, end, start = kv.key
            if k == key and start <= latest_start:
                yield KeyValue(Windowed(k, Window(start, end)), kv.value)

    def fetch(self, key: Any) -> Iterator[KeyValue]:
        return self.find_sessions(key, MIN_TIME, MAX_TIME)

    def all(self) -> Iterator[KeyValue]:
        for kv in self.kv.all():
            key, end, start = kv.key
            yield KeyValue(Windowed(key, Window(start, end)), kv.value)
