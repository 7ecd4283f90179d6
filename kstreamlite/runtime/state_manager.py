"""StateManager: one task's stores, its state directory (locked), and its checkpoint file.

Layout: ``<state_dir>/<application_id>/<task_id>/<store>`` (RocksDB) plus ``.lock`` and
``.checkpoint`` (JSON: changelog ``topic:partition`` -> the offset local state reflects).
It never reads a changelog itself; restoring is the runtime's job.

Under exactly-once the checkpoint means "closed cleanly": it is read and deleted when the
task opens and written again only when it closes after a commit. A task that finds none
wipes its persistent stores, which may hold writes of a transaction that never committed,
and restores them from the (read_committed) changelog.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
from collections.abc import Callable
from typing import IO, Any

import orjson

from .. import serdes
from ..errors import KStreamliteError
from ..serdes import Serde
from ..state.backends import MemoryBytesStore, RocksDBBytesStore, StateStoreError
from ..state.builders import (
    KeyValueStoreBuilder,
    SessionStoreBuilder,
    SuppressBufferBuilder,
    WindowStoreBuilder,
)
from ..state.kv import CacheBudget, KeyValueStore
from ..state.suppress_buffer import SuppressBuffer
from ..state.windowed import (
    SessionStore,
    TimeIndexedBackend,
    WindowStore,
    session_key_serde,
    window_key_serde,
)

log = logging.getLogger("kstreamlite.state")

ChangelogSender = Callable[[str, int, bytes, "bytes | None", int], None]
CHECKPOINT = ".checkpoint"


class StateDirectoryLockedError(KStreamliteError):
    """Another instance (or task) holds this task's state directory."""


def make_state_manager(
    task: Any,
    builders: list[KeyValueStoreBuilder],
    *,
    state_dir: str,
    config: Any,
    budget: CacheBudget,
    collector: Any,
) -> StateManager:
    """The one way both runtimes build a task's state (so the driver tests the real thing)."""

    def send_changelog(topic: str, partition: int, kb: bytes, vb: bytes | None, ts: int) -> None:
        collector.send(topic, kb, vb, ts, None, partition)

    return StateManager(
        task.id,
        task.partition,
        builders,
        state_dir=state_dir,
        application_id=config.application_id,
        key_serde=config.default_key_serde,
        value_serde=config.default_value_serde,
        budget=budget,
        send_changelog=send_changelog,
        clock=lambda: max(task.stream_time, 0),
        exactly_once=config.processing_guarantee == "exactly_once_v2",
    )


class StateManager:
    def __init__(
        self,
        task_id: str,
        partition: int,
        builders: list[KeyValueStoreBuilder],
        *,
        state_dir: str,
        application_id: str,
        key_serde: Serde[Any],
        value_serde: Serde[Any],
        budget: CacheBudget,
        send_changelog: ChangelogSender,
        clock: Callable[[], int],
        exactly_once: bool = False,
    ) -> None:
        self.task_id = task_id
        self.partition = partition
        self.application_id = application_id
        self.directory = os.path.join(state_dir, application_id, task_id)
        self.stores: dict[str, Any] = {}  # KeyValueStore, WindowStore or SessionStore
        self.changelogs: dict[str, tuple[str, int]] = {}  # store -> (topic, partition)
        self.wiped: set[str] = set()  # stores whose local data was unusable and removed
        self._lock_file: IO[str] | None = None
        self._lock()
        self._saved = self._read_checkpoint()
        self._exactly_once = exactly_once
        if exactly_once:  # a crash from here on leaves none: wipe on the next open
            self._remove_checkpoint_file()
        try:
            for builder in builders:
                self.stores[builder.name] = self._build(
                    builder, key_serde, value_serde, budget, send_changelog, clock
                )
        except BaseException:
            self.close()
            raise

    # ---- construction ----

    def _lock(self) -> None:
        try:
            os.makedirs(self.directory, exist_ok=True)
            self._lock_file = open(os.path.join(self.directory, ".lock"), "a+")  # noqa: SIM115
        except OSError as exc:
            raise StateDirectoryLockedError(
                f"cannot create state directory {self.directory}: {exc}; point state_dir at a "
                "writable directory"
            ) from exc
        try:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_file.close()
            self._lock_file = None
            raise StateDirectoryLockedError(
                f"state directory {self.directory} is locked by another instance of "
                f"{self.application_id!r}; give each instance its own state_dir"
            ) from None

    def _build(
        self,
        builder: KeyValueStoreBuilder,
        key_serde: Serde[Any],
        value_serde: Serde[Any],
        budget: CacheBudget,
        send_changelog: ChangelogSender,
        clock: Callable[[], int],
    ) -> Any:
        changelog = None
        if builder.changelog_suffix is not None:
            topic = f"{self.application_id}-{builder.changelog_suffix}"
            self.changelogs[builder.name] = (topic, self.partition)
            partition = self.partition

            def changelog(kb: bytes, vb: bytes | None, ts: int) -> None:
                send_changelog(topic, partition, kb, vb, ts)

        backend: Any = (
            self._open_rocksdb(builder.name) if builder.persistent else MemoryBytesStore()
        )
        inner_key_serde = (builder.key_serde or key_serde).resolve(key_serde)
        store_value_serde = (builder.value_serde or value_serde).resolve(value_serde)
        if isinstance(builder, SuppressBufferBuilder):
            raw = KeyValueStore(
                builder.name, backend, serdes.BYTES, serdes.BYTES, changelog=changelog, clock=clock
            )
            return SuppressBuffer(raw, inner_key_serde, store_value_serde)
        if isinstance(builder, WindowStoreBuilder):
            backend = TimeIndexedBackend(backend, 8)
            inner_key_serde = window_key_serde(inner_key_serde)
        elif isinstance(builder, SessionStoreBuilder):
            backend = TimeIndexedBackend(backend, 16)
            inner_key_serde = session_key_serde(inner_key_serde)
        kv = KeyValueStore(
            builder.name,
            backend,
            inner_key_serde,
            store_value_serde,
            changelog=changelog,
            cache=budget if builder.caching else None,
            clock=clock,
        )
        if isinstance(builder, WindowStoreBuilder):
            return WindowStore(kv, backend, builder.retention_ms, builder.window_size_ms)
        if isinstance(builder, SessionStoreBuilder):
            return SessionStore(kv, backend, builder.retention_ms)
        return kv

    def _open_rocksdb(self, name: str) -> RocksDBBytesStore:
        path = os.path.join(self.directory, name)
        changelog = self.changelogs.get(name)
        closed_cleanly = changelog is not None and _checkpoint_key(*changelog) in self._saved
        if self._exactly_once and not closed_cleanly and os.path.exists(path):
            log.info(
                "task %s: store %s was not closed cleanly (no checkpoint); wiping its local "
                "state, which may hold uncommitted writes, and restoring it from the changelog",
                self.task_id,
                name,
            )
            self._wipe(name, path)
        try:
            return RocksDBBytesStore(path)
        except StateStoreError as exc:
            log.warning(
                "task %s: local state of store %s at %s is unreadable (%s); wiping it and "
                "restoring from the changelog",
                self.task_id,
                name,
                path,
                exc,
            )
            self._wipe(name, path)
            return RocksDBBytesStore(path)

    def _wipe(self, name: str, path: str) -> None:
        shutil.rmtree(path, ignore_errors=True)
        self.wiped.add(name)

    # ---- checkpoints ----

    def restore_offsets(self) -> dict[str, int]:
        """Store -> changelog offset to restore from (0 without a usable checkpoint)."""
        saved = self._saved
        offsets = {}
        for name, (topic, partition) in self.changelogs.items():
            usable = self.stores[name].persistent and name not in self.wiped
            offsets[name] = saved.get(_checkpoint_key(topic, partition), 0) if usable else 0
        return offsets

    def _read_checkpoint(self) -> dict[str, int]:
        path = os.path.join(self.directory, CHECKPOINT)
        try:
            with open(path, "rb") as f:
                data = orjson.loads(f.read())
            if not isinstance(data, dict):
                raise ValueError(f"expected a JSON object, found {type(data).__name__}")
            return {str(k): int(v) for k, v in data.items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, TypeError) as exc:
            log.warning("task %s: ignoring unreadable checkpoint %s: %s", self.task_id, path, exc)
            return {}

    def write_checkpoint(self, end_offset: Callable[[str, int], int]) -> None:
        """Record the changelog end offsets; call only after the producer flushed."""
        if not self.changelogs:
            return
        data = {
            _checkpoint_key(topic, partition): end_offset(topic, partition)
            for topic, partition in self.changelogs.values()
        }
        path = os.path.join(self.directory, CHECKPOINT)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(orjson.dumps(data))
        os.replace(tmp, path)
        self._saved = data

    def delete_checkpoint(self) -> None:
        self._saved = {}
        self._remove_checkpoint_file()

    def _remove_checkpoint_file(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(self.directory, CHECKPOINT))

    # ---- lifecycle ----

    def flush(self) -> None:
        for store in self.stores.values():
            store.flush()

    def close(self, dirty: bool = False) -> None:
        """Release the stores; ``dirty`` also deletes their local data (it may hold writes
        of an aborted transaction), so the next owner restores from the changelog."""
        if dirty:
            self.delete_checkpoint()
        for store in self.stores.values():
            try:
                store.destroy() if dirty else store.close()
            except Exception as exc:
                log.warning("closing store %s of task %s: %s", store.name, self.task_id, exc)
        if self._lock_file is not None:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None


def _checkpoint_key(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"
