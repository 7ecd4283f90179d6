"""State stores: key-value stores on RocksDB or in memory, with caching and changelogs."""

from .backends import StateStoreError
from .builders import KeyValueStoreBuilder, Stores
from .kv import KeyValueStore, ReadOnlyKeyValueStore

__all__ = [
    "KeyValueStore",
    "KeyValueStoreBuilder",
    "ReadOnlyKeyValueStore",
    "StateStoreError",
    "Stores",
]
