"""KeyValueStore: the store processors use; serdes, write-back cache and changelog in one.

Kafka Streams stacks these as separate wrappers. Here they are one class because in
Python each layer is a call per access: the cache holds *deserialized* values keyed by
key bytes, so a key updated a thousand times between commits is serialized, written to
RocksDB and sent to the changelog once, at flush. Flushing also tells an optional
listener about each changed key, which is how aggregations forward de-duplicated
updates downstream, as Kafka Streams' record cache does.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..records import KeyValue
from ..serdes import Serde
from .backends import BytesStore

# (key, new value, old value, timestamp) for every key a flush wrote.
FlushListener = Callable[[Any, Any, Any, int], None]
# (key bytes, value bytes or None, timestamp): one changelog record.
ChangeLogger = Callable[[bytes, bytes | None, int], None]

# Rough bytes per cached entry, to turn cache_max_bytes into an entry budget without
# measuring Python objects on every put (measured: 470-690 B for a small JSON aggregate).
ENTRY_BYTES_ESTIMATE = 640
# Entries serialized and written per slice of a flush: orjson's output buffers hold about
# 4 KiB each however small the JSON, so serializing a whole 40k-entry flush at once would
# hold ~160 MiB; slices keep that to a few MiB.
WRITE_SLICE = 1_000

_KEY, _VALUE, _OLD, _TS, _DIRTY = range(5)


class CacheBudget:
    """The instance-wide bound on cached entries (cache_max_bytes), shared by its stores."""

    def __init__(self, max_bytes: int) -> None:
        self.max_entries = max_bytes // ENTRY_BYTES_ESTIMATE
        self.used = 0


class StoreMeter:
    """Operation counts of one store since the last drain.

    ``misses`` are reads that went past the cache to the backend (every read when
    caching is off), ``hits`` lookups the cache answered; ``writes`` are entries
    written to the backend (one per flushed key with caching on, one per put without).
    """

    __slots__ = ("gets", "hits", "misses", "puts", "restored", "writes")
    FIELDS = ("gets", "puts", "hits", "misses", "writes", "restored")

    def __init__(self) -> None:
        self.gets = self.puts = self.hits = self.misses = self.writes = self.restored = 0

    def drain(self) -> dict[str, int]:
        counts = {name: getattr(self, name) for name in self.FIELDS}
        self.gets = self.puts = self.hits = self.misses = self.writes = self.restored = 0
        return counts


class KeyValueStore:
    """A key-value state store of one task."""

    def __init__(
        self,
        name: str,
        backend: BytesStore,
        key_serde: Serde[Any],
        value_serde: Serde[Any],
        *,
        changelog: ChangeLogger | None = None,
        cache: CacheBudget | None = None,
        clock: Callable[[], int] = lambda: 0,
    ) -> None:
        self.name = name
        self._backend = backend
        self._key_serde = key_serde
        self._value_serde = value_serde
        self._kser = key_serde.ser
        self._kde = key_serde.de
        self._vser = value_serde.ser
        self._vde = value_serde.de
        self._changelog = changelog
        self._budget = cache
        self._cache: dict[bytes, list[Any]] | None = {} if cache is not None else None
        # The dirty entries' keys in byte order: ranges overlay them without a cache scan.
        self._dirty_keys: list[bytes] = []
        self._clock = clock
        self._listener: FlushListener | None = None
        # Metering: plain ints on the hot path, published to Prometheus at each commit.
        self.meter = StoreMeter()

    @property
    def caching(self) -> bool:
        return self._cache is not None

    @property
    def persistent(self) -> bool:
        return bool(getattr(self._backend, "persistent", False))

    @property
    def logging(self) -> bool:
        return self._changelog is not None

    def set_flush_listener(self, listener: FlushListener | None) -> None:
        self._listener = listener

    # ---- reads ----

    def get(self, key: Any) -> Any:
        if key is None:
            raise ValueError(f"store {self.name!r}: keys must not be None")
        kb = self._kser(key)
        self.meter.gets += 1
        cache = self._cache
        if cache is not None:
            entry = cache.get(kb)
            if entry is not None:
                self.meter.hits += 1
                return entry[_VALUE]
        self.meter.misses += 1
        raw = self._backend.get(kb)
        value = None if raw is None else self._vde(raw)
        if cache is not None:
            self._admit(kb, [key, value, value, 0, False])
        return value

    def peek(self, key: Any) -> Any:
        """get() without touching the cache: safe from another thread (interactive queries)."""
        if key is None:
            raise ValueError(f"store {self.name!r}: keys must not be None")
        kb = self._kser(key)
        if self._cache is not None:
            entry = self._cache.get(kb)  # one atomic dict read; never mutates the cache
            if entry is not None:
                return entry[_VALUE]
        raw = self._backend.get(kb)
        return None if raw is None else self._vde(raw)

    def range(self, from_key: Any, to_key: Any) -> Iterator[KeyValue]:
        """Entries with from_key <= key <= to_key in serialized-key order (None: unbounded)."""
        low = None if from_key is None else self._kser(from_key)
        high = None if to_key is None else self._kser(to_key)
        return self._merged(low, high)

    def all(self) -> Iterator[KeyValue]:
        return self._merged(None, None)

    def prefix_items(self, prefix: bytes) -> Iterator[tuple[bytes, Any]]:
        """``(rest of the key, value)`` for each key that starts with ``prefix``, in order.

        For stores with bytes keys (internal stores that build composite keys).
        """
        end = prefix.rstrip(b"\xff")
        high = end[:-1] + bytes([end[-1] + 1]) if end else None
        for kv in self._merged(prefix, high):
            if kv.key.startswith(prefix):
                yield kv.key[len(prefix) :], kv.value

    def query_range(self, from_key: Any, to_key: Any) -> Iterator[KeyValue]:
        """range() safe to call from another thread (interactive queries)."""
        low = None if from_key is None else self._kser(from_key)
        high = None if to_key is None else self._kser(to_key)
        return self._merged(low, high, from_owner=False)

    def approximate_num_entries(self) -> int:
        return self._backend.count() + len(self._dirty_keys)  # dirty: not yet written

    def _merged(
        self, low: bytes | None, high: bytes | None, from_owner: bool = True
    ) -> Iterator[KeyValue]:
        stored = dict(self._backend.range(low, high))
        overlay: dict[bytes, Any] = {}
        cache = self._cache
        if cache is not None and from_owner:
            keys = self._dirty_keys
            first = 0 if low is None else bisect_left(keys, low)
            last = len(keys) if high is None else bisect_right(keys, high)
            for kb in keys[first:last]:
                overlay[kb] = cache[kb][_VALUE]
        elif cache is not None:  # another thread (interactive queries): copy, never mutate
            for kb, entry in _snapshot(cache):
                if entry[_DIRTY] and (low is None or kb >= low) and (high is None or kb <= high):
                    overlay[kb] = entry[_VALUE]
        for kb in sorted(stored.keys() | overlay.keys()):
            value = overlay[kb] if kb in overlay else self._vde(stored[kb])
            if value is not None:
                yield KeyValue(self._kde(kb), value)

    # ---- writes ----

    def put(self, key: Any, value: Any, timestamp: int | None = None) -> None:
        if key is None:
            raise ValueError(f"store {self.name!r}: keys must not be None")
        kb = self._kser(key)
        ts = self._clock() if timestamp is None else timestamp
        self.meter.puts += 1
        cache = self._cache
        if cache is None:
            vb = None if value is None else self._vser(value)
            self._backend.write(((kb, vb),))
            self.meter.writes += 1
            if self._changelog is not None:
                self._changelog(kb, vb, ts)
            return
        entry = cache.get(kb)
        if entry is None:
            self.meter.misses += 1
            raw = self._backend.get(kb)
            old = None if raw is None else self._vde(raw)
            insort(self._dirty_keys, kb)
            self._admit(kb, [key, value, old, ts, True])
        else:
            self.meter.hits += 1
            if not entry[_DIRTY]:
                insort(self._dirty_keys, kb)
            entry[_VALUE] = value
            entry[_TS] = ts
            entry[_DIRTY] = True
            # Most recently updated last: flushes follow update order and eviction takes
            # the least recently updated, as in Kafka Streams' cache.
            cache[kb] = cache.pop(kb)

    def update(
        self,
        key: Any,
        value: Any,
        combine: Callable[[Any, Any, Any], Any],
        timestamp: int | None = None,
    ) -> tuple[Any, Any]:
        """Fold ``value`` into the key's value: ``combine(key, value, old) -> new``.

        get() then put() with one key serialization and one cache lookup: the read and
        write of every aggregation. Returns ``(new, old)``; nothing changes if ``combine``
        raises.
        """
        if key is None:
            raise ValueError(f"store {self.name!r}: keys must not be None")
        return self._update(self._kser(key), key, key, value, combine, timestamp)

    def _update(
        self,
        kb: bytes,
        entry_key: Any,
        key: Any,
        value: Any,
        combine: Callable[[Any, Any, Any], Any],
        timestamp: int | None,
    ) -> tuple[Any, Any]:
        meter = self.meter
        meter.gets += 1
        meter.puts += 1
        cache = self._cache
        if cache is not None:
            entry = cache.get(kb)
            if entry is not None:
                meter.hits += 1
                old = entry[_VALUE]
                new = combine(key, value, old)
                if not entry[_DIRTY]:
                    insort(self._dirty_keys, kb)
                    entry[_DIRTY] = True
                entry[_VALUE] = new
                entry[_TS] = self._clock() if timestamp is None else timestamp
                cache[kb] = cache.pop(kb)
                return new, old
        meter.misses += 1
        raw = self._backend.get(kb)
        old = None if raw is None else self._vde(raw)
        new = combine(key, value, old)
        ts = self._clock() if timestamp is None else timestamp
        if cache is None:
            vb = None if new is None else self._vser(new)
            self._backend.write(((kb, vb),))
            meter.writes += 1
            if self._changelog is not None:
                self._changelog(kb, vb, ts)
        else:
            insort(self._dirty_keys, kb)
            self._admit(kb, [entry_key, new, old, ts, True])
        return new, old

    def put_if_absent(self, key: Any, value: Any) -> Any:
        current = self.get(key)
        if current is None:
            self.put(key, value)
        return current

    def put_all(self, entries: Iterable[tuple[Any, Any]]) -> None:
        for key, value in entries:
            self.put(key, value)

    def delete(self, key: Any) -> Any:
        old = self.get(key)
        self.put(key, None)
        return old

    # ---- cache ----

    def _admit(self, kb: bytes, entry: list[Any]) -> None:
        assert self._cache is not None and self._budget is not None
        self._cache[kb] = entry
        budget = self._budget
        budget.used += 1
        if budget.used > budget.max_entries:
            self._evict(max(1, len(self._cache) // 10))

    def _evict(self, count: int) -> None:
        """Drop the oldest entries, writing the dirty ones first (as a flush would)."""
        assert self._cache is not None and self._budget is not None
        victims = []
        for kb in self._cache:
            victims.append(kb)
            if len(victims) >= count:
                break
        written = [(kb, self._cache[kb]) for kb in victims if self._cache[kb][_DIRTY]]
        self._write(written)
        self._forget_dirty(kb for kb, _ in written)
        for kb in victims:
            del self._cache[kb]
        self._budget.used -= len(victims)

    def drop_cached(self, keys: Iterable[bytes]) -> None:
        """Forget cached entries without writing them (their data was deleted: expiry)."""
        cache = self._cache
        if cache is None or self._budget is None:
            return
        for kb in keys:
            entry = cache.pop(kb, None)
            if entry is not None:
                self._budget.used -= 1
                if entry[_DIRTY]:
                    self._forget_dirty((kb,))

    def discard_dirty(self, doomed: Callable[[bytes], bool]) -> None:
        """Forget dirty cached entries whose key bytes are ``doomed``, without writing them.

        Expiry: a window past its retention is gone, and so is its pending update, as
        Kafka Streams drops writes into expired segments. Cheaper than flushing the whole
        cache at every expiry step, which would also forward every open window's update.
        """
        cache = self._cache
        if cache is None or self._budget is None or not self._dirty_keys:
            return
        kept: list[bytes] = []
        for kb in self._dirty_keys:
            if doomed(kb):
                del cache[kb]
                self._budget.used -= 1
            else:
                kept.append(kb)
        self._dirty_keys = kept

    def _forget_dirty(self, keys: Iterable[bytes]) -> None:
        dirty = self._dirty_keys
        for kb in keys:
            at = bisect_left(dirty, kb)
            if at < len(dirty) and dirty[at] == kb:
                del dirty[at]

    def flush(self) -> None:
        """Write every dirty entry to the backend and changelog; tell the listener."""
        if self._cache is None:
            return
        dirty = [(kb, e) for kb, e in self._cache.items() if e[_DIRTY]]
        if dirty:
            self._write(dirty)
        self._dirty_keys.clear()

    def _write(self, dirty: list[tuple[bytes, list[Any]]]) -> None:
        for at in range(0, len(dirty), WRITE_SLICE):
            self._write_slice(dirty[at : at + WRITE_SLICE])

    def _write_slice(self, dirty: list[tuple[bytes, list[Any]]]) -> None:
        vser = self._vser
        changes = []
        for kb, entry in dirty:
            value = entry[_VALUE]
            changes.append((kb, None if value is None else vser(value)))
        self._backend.write(changes)
        self.meter.writes += len(changes)
        if self._changelog is not None:
            for (kb, vb), (_, entry) in zip(changes, dirty, strict=True):
                self._changelog(kb, vb, entry[_TS])
        del changes
        listener = self._listener
        for _, entry in dirty:
            old = entry[_OLD]
            entry[_OLD] = entry[_VALUE]
            entry[_DIRTY] = False
            if listener is not None:
                listener(entry[_KEY], entry[_VALUE], old, entry[_TS])

    # ---- lifecycle ----

    def restore(self, records: Iterable[tuple[bytes, bytes | None]]) -> None:
        """Apply changelog records straight to the backend (the cache is empty then)."""
        if not isinstance(records, list):
            records = list(records)
        self._backend.write(records)
        self.meter.restored += len(records)

    def close(self) -> None:
        if self._cache is not None and self._budget is not None:
            self._budget.used -= len(self._cache)
            self._cache.clear()
            self._dirty_keys.clear()
        self._backend.close()

    def destroy(self) -> None:
        """Close and delete the local data (it is restored from the changelog)."""
        if self._cache is not None and self._budget is not None:
            self._budget.used -= len(self._cache)
            self._cache.clear()
            self._dirty_keys.clear()
        self._backend.destroy()


def _snapshot(cache: dict[bytes, list[Any]]) -> list[tuple[bytes, list[Any]]]:
    """A copy of the cache safe to take while the stream thread writes (interactive queries)."""
    for _ in range(100):
        try:
            return list(cache.items())
        except RuntimeError:  # changed size during iteration
            continue
    return list(cache.items())


class ReadOnlyKeyValueStore:
    """Interactive queries: reads across the given stores (one per local task)."""

    def __init__(self, name: str, stores: list[KeyValueStore]) -> None:
        self.name = name
        self._stores = stores

    def get(self, key: Any) -> Any:
        for store in self._stores:
            value = store.peek(key)
            if value is not None:
                return value
        return None

    def range(self, from_key: Any, to_key: Any) -> Iterator[KeyValue]:
        return _merge_sorted([s.query_range(from_key, to_key) for s in self._stores], self._stores)

    def all(self) -> Iterator[KeyValue]:
        return _merge_sorted([s.query_range(None, None) for s in self._stores], self._stores)

    def approximate_num_entries(self) -> int:
        return sum(s.approximate_num_entries() for s in self._stores)


def _merge_sorted(
    iterators: list[Iterator[KeyValue]], stores: list[KeyValueStore]
) -> Iterator[KeyValue]:
    import heapq

    if not stores:
        return iter(())
    kser = stores[0]._kser
    return heapq.merge(*iterators, key=lambda kv: kser(kv.key))
