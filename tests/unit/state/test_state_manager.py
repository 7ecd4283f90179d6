"""StateManager: a task's stores, its locked directory, checkpoints, wiping unreadable state."""

from __future__ import annotations

import logging
import os

import orjson
import pytest

from kstreamlite import serdes
from kstreamlite.runtime.state_manager import StateDirectoryLockedError, StateManager
from kstreamlite.state import Stores
from kstreamlite.state.backends import MemoryBytesStore, RocksDBBytesStore
from kstreamlite.state.kv import CacheBudget

APP = "app"


class FakeChangelog:
    def __init__(self) -> None:
        self.sent: list[tuple[str, int, bytes, bytes | None, int]] = []

    def __call__(self, topic: str, partition: int, kb: bytes, vb: bytes | None, ts: int) -> None:
        self.sent.append((topic, partition, kb, vb, ts))


def manager(
    tmp_path,
    *builders,
    task_id: str = "0_0",
    partition: int = 0,
    sender: FakeChangelog | None = None,
    clock=lambda: 0,
    budget: CacheBudget | None = None,
    exactly_once: bool = False,
) -> StateManager:
    return StateManager(
        task_id,
        partition,
        list(builders) or [Stores.key_value_store_builder("s")],
        state_dir=str(tmp_path),
        application_id=APP,
        key_serde=serdes.STRING,
        value_serde=serdes.JSON,
        budget=budget or CacheBudget(1024 * 1024),
        send_changelog=sender or FakeChangelog(),
        clock=clock,
        exactly_once=exactly_once,
    )


@pytest.fixture
def managers():
    """Close every manager a test opened, even when it fails."""
    opened: list[StateManager] = []
    yield opened
    for m in opened:
        m.close()


def checkpoint_path(tmp_path, task_id: str = "0_0"):
    return tmp_path / APP / task_id / ".checkpoint"


# ---- directory and lock ----


def test_the_task_directory_is_state_dir_application_id_task_id(tmp_path, managers):
    m = manager(tmp_path, task_id="1_3")
    managers.append(m)
    assert m.directory == os.path.join(str(tmp_path), APP, "1_3")
    assert os.path.isdir(m.directory)
    assert os.path.isdir(os.path.join(m.directory, "s"))  # the RocksDB store


def test_a_second_manager_on_the_same_task_directory_fails_naming_directory_and_fix(
    tmp_path, managers
):
    managers.append(manager(tmp_path))
    with pytest.raises(StateDirectoryLockedError) as info:
        manager(tmp_path)
    message = str(info.value)
    assert os.path.join(str(tmp_path), APP, "0_0") in message
    assert "locked by another instance of 'app'" in message
    assert "give each instance its own state_dir" in message


def test_close_releases_the_lock_so_another_manager_can_take_the_directory(tmp_path, managers):
    first = manager(tmp_path)
    first.close()
    second = manager(tmp_path)
    managers.append(second)
    assert second.stores["s"].get("a") is None


def test_a_failed_lock_attempt_leaves_the_holder_working(tmp_path, managers):
    holder = manager(tmp_path)
    managers.append(holder)
    with pytest.raises(StateDirectoryLockedError):
        manager(tmp_path)
    holder.stores["s"].put("a", 1)
    holder.flush()
    assert holder.stores["s"].get("a") == 1


def test_different_tasks_of_one_application_lock_different_directories(tmp_path, managers):
    managers.append(manager(tmp_path, task_id="0_0"))
    managers.append(manager(tmp_path, task_id="0_1"))
    assert managers[0].directory != managers[1].directory


def test_an_unwritable_state_dir_fails_with_a_message_saying_what_to_do(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StateDirectoryLockedError, match="point state_dir at a writable directory"):
        manager(blocker)


# ---- the stores it builds ----


def test_persistent_stores_use_rocksdb_and_in_memory_stores_a_dict(tmp_path, managers):
    m = manager(
        tmp_path,
        Stores.key_value_store_builder("disk"),
        Stores.key_value_store_builder("ram", persistent=False),
    )
    managers.append(m)
    assert isinstance(m.stores["disk"]._backend, RocksDBBytesStore)
    assert isinstance(m.stores["ram"]._backend, MemoryBytesStore)


def test_builder_flags_control_caching_and_logging(tmp_path, managers):
    m = manager(
        tmp_path,
        Stores.key_value_store_builder("default"),
        Stores.key_value_store_builder("plain", caching=False, logging=False),
    )
    managers.append(m)
    assert (m.stores["default"].caching, m.stores["default"].logging) == (True, True)
    assert (m.stores["plain"].caching, m.stores["plain"].logging) == (False, False)
    assert m.changelogs == {"default": ("app-default-changelog", 0)}


def test_changelog_records_go_to_application_store_changelog_on_the_task_partition(
    tmp_path, managers
):
    sender = FakeChangelog()
    m = manager(tmp_path, partition=3, sender=sender, clock=lambda: 77)
    managers.append(m)
    m.stores["s"].put("a", 1)
    m.stores["s"].put("b", {"x": 2}, timestamp=80)
    assert sender.sent == []  # cached until flush
    m.flush()
    assert sender.sent == [
        ("app-s-changelog", 3, b"a", b"1", 77),
        ("app-s-changelog", 3, b"b", b'{"x":2}', 80),
    ]


def test_builder_serdes_override_the_defaults(tmp_path, managers):
    sender = FakeChangelog()
    builder = Stores.key_value_store_builder(
        "typed", key_serde=serdes.INT, value_serde=serdes.LONG, caching=False
    )
    m = manager(tmp_path, builder, sender=sender)
    managers.append(m)
    m.stores["typed"].put(1, 2)
    assert sender.sent == [
        ("app-typed-changelog", 0, b"\x00\x00\x00\x01", b"\x00\x00\x00\x00\x00\x00\x00\x02", 0)
    ]


def test_flushed_data_of_a_persistent_store_survives_closing_and_reopening_the_manager(tmp_path):
    m = manager(tmp_path)
    m.stores["s"].put("a", {"v": 1})
    m.flush()
    m.close()
    m = manager(tmp_path)
    try:
        assert m.stores["s"].get("a") == {"v": 1}
    finally:
        m.close()


def test_an_in_memory_store_starts_empty_after_reopening(tmp_path):
    builder = Stores.key_value_store_builder("ram", persistent=False)
    m = manager(tmp_path, builder)
    m.stores["ram"].put("a", 1)
    m.flush()
    m.close()
    m = manager(tmp_path, builder)
    try:
        assert m.stores["ram"].get("a") is None
    finally:
        m.close()


# ---- checkpoints ----


def test_write_checkpoint_then_restore_offsets_round_trips_per_store(tmp_path):
    builders = [Stores.key_value_store_builder("a"), Stores.key_value_store_builder("b")]
    ends = {("app-a-changelog", 2): 12, ("app-b-changelog", 2): 34}
    m = manager(tmp_path, *builders, partition=2)
    m.write_checkpoint(lambda topic, partition: ends[(topic, partition)])
    m.close()
    assert orjson.loads(checkpoint_path(tmp_path).read_bytes()) == {
        "app-a-changelog:2": 12,
        "app-b-changelog:2": 34,
    }
    m = manager(tmp_path, *builders, partition=2)
    try:
        assert m.restore_offsets() == {"a": 12, "b": 34}
    finally:
        m.close()


def test_a_later_checkpoint_replaces_the_earlier_one(tmp_path, managers):
    m = manager(tmp_path)
    managers.append(m)
    m.write_checkpoint(lambda t, p: 5)
    m.write_checkpoint(lambda t, p: 9)
    assert m.restore_offsets() == {"s": 9}
    assert not os.path.exists(str(checkpoint_path(tmp_path)) + ".tmp")


def test_restore_offsets_is_zero_for_every_store_without_a_checkpoint_file(tmp_path, managers):
    m = manager(tmp_path, Stores.key_value_store_builder("a"), Stores.key_value_store_builder("b"))
    managers.append(m)
    assert m.restore_offsets() == {"a": 0, "b": 0}


def test_restore_offsets_is_zero_for_a_store_missing_from_the_checkpoint(tmp_path):
    m = manager(tmp_path, Stores.key_value_store_builder("old"))
    m.write_checkpoint(lambda t, p: 50)
    m.close()
    m = manager(
        tmp_path, Stores.key_value_store_builder("old"), Stores.key_value_store_builder("new")
    )
    try:
        assert m.restore_offsets() == {"old": 50, "new": 0}
    finally:
        m.close()


def test_restore_offsets_is_zero_for_in_memory_stores_even_with_a_checkpoint(tmp_path):
    builders = [
        Stores.key_value_store_builder("disk"),
        Stores.key_value_store_builder("ram", persistent=False),
    ]
    m = manager(tmp_path, *builders)
    m.write_checkpoint(lambda t, p: 20)
    m.close()
    assert orjson.loads(checkpoint_path(tmp_path).read_bytes())["app-ram-changelog:0"] == 20
    m = manager(tmp_path, *builders)
    try:
        assert m.restore_offsets() == {"disk": 20, "ram": 0}
    finally:
        m.close()


def test_stores_without_logging_have_no_restore_offset_and_no_checkpoint_entry(tmp_path, managers):
    m = manager(tmp_path, Stores.key_value_store_builder("quiet", logging=False))
    managers.append(m)
    m.write_checkpoint(lambda t, p: 1)
    assert m.restore_offsets() == {}
    assert not checkpoint_path(tmp_path).exists()


def test_delete_checkpoint_removes_the_file_and_restore_offsets_falls_back_to_zero(
    tmp_path, managers
):
    m = manager(tmp_path)
    managers.append(m)
    m.write_checkpoint(lambda t, p: 8)
    m.delete_checkpoint()
    assert not checkpoint_path(tmp_path).exists()
    assert m.restore_offsets() == {"s": 0}
    m.delete_checkpoint()  # deleting an absent checkpoint is fine


@pytest.mark.parametrize(
    "content",
    [b"\x00\x00\x00\x00", b"", b'{"app-s-changelog:0": 1', b'{"app-s-changelog:0": "many"}'],
    ids=["zero-filled", "empty", "truncated", "non-integer-offset"],
)
def test_an_unreadable_checkpoint_is_ignored_with_a_warning(tmp_path, managers, caplog, content):
    checkpoint_path(tmp_path).parent.mkdir(parents=True)
    checkpoint_path(tmp_path).write_bytes(content)  # read when the task opens
    with caplog.at_level(logging.WARNING, logger="kstreamlite.state"):
        m = manager(tmp_path)
    managers.append(m)
    with caplog.at_level(logging.WARNING, logger="kstreamlite.state"):
        assert m.restore_offsets() == {"s": 0}
    assert "ignoring unreadable checkpoint" in caplog.text
    assert str(checkpoint_path(tmp_path)) in caplog.text


@pytest.mark.parametrize("content", [b"null", b"[1, 2]"], ids=["null", "list"])
def test_a_checkpoint_that_is_json_but_not_an_object_is_ignored(tmp_path, managers, content):
    checkpoint_path(tmp_path).parent.mkdir(parents=True)
    checkpoint_path(tmp_path).write_bytes(content)  # read when the task opens
    m = manager(tmp_path)
    managers.append(m)
    assert m.restore_offsets() == {"s": 0}


# ---- unreadable local state ----


def corrupt_current_file(tmp_path, store: str) -> None:
    (tmp_path / APP / "0_0" / store / "CURRENT").write_bytes(b"garbage, not a manifest name")


def test_a_corrupt_rocksdb_store_is_wiped_with_a_warning_and_restores_from_zero(tmp_path, caplog):
    builders = [Stores.key_value_store_builder("broken"), Stores.key_value_store_builder("fine")]
    m = manager(tmp_path, *builders)
    for store in m.stores.values():
        store.put("a", 1)
    m.flush()
    m.write_checkpoint(lambda t, p: 42)
    m.close()
    corrupt_current_file(tmp_path, "broken")

    with caplog.at_level(logging.WARNING, logger="kstreamlite.state"):
        m = manager(tmp_path, *builders)
    try:
        assert m.wiped == {"broken"}
        assert m.restore_offsets() == {"broken": 0, "fine": 42}
        assert m.stores["broken"].get("a") is None
        assert m.stores["fine"].get("a") == 1
        m.stores["broken"].put("b", 2)  # the fresh store works
        assert m.stores["broken"].get("b") == 2
    finally:
        m.close()
    warning = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warning) == 1
    text = warning[0].getMessage()
    assert "store broken" in text
    assert "unreadable" in text
    assert "wiping it and restoring from the changelog" in text


def test_a_wiped_store_gives_zero_even_without_a_checkpoint_file(tmp_path):
    m = manager(tmp_path)
    m.close()
    corrupt_current_file(tmp_path, "s")
    m = manager(tmp_path)
    try:
        assert m.wiped == {"s"}
        assert m.restore_offsets() == {"s": 0}
    finally:
        m.close()


def test_flush_writes_every_store_of_the_task(tmp_path, managers):
    sender = FakeChangelog()
    m = manager(
        tmp_path,
        Stores.key_value_store_builder("a"),
        Stores.key_value_store_builder("b", persistent=False),
        sender=sender,
    )
    managers.append(m)
    m.stores["a"].put("k", 1)
    m.stores["b"].put("k", 2)
    m.flush()
    assert sorted(sender.sent) == [
        ("app-a-changelog", 0, b"k", b"1", 0),
        ("app-b-changelog", 0, b"k", b"2", 0),
    ]


# ---- exactly-once: a checkpoint means "closed cleanly" ----


def _write_and_close(tmp_path, checkpoint: bool, **kwargs) -> None:
    m = manager(tmp_path, **kwargs)
    m.stores["s"].put("a", {"v": 1})
    m.flush()
    if checkpoint:
        m.write_checkpoint(lambda t, p: 7)
    m.close()


def test_exactly_once_reads_and_deletes_the_checkpoint_when_the_task_opens(tmp_path, managers):
    _write_and_close(tmp_path, checkpoint=True)
    m = manager(tmp_path, exactly_once=True)
    managers.append(m)
    assert not checkpoint_path(tmp_path).exists()  # a crash from now on leaves none
    assert m.restore_offsets() == {"s": 7}
    assert m.stores["s"].get("a") == {"v": 1}  # local state kept: it was closed cleanly


def test_exactly_once_wipes_a_persistent_store_left_without_a_checkpoint(
    tmp_path, managers, caplog
):
    _write_and_close(tmp_path, checkpoint=False)
    with caplog.at_level(logging.INFO, logger="kstreamlite.state"):
        m = manager(tmp_path, exactly_once=True)
    managers.append(m)
    assert m.stores["s"].get("a") is None  # may have held uncommitted writes
    assert m.restore_offsets() == {"s": 0}
    assert "not closed cleanly" in caplog.text


def test_at_least_once_keeps_local_state_and_checkpoint_after_an_unclean_stop(tmp_path, managers):
    _write_and_close(tmp_path, checkpoint=False)
    m = manager(tmp_path)
    managers.append(m)
    assert m.stores["s"].get("a") == {"v": 1}
    assert m.restore_offsets() == {"s": 0}


def test_a_dirty_close_deletes_local_state_and_checkpoint(tmp_path):
    m = manager(tmp_path)
    m.stores["s"].put("a", {"v": 1})
    m.flush()
    m.write_checkpoint(lambda t, p: 7)
    m.close(dirty=True)
    assert not checkpoint_path(tmp_path).exists()
    m = manager(tmp_path)
    try:
        assert m.stores["s"].get("a") is None
        assert m.restore_offsets() == {"s": 0}
    finally:
        m.close()
