"""KeyValueStore: typed access, write-back cache, changelog, flush listener; read-only views."""

from __future__ import annotations

import pytest

from kstreamlite import KeyValue, serdes
from kstreamlite.state import KeyValueStore, ReadOnlyKeyValueStore
from kstreamlite.state.backends import MemoryBytesStore, RocksDBBytesStore
from kstreamlite.state.kv import ENTRY_BYTES_ESTIMATE, CacheBudget


class Recorder:
    """A store with its backend, changelog records and flush-listener calls at hand."""

    def __init__(
        self,
        *,
        caching: bool,
        budget: CacheBudget | None = None,
        backend=None,
        key_serde=serdes.STRING,
        value_serde=serdes.JSON,
        name: str = "s",
        clock=lambda: 0,
    ) -> None:
        self.backend = backend if backend is not None else MemoryBytesStore()
        self.changelog: list[tuple[bytes, bytes | None, int]] = []
        self.flushed: list[tuple] = []
        cache = (budget or CacheBudget(10 * 1024 * 1024)) if caching else None
        self.store = KeyValueStore(
            name,
            self.backend,
            key_serde,
            value_serde,
            changelog=lambda kb, vb, ts: self.changelog.append((kb, vb, ts)),
            cache=cache,
            clock=clock,
        )
        self.store.set_flush_listener(lambda *call: self.flushed.append(call))


@pytest.fixture(params=[False, True], ids=["uncached", "cached"])
def store(request):
    return Recorder(caching=request.param).store


# ---- the map operations, with and without a cache ----


def test_get_of_an_absent_key_is_none(store):
    assert store.get("nope") is None


def test_put_then_get_returns_the_deserialized_value(store):
    store.put("a", {"n": 1, "tags": ["x"]})
    assert store.get("a") == {"n": 1, "tags": ["x"]}


def test_a_second_put_overwrites_the_first(store):
    store.put("a", 1)
    store.put("a", 2)
    assert store.get("a") == 2


def test_put_if_absent_writes_only_when_absent_and_returns_the_previous_value(store):
    assert store.put_if_absent("a", 1) is None
    assert store.put_if_absent("a", 2) == 1
    assert store.get("a") == 1


def test_put_all_writes_every_pair(store):
    store.put_all([("a", 1), ("b", 2), ("c", 3)])
    assert [store.get(k) for k in ("a", "b", "c")] == [1, 2, 3]


def test_delete_removes_the_key_and_returns_the_old_value(store):
    store.put("a", 1)
    assert store.delete("a") == 1
    assert store.get("a") is None


def test_delete_of_an_absent_key_returns_none(store):
    assert store.delete("nope") is None


def test_put_of_none_deletes_the_key(store):
    store.put("a", 1)
    store.put("a", None)
    assert store.get("a") is None
    assert list(store.all()) == []


def test_all_iterates_in_serialized_key_order_not_python_order():
    # INT is big-endian two's complement: -1 is 0xffffffff and sorts after every positive.
    store = Recorder(caching=False, key_serde=serdes.INT).store
    store.put_all([(2, "two"), (-1, "minus one"), (0, "zero"), (-2, "minus two"), (1, "one")])
    assert [kv.key for kv in store.all()] == [0, 1, 2, -2, -1]


def test_all_orders_string_keys_by_their_utf8_bytes(store):
    store.put_all([("b", 1), ("é", 2), ("B", 3), ("a", 4), ("ab", 5)])
    assert list(store.all()) == [
        KeyValue("B", 3),
        KeyValue("a", 4),
        KeyValue("ab", 5),
        KeyValue("b", 1),
        KeyValue("é", 2),
    ]


def test_range_is_inclusive_at_both_ends(store):
    store.put_all([(k, i) for i, k in enumerate("abcde")])
    assert list(store.range("b", "d")) == [KeyValue("b", 1), KeyValue("c", 2), KeyValue("d", 3)]


def test_range_with_none_bounds_is_open_ended(store):
    store.put_all([(k, i) for i, k in enumerate("abcde")])
    assert [kv.key for kv in store.range(None, "b")] == ["a", "b"]
    assert [kv.key for kv in store.range("d", None)] == ["d", "e"]
    assert [kv.key for kv in store.range(None, None)] == ["a", "b", "c", "d", "e"]


def test_range_with_from_above_to_is_empty(store):
    store.put_all([("a", 1), ("b", 2)])
    assert list(store.range("b", "a")) == []


def test_approximate_num_entries_counts_live_keys_without_a_cache():
    store = Recorder(caching=False).store
    store.put_all([("a", 1), ("b", 2), ("c", 3)])
    store.put("a", 10)
    store.delete("b")
    assert store.approximate_num_entries() == 2


def test_approximate_num_entries_counts_new_keys_before_and_after_a_flush():
    store = Recorder(caching=True).store
    store.put_all([("a", 1), ("b", 2), ("c", 3)])
    assert store.approximate_num_entries() == 3
    store.flush()
    assert store.approximate_num_entries() == 3


def test_caching_and_logging_properties_reflect_the_construction():
    cached = Recorder(caching=True).store
    plain = KeyValueStore("p", MemoryBytesStore(), serdes.STRING, serdes.JSON)
    assert (cached.caching, cached.logging) == (True, True)
    assert (plain.caching, plain.logging) == (False, False)


def test_put_with_a_none_key_is_rejected_naming_the_store(store):
    with pytest.raises(ValueError, match=r"store 's': keys must not be None"):
        store.put(None, 1)
    assert list(store.all()) == []


@pytest.mark.parametrize("operation", ["get", "delete", "put_if_absent"])
def test_reads_and_deletes_with_a_none_key_are_rejected_with_a_clear_error(operation):
    store = Recorder(caching=True).store
    call = {
        "get": lambda: store.get(None),
        "delete": lambda: store.delete(None),
        "put_if_absent": lambda: store.put_if_absent(None, 1),
    }[operation]
    with pytest.raises(ValueError, match="keys must not be None"):
        call()


# ---- without a cache: write-through ----


def test_without_cache_every_put_goes_to_backend_and_changelog_at_once():
    rec = Recorder(caching=False)
    rec.store.put("a", 1, timestamp=10)
    assert rec.backend.get(b"a") == b"1"
    assert rec.changelog == [(b"a", b"1", 10)]
    rec.store.put("a", 2, timestamp=11)
    rec.store.put("a", 3, timestamp=12)
    assert rec.backend.get(b"a") == b"3"
    assert rec.changelog == [(b"a", b"1", 10), (b"a", b"2", 11), (b"a", b"3", 12)]


def test_without_cache_delete_writes_a_tombstone_to_the_changelog():
    rec = Recorder(caching=False)
    rec.store.put("a", 1, timestamp=1)
    rec.store.delete("a")
    assert rec.backend.get(b"a") is None
    assert rec.changelog[-1][:2] == (b"a", None)


def test_without_cache_the_flush_listener_is_never_called():
    rec = Recorder(caching=False)
    rec.store.put("a", 1)
    rec.store.flush()
    assert rec.flushed == []


def test_put_without_a_timestamp_stamps_the_changelog_with_the_clock():
    now = [1234]
    rec = Recorder(caching=False, clock=lambda: now[0])
    rec.store.put("a", 1)
    now[0] = 1300
    rec.store.put("b", 2)
    assert rec.changelog == [(b"a", b"1", 1234), (b"b", b"2", 1300)]


def test_the_store_serializes_with_its_own_serdes_into_the_backend():
    rec = Recorder(caching=False, key_serde=serdes.INT, value_serde=serdes.LONG)
    rec.store.put(7, 1)
    assert rec.backend.get(b"\x00\x00\x00\x07") == b"\x00\x00\x00\x00\x00\x00\x00\x01"
    assert rec.store.get(7) == 1


# ---- with a cache: write-back until flush ----


def test_cached_writes_reach_neither_backend_nor_changelog_before_flush():
    rec = Recorder(caching=True)
    rec.store.put("a", 1, timestamp=5)
    rec.store.put("b", 2, timestamp=6)
    assert rec.store.get("a") == 1
    assert rec.backend.get(b"a") is None
    assert rec.backend.count() == 0
    assert rec.changelog == []
    assert rec.flushed == []

    rec.store.flush()
    assert rec.backend.get(b"a") == b"1"
    assert rec.backend.get(b"b") == b"2"
    assert rec.changelog == [(b"a", b"1", 5), (b"b", b"2", 6)]


def test_repeated_puts_of_one_key_give_one_changelog_record_with_the_latest_value_per_flush():
    rec = Recorder(caching=True)
    for i in range(1, 6):
        rec.store.put("a", i, timestamp=100 + i)
    rec.store.flush()
    assert rec.changelog == [(b"a", b"5", 105)]

    rec.store.put("a", 6, timestamp=200)
    rec.store.put("a", 7, timestamp=201)
    rec.store.flush()
    assert rec.changelog == [(b"a", b"5", 105), (b"a", b"7", 201)]


def test_a_flush_with_nothing_dirty_writes_nothing():
    rec = Recorder(caching=True)
    rec.store.put("a", 1)
    rec.store.flush()
    rec.store.get("a")
    rec.store.get("absent")
    rec.store.flush()
    assert rec.changelog == [(b"a", b"1", 0)]
    assert len(rec.flushed) == 1


def test_flush_listener_gets_key_new_old_and_timestamp_with_old_as_of_the_previous_flush():
    rec = Recorder(caching=True)
    rec.store.put("a", 1, timestamp=10)
    rec.store.flush()
    rec.store.put("a", 2, timestamp=20)
    rec.store.put("a", 3, timestamp=30)
    rec.store.flush()
    rec.store.delete("a")
    rec.store.flush()
    assert rec.flushed[0] == ("a", 1, None, 10)
    assert rec.flushed[1] == ("a", 3, 1, 30)
    assert rec.flushed[2][:3] == ("a", None, 3)


def test_flush_listener_old_value_comes_from_the_backend_for_a_key_not_yet_cached():
    backend = MemoryBytesStore()
    backend.write([(b"a", b"41")])
    rec = Recorder(caching=True, backend=backend)
    rec.store.put("a", 42, timestamp=7)
    rec.store.flush()
    assert rec.flushed == [("a", 42, 41, 7)]


def test_a_cached_delete_reaches_backend_and_changelog_as_a_tombstone_at_flush():
    rec = Recorder(caching=True)
    rec.store.put("a", 1, timestamp=1)
    rec.store.flush()
    rec.store.delete("a")
    assert rec.backend.get(b"a") == b"1"
    rec.store.flush()
    assert rec.backend.get(b"a") is None
    assert rec.changelog[-1][:2] == (b"a", None)


def test_range_and_all_see_unflushed_puts_overwrites_and_deletes():
    rec = Recorder(caching=True)
    rec.store.put_all([("a", 1), ("b", 2), ("c", 3)])
    rec.store.flush()
    rec.store.put("d", 4)
    rec.store.delete("b")
    rec.store.put("a", 10)
    assert list(rec.store.all()) == [KeyValue("a", 10), KeyValue("c", 3), KeyValue("d", 4)]
    assert list(rec.store.range("b", "c")) == [KeyValue("c", 3)]
    assert list(rec.store.range("a", "a")) == [KeyValue("a", 10)]
    # the backend still holds the flushed state
    assert list(rec.backend.range(None, None)) == [(b"a", b"1"), (b"b", b"2"), (b"c", b"3")]


def test_flush_emits_keys_each_written_once_in_write_order():
    rec = Recorder(caching=True)
    rec.store.put("x", 1)
    rec.store.put("y", 1)
    rec.store.put("z", 1)
    rec.store.flush()
    assert [call[0] for call in rec.flushed] == ["x", "y", "z"]


def test_flush_emits_dirty_keys_in_the_order_of_their_latest_update():
    rec = Recorder(caching=True)
    rec.store.put("a", 1)
    rec.store.put("b", 1)
    rec.store.flush()
    rec.store.put("b", 2)
    rec.store.put("a", 2)
    rec.store.flush()
    assert [call[:2] for call in rec.flushed[2:]] == [("b", 2), ("a", 2)]


# ---- eviction ----


def tiny_budget(entries: int) -> CacheBudget:
    return CacheBudget(entries * ENTRY_BYTES_ESTIMATE)


def test_cache_budget_turns_bytes_into_an_entry_count():
    assert tiny_budget(3).max_entries == 3
    assert CacheBudget(ENTRY_BYTES_ESTIMATE - 1).max_entries == 0


def test_eviction_writes_a_dirty_entry_to_backend_changelog_and_listener_before_dropping_it():
    rec = Recorder(caching=True, budget=tiny_budget(2))
    rec.store.put("a", 1, timestamp=1)
    rec.store.put("b", 2, timestamp=2)
    assert rec.changelog == []
    rec.store.put("c", 3, timestamp=3)  # third entry: the oldest, "a", is evicted
    assert rec.backend.get(b"a") == b"1"
    assert rec.changelog == [(b"a", b"1", 1)]
    assert rec.flushed == [("a", 1, None, 1)]
    assert rec.backend.get(b"b") is None
    assert rec.backend.get(b"c") is None


def test_reads_after_eviction_return_the_latest_values():
    rec = Recorder(caching=True, budget=tiny_budget(2))
    for i, key in enumerate("abcdef"):
        rec.store.put(key, i)
    rec.store.put("a", 100)
    rec.store.delete("b")
    assert [rec.store.get(k) for k in "abcdef"] == [100, None, 2, 3, 4, 5]
    assert list(rec.store.all()) == [
        KeyValue("a", 100),
        KeyValue("c", 2),
        KeyValue("d", 3),
        KeyValue("e", 4),
        KeyValue("f", 5),
    ]


def test_after_eviction_and_flush_the_backend_and_changelog_hold_every_latest_value():
    rec = Recorder(caching=True, budget=tiny_budget(2))
    for i, key in enumerate("abcd"):
        rec.store.put(key, i, timestamp=i)
    rec.store.flush()
    assert list(rec.backend.range(None, None)) == [
        (b"a", b"0"),
        (b"b", b"1"),
        (b"c", b"2"),
        (b"d", b"3"),
    ]
    assert sorted(rec.changelog) == [
        (b"a", b"0", 0),
        (b"b", b"1", 1),
        (b"c", b"2", 2),
        (b"d", b"3", 3),
    ]
    assert sorted(call[0] for call in rec.flushed) == ["a", "b", "c", "d"]


def test_a_zero_entry_budget_makes_the_cache_write_through():
    rec = Recorder(caching=True, budget=CacheBudget(0))
    rec.store.put("a", 1, timestamp=1)
    assert rec.backend.get(b"a") == b"1"
    assert rec.changelog == [(b"a", b"1", 1)]
    rec.store.put("a", 2, timestamp=2)
    assert rec.changelog == [(b"a", b"1", 1), (b"a", b"2", 2)]
    assert rec.store.get("a") == 2


def test_stores_sharing_a_budget_count_their_entries_against_it():
    budget = tiny_budget(100)
    one = Recorder(caching=True, budget=budget, name="one").store
    two = Recorder(caching=True, budget=budget, name="two").store
    one.put_all([("a", 1), ("b", 2)])
    two.put_all([("a", 1), ("b", 2), ("c", 3)])
    assert budget.used == 5
    one.close()
    assert budget.used == 3


def test_destroy_gives_the_cached_entries_back_to_the_shared_budget():
    budget = tiny_budget(100)
    store = Recorder(caching=True, budget=budget).store
    store.put_all([("a", 1), ("b", 2)])
    store.destroy()
    assert budget.used == 0


# ---- restore and lifecycle ----


def test_restore_applies_changelog_records_to_the_backend_without_logging_them():
    rec = Recorder(caching=True)
    rec.store.restore([(b"a", b"1"), (b"b", b"2"), (b"a", None), (b"c", b"3"), (b"c", b"4")])
    assert rec.store.get("a") is None
    assert rec.store.get("b") == 2
    assert rec.store.get("c") == 4
    assert list(rec.store.all()) == [KeyValue("b", 2), KeyValue("c", 4)]
    assert rec.changelog == []
    assert rec.flushed == []


def test_a_rocksdb_backed_store_keeps_flushed_values_across_close_and_reopen(tmp_path):
    path = str(tmp_path / "db")
    first = Recorder(caching=True, backend=RocksDBBytesStore(path)).store
    first.put("a", {"v": 1})
    first.put("b", {"v": 2})
    first.flush()
    first.close()

    second = Recorder(caching=True, backend=RocksDBBytesStore(path)).store
    try:
        assert second.get("a") == {"v": 1}
        assert list(second.all()) == [KeyValue("a", {"v": 1}), KeyValue("b", {"v": 2})]
    finally:
        second.close()


def test_destroy_removes_the_local_data(tmp_path):
    path = tmp_path / "db"
    store = Recorder(caching=True, backend=RocksDBBytesStore(str(path))).store
    store.put("a", 1)
    store.flush()
    store.destroy()
    assert not path.exists()


# ---- read-only view over several task stores ----


def two_task_stores():
    one = Recorder(caching=True, name="s").store
    two = Recorder(caching=False, name="s").store
    one.put_all([("a", 1), ("c", 3), ("e", 5)])
    two.put_all([("b", 2), ("d", 4)])
    return one, two


def test_read_only_view_gets_a_key_from_whichever_task_store_holds_it():
    view = ReadOnlyKeyValueStore("s", list(two_task_stores()))
    assert [view.get(k) for k in ("a", "b", "e", "zz")] == [1, 2, 5, None]


def test_read_only_view_all_and_range_merge_the_stores_in_serialized_key_order():
    view = ReadOnlyKeyValueStore("s", list(two_task_stores()))
    assert [kv.key for kv in view.all()] == ["a", "b", "c", "d", "e"]
    assert list(view.range("b", "d")) == [KeyValue("b", 2), KeyValue("c", 3), KeyValue("d", 4)]


def test_read_only_view_sums_approximate_entry_counts():
    view = ReadOnlyKeyValueStore("s", list(two_task_stores()))
    assert view.approximate_num_entries() == 5


def test_read_only_view_over_no_stores_is_empty():
    view = ReadOnlyKeyValueStore("s", [])
    assert view.get("a") is None
    assert list(view.all()) == []
    assert view.approximate_num_entries() == 0


def test_read_only_view_has_no_write_methods():
    view = ReadOnlyKeyValueStore("s", [])
    assert not any(hasattr(view, m) for m in ("put", "delete", "put_all", "put_if_absent"))


# ---- metering ----


def test_meter_counts_cache_hits_as_gets_without_misses():
    rec = Recorder(caching=True)
    store = rec.store
    store.put("a", 1)  # miss: the backend is asked for the old value
    store.get("a")
    store.get("a")
    store.put("a", 2)
    store.flush()
    assert store.meter.drain() == {
        "gets": 2,
        "puts": 2,
        "hits": 3,
        "misses": 1,
        "writes": 1,
        "restored": 0,
    }
    assert not any(store.meter.drain().values())


def test_meter_without_cache_counts_every_read_and_write_and_restores():
    store = Recorder(caching=False).store
    store.put("a", 1)
    store.put("b", 2)
    assert store.get("a") == 1
    store.restore([(b"c", b"3"), (b"d", None)])
    assert store.meter.drain() == {
        "gets": 1,
        "puts": 2,
        "hits": 0,
        "misses": 1,
        "writes": 2,
        "restored": 2,
    }


# ---- update (read-modify-write) ----


@pytest.mark.parametrize("caching", [False, True], ids=["no-cache", "cache"])
def test_update_folds_a_value_into_the_current_one_and_returns_new_and_old(caching):
    rec = Recorder(caching=caching)
    add = lambda key, value, old: (old or 0) + value  # noqa: E731
    assert rec.store.update("k", 5, add, 10) == (5, None)
    assert rec.store.update("k", 2, add, 11) == (7, 5)
    assert rec.store.get("k") == 7
    rec.store.flush()
    assert rec.changelog[-1] == (b"k", b"7", 11)
    assert rec.store.meter.puts == 2


@pytest.mark.parametrize("caching", [False, True], ids=["no-cache", "cache"])
def test_update_changes_nothing_when_the_combine_function_raises(caching):
    rec = Recorder(caching=caching)
    rec.store.put("k", 1, 0)

    def boom(key, value, old):
        raise ValueError("bad record")

    with pytest.raises(ValueError, match="bad record"):
        rec.store.update("k", 5, boom, 1)
    assert rec.store.get("k") == 1


def test_update_rejects_a_none_key():
    with pytest.raises(ValueError, match="must not be None"):
        Recorder(caching=True).store.update(None, 1, lambda k, v, o: v)


def test_discard_dirty_forgets_pending_entries_without_writing_them():
    rec = Recorder(caching=True)
    rec.store.put("gone", 1, 0)
    rec.store.put("kept", 2, 0)
    rec.store.discard_dirty(lambda kb: kb == b"gone")
    rec.store.flush()
    assert [kb for kb, _, _ in rec.changelog] == [b"kept"]
    assert rec.store.get("gone") is None
    assert list(rec.store.all()) == [KeyValue("kept", 2)]
