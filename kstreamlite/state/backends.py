"""Byte-level key-value backends: RocksDB (rocksdict) and an in-memory dict.

They know nothing of serdes, caching or changelogs; the typed store above them batches
writes, so ``write`` takes a slice of a commit's changes at once (a RocksDB WriteBatch).
Keys iterate in byte order, as in Kafka Streams.
"""

from __future__ import annotations

import shutil
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Iterator
from typing import Protocol, cast

from rocksdict import BlockBasedOptions, Cache, Options, Rdict, WriteBatch

from ..errors import KStreamliteError


class StateStoreError(KStreamliteError):
    """A state store cannot be opened, read or written."""


class BytesStore(Protocol):
    def get(self, key: bytes) -> bytes | None: ...
    def write(self, changes: Iterable[tuple[bytes, bytes | None]]) -> None: ...
    def range(self, low: bytes | None, high: bytes | None) -> Iterator[tuple[bytes, bytes]]: ...
    def count(self) -> int: ...
    def close(self) -> None: ...
    def destroy(self) -> None: ...


class MemoryBytesStore:
    """A dict plus its keys in order, kept sorted on insert so ``range`` is a bisect."""

    persistent = False

    def __init__(self) -> None:
        self._data: dict[bytes, bytes] = {}
        self._keys: list[bytes] = []

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)

    def write(self, changes: Iterable[tuple[bytes, bytes | None]]) -> None:
        data, keys = self._data, self._keys
        for key, value in changes:
            if value is None:
                if data.pop(key, None) is not None:
                    del keys[bisect_left(keys, key)]
            else:
                if key not in data:
                    insort(keys, key)
                # A copy: serializers' outputs may sit in much larger buffers (orjson: 4 KiB).
                data[key] = bytes(memoryview(value))

    def range(self, low: bytes | None, high: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        keys = self._keys
        start = 0 if low is None else bisect_left(keys, low)
        stop = len(keys) if high is None else bisect_right(keys, high)
        data = self._data
        for key in keys[start:stop]:
            yield key, data[key]

    def count(self) -> int:
        return len(self._data)

    def close(self) -> None:
        """Nothing to release."""

    def destroy(self) -> None:
        self._data.clear()
        self._keys.clear()


# Memory bounds, as Kafka Streams sets them (RocksDB's own defaults grow to 64 MiB of
# memtable per database, and every task has its own): small write buffers per store and
# one block cache shared by every store of the process.
WRITE_BUFFER_BYTES = 8 * 1024 * 1024
WRITE_BUFFERS = 2
_SHARED_BLOCK_CACHE = Cache(32 * 1024 * 1024)


def _options() -> Options:
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    options.set_write_buffer_size(WRITE_BUFFER_BYTES)
    options.set_max_write_buffer_number(WRITE_BUFFERS)
    table = BlockBasedOptions()
    table.set_block_cache(_SHARED_BLOCK_CACHE)
    table.set_cache_index_and_filter_blocks(True)
    options.set_block_based_table_factory(table)
    return options


class RocksDBBytesStore:
    """RocksDB through rocksdict in raw (bytes) mode; one database per store per task."""

    persistent = True

    def __init__(self, path: str) -> None:
        self.path = path
        self._options = _options()
        try:
            self._db = Rdict(path, self._options)
        except Exception as exc:
            raise StateStoreError(
                f"cannot open RocksDB store at {path}: {exc}; check that the state directory "
                "is writable and not used by another instance (each instance needs its own "
                "state_dir)"
            ) from exc

    def get(self, key: bytes) -> bytes | None:
        value: bytes | None = self._db.get(key)
        return value

    def write(self, changes: Iterable[tuple[bytes, bytes | None]]) -> None:
        batch = WriteBatch(raw_mode=True)
        for key, value in changes:
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        self._db.write(batch)

    def range(self, low: bytes | None, high: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        items = self._db.items(from_key=low) if low is not None else self._db.items()
        for key, value in cast(Iterator[tuple[bytes, bytes]], items):
            if high is not None and key > high:
                break
            yield key, value

    def count(self) -> int:
        estimate = self._db.property_int_value("rocksdb.estimate-num-keys")
        return int(estimate or 0)

    def close(self) -> None:
        self._db.close()

    def destroy(self) -> None:
        self._db.close()
        shutil.rmtree(self.path, ignore_errors=True)
