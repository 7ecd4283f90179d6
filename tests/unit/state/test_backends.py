"""Byte-level backends: MemoryBytesStore and RocksDBBytesStore behave the same."""

from __future__ import annotations

import os

import pytest

from kstreamlite.state.backends import MemoryBytesStore, RocksDBBytesStore, StateStoreError


@pytest.fixture(params=["memory", "rocksdb"])
def backend(request, tmp_path):
    store = (
        MemoryBytesStore() if request.param == "memory" else RocksDBBytesStore(str(tmp_path / "db"))
    )
    yield store
    store.close()


def test_get_of_an_absent_key_is_none(backend):
    assert backend.get(b"missing") is None


def test_write_applies_puts_and_deletes_of_one_batch(backend):
    backend.write([(b"a", b"1"), (b"b", b"2"), (b"c", b"3")])
    backend.write([(b"b", None), (b"d", b"4"), (b"a", b"10")])
    assert backend.get(b"a") == b"10"
    assert backend.get(b"b") is None
    assert backend.get(b"c") == b"3"
    assert backend.get(b"d") == b"4"


def test_a_later_change_of_the_same_key_in_one_batch_wins(backend):
    backend.write([(b"k", b"1"), (b"k", None), (b"j", b"1"), (b"j", b"2")])
    assert backend.get(b"k") is None
    assert backend.get(b"j") == b"2"


def test_deleting_an_absent_key_is_a_no_op(backend):
    backend.write([(b"ghost", None)])
    assert backend.get(b"ghost") is None
    assert list(backend.range(None, None)) == []


def test_range_with_open_ends_yields_every_entry_in_byte_order(backend):
    keys = [b"b", b"\xff", b"a", b"\x00", b"ab", b"\x80", b"B", b"\x7f"]
    backend.write([(k, k + b"!") for k in keys])
    assert list(backend.range(None, None)) == [
        (b"\x00", b"\x00!"),
        (b"B", b"B!"),
        (b"a", b"a!"),
        (b"ab", b"ab!"),
        (b"b", b"b!"),
        (b"\x7f", b"\x7f!"),
        (b"\x80", b"\x80!"),
        (b"\xff", b"\xff!"),
    ]


def test_range_includes_both_bounds(backend):
    backend.write([(k, b"v") for k in (b"a", b"b", b"c", b"d", b"e")])
    assert [k for k, _ in backend.range(b"b", b"d")] == [b"b", b"c", b"d"]


def test_range_bounds_need_not_be_stored_keys(backend):
    backend.write([(k, b"v") for k in (b"a", b"c", b"e")])
    assert [k for k, _ in backend.range(b"b", b"d")] == [b"c"]
    # "c" < "c\x00" in byte order, so a prefix key is below its extension.
    assert [k for k, _ in backend.range(b"c\x00", b"z")] == [b"e"]


def test_range_with_only_a_lower_bound_runs_to_the_end(backend):
    backend.write([(k, b"v") for k in (b"a", b"b", b"c")])
    assert [k for k, _ in backend.range(b"b", None)] == [b"b", b"c"]


def test_range_with_only_an_upper_bound_starts_at_the_beginning(backend):
    backend.write([(k, b"v") for k in (b"a", b"b", b"c")])
    assert [k for k, _ in backend.range(None, b"b")] == [b"a", b"b"]


def test_range_with_lower_bound_above_upper_bound_is_empty(backend):
    backend.write([(k, b"v") for k in (b"a", b"b", b"c")])
    assert list(backend.range(b"c", b"a")) == []


def test_range_does_not_yield_deleted_keys(backend):
    backend.write([(b"a", b"1"), (b"b", b"2"), (b"c", b"3")])
    backend.write([(b"b", None)])
    assert list(backend.range(b"a", b"c")) == [(b"a", b"1"), (b"c", b"3")]


def test_count_follows_puts_and_deletes_of_existing_keys(backend):
    assert backend.count() == 0
    backend.write([(b"a", b"1"), (b"b", b"2"), (b"c", b"3")])
    assert backend.count() == 3
    backend.write([(b"b", None), (b"d", b"4")])
    assert backend.count() == 3
    backend.write([(b"a", None)])
    assert backend.count() == 2


def test_memory_destroy_removes_every_entry():
    store = MemoryBytesStore()
    store.write([(b"a", b"1"), (b"b", b"2")])
    store.destroy()
    assert store.count() == 0
    assert store.get(b"a") is None
    assert list(store.range(None, None)) == []


def test_rocksdb_keeps_its_data_across_close_and_reopen_at_the_same_path(tmp_path):
    path = str(tmp_path / "db")
    store = RocksDBBytesStore(path)
    store.write([(b"a", b"1"), (b"b", b"2"), (b"c", b"3")])
    store.write([(b"b", None)])
    store.close()

    reopened = RocksDBBytesStore(path)
    try:
        assert reopened.get(b"a") == b"1"
        assert reopened.get(b"b") is None
        assert list(reopened.range(None, None)) == [(b"a", b"1"), (b"c", b"3")]
    finally:
        reopened.close()


def test_rocksdb_count_after_reopen_counts_the_stored_keys(tmp_path):
    path = str(tmp_path / "db")
    store = RocksDBBytesStore(path)
    store.write([(b"k%03d" % i, b"v") for i in range(50)])
    store.close()
    reopened = RocksDBBytesStore(path)
    try:
        assert reopened.count() == 50
    finally:
        reopened.close()


def test_rocksdb_destroy_deletes_the_directory_and_a_reopen_starts_empty(tmp_path):
    path = str(tmp_path / "db")
    store = RocksDBBytesStore(path)
    store.write([(b"a", b"1")])
    store.destroy()
    assert not os.path.exists(path)

    fresh = RocksDBBytesStore(path)
    try:
        assert fresh.get(b"a") is None
        assert fresh.count() == 0
    finally:
        fresh.close()


def test_rocksdb_stores_at_different_paths_are_independent(tmp_path):
    one = RocksDBBytesStore(str(tmp_path / "one"))
    two = RocksDBBytesStore(str(tmp_path / "two"))
    try:
        one.write([(b"k", b"1")])
        two.write([(b"k", b"2")])
        assert one.get(b"k") == b"1"
        assert two.get(b"k") == b"2"
    finally:
        one.close()
        two.close()


def test_opening_an_open_rocksdb_path_again_raises_state_store_error_naming_path_and_fix(
    tmp_path,
):
    path = str(tmp_path / "db")
    first = RocksDBBytesStore(path)
    try:
        with pytest.raises(StateStoreError) as info:
            RocksDBBytesStore(path)
        message = str(info.value)
        assert f"cannot open RocksDB store at {path}" in message
        assert "each instance needs its own state_dir" in message
    finally:
        first.close()


def test_rocksdb_with_a_corrupt_current_file_raises_state_store_error(tmp_path):
    path = tmp_path / "db"
    RocksDBBytesStore(str(path)).close()
    (path / "CURRENT").write_bytes(b"garbage")
    with pytest.raises(StateStoreError, match="cannot open RocksDB store at"):
        RocksDBBytesStore(str(path))
