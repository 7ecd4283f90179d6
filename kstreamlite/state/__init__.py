"""State stores: key-value stores on RocksDB or in memory, with caching and changelogs."""

from .backends import StateStoreError
from .builders import KeyValueStoreBuilder, SessionStoreBuilder, Stores, WindowStoreBuilder
from .kv import KeyValueStore, ReadOnlyKeyValueStore
from .windowed import SessionStore, WindowStore

__all__ = [
    "KeyValueStore",
    "KeyValueStoreBuilder",
    "ReadOnlyKeyValueStore",
    "SessionStore",
    "SessionStoreBuilder",
    "StateStoreError",
    "Stores",
    "WindowStore",
    "WindowStoreBuilder",
]
