"""Window and session stores: retention cleanup, driver access, Processor API builders."""

from __future__ import annotations

import pytest

from kstreamlite import KeyValue, Materialized, Record, Window, Windowed
from kstreamlite.errors import TopologyError
from kstreamlite.processor import Processor
from kstreamlite.state import Stores
from kstreamlite.windows import SessionWindows, TimeWindows
from tests.unit.helpers import build, driver_for

from .support import pipe


def windowed_count(windows, materialized):
    def define(b):
        b.stream("in").group_by_key().windowed_by(windows).count(materialized=materialized)

    return define


# ---- retention ----


@pytest.mark.parametrize("persistent", [False, True], ids=["memory", "rocksdb"])
def test_windows_are_dropped_once_the_watermark_passes_their_retention(persistent):
    retention, step = 100, 25  # expiry runs in steps of a quarter of the retention
    spec = Materialized("counts", retention=retention, persistent=persistent, caching=False)
    with driver_for(windowed_count(TimeWindows.of(10), spec)) as driver:
        inp = driver.create_input_topic("in")
        store = driver.get_window_store("counts")
        for now in range(0, 410, 10):
            inp.pipe_input("k", 1, timestamp=now)
            starts = [kv.key.window.start for kv in store.all()]
            kept = [s for s in range(0, now + 1, 10) if s + retention > now]
            assert set(kept) <= set(starts), now  # within retention: never dropped
            assert all(s + retention + step > now for s in starts), (now, starts)
            if not persistent:
                assert store.approximate_num_entries() == len(starts)
        assert len(starts) < 15  # 41 windows written


def test_window_store_entry_count_shrinks_after_retention():
    spec = Materialized("counts", retention=40, persistent=False, caching=False)
    with driver_for(windowed_count(TimeWindows.of(10), spec)) as driver:
        pipe(driver, [(k, 1, t) for t in (0, 10, 20, 30) for k in "ab"])
        store = driver.get_window_store("counts")
        assert store.approximate_num_entries() == 8
        pipe(driver, [("a", 1, 200)])
        assert list(store.all()) == [KeyValue(Windowed("a", Window(200, 210)), 1)]
        assert store.approximate_num_entries() == 1
        assert list(store.fetch("b", 0, 100)) == []


def test_sessions_are_dropped_once_the_watermark_passes_their_retention():
    spec = Materialized("sessions", persistent=False, caching=False)
    with driver_for(windowed_count(SessionWindows.with_gap(10), spec)) as driver:
        pipe(driver, [("a", 1, 0), ("b", 1, 5), ("a", 1, 100), ("b", 1, 200)])
        store = driver.get_session_store("sessions")
        assert list(store.all()) == [KeyValue(Windowed("b", Window(200, 200)), 1)]
        assert store.approximate_num_entries() == 1


def test_retention_shorter_than_size_plus_grace_is_rejected():
    spec = Materialized("counts", retention=14)
    with pytest.raises(TopologyError, match="retention"):
        build(windowed_count(TimeWindows.of(10, grace=5), spec))


# ---- driver access ----


def test_driver_gives_the_window_store_of_a_windowed_aggregation():
    spec = Materialized("counts", caching=False)
    with driver_for(windowed_count(TimeWindows.of(10, grace=100), spec)) as driver:
        pipe(driver, [("a", 1, 3), ("a", 1, 14), ("b", 1, 15), ("a", 1, 27), ("a", 1, 8)])
        store = driver.get_window_store("counts")
        assert list(store.fetch("a", 0, 19)) == [(0, 2), (10, 1)]
        assert list(store.fetch("a", 0, 20)) == [(0, 2), (10, 1), (20, 1)]
        assert list(store.fetch("a", 5, 100)) == [(10, 1), (20, 1)]
        assert [(kv.key.key, kv.key.window.start, kv.value) for kv in store.fetch_all(10, 15)] == [
            ("a", 10, 1),
            ("b", 10, 1),
        ]
        assert store.get("b", 0) is None


def test_driver_rejects_a_store_of_the_wrong_kind_or_name():
    spec = Materialized("sessions")
    with driver_for(windowed_count(SessionWindows.with_gap(10), spec)) as driver:
        with pytest.raises(TopologyError, match="not a window store"):
            driver.get_window_store("sessions")
        with pytest.raises(TopologyError, match="no state store named 'nope'"):
            driver.get_session_store("nope")
        assert driver.get_session_store("sessions").name == "sessions"


# ---- Processor API ----


class TumblingSum(Processor):
    """Sums values per key in 10 ms windows of a window store; forwards the key's windows."""

    def init(self, context):
        self.context = context
        self.store = context.get_state_store("sums")

    def process(self, record):
        start = record.timestamp // 10 * 10
        self.store.put(record.key, (self.store.get(record.key, start) or 0) + record.value, start)
        windows = [[s, v] for s, v in self.store.fetch(record.key, 0, record.timestamp)]
        self.context.forward(record.with_value(windows))


class Sessionizer(Processor):
    """Merges a key's sessions within 5 ms of each record by hand; forwards the session."""

    def init(self, context):
        self.context = context
        self.store = context.get_state_store("visits")

    def process(self, record):
        ts = record.timestamp
        start, end, total = ts, ts, record.value
        for kv in list(self.store.find_sessions(record.key, ts - 5, ts + 5)):
            start, end = min(start, kv.key.window.start), max(end, kv.key.window.end)
            total += kv.value
            self.store.remove(kv.key)
        self.store.put(Windowed(record.key, Window(start, end)), total)
        self.context.forward(Record(record.key, [start, end, total], ts))


def test_processor_api_window_store():
    def define(b):
        b.add_state_store(Stores.window_store_builder("sums", retention=1_000, window_size=10))
        b.stream("in").process(TumblingSum, stores=["sums"]).to("out")

    with driver_for(define) as driver:
        pipe(driver, [("a", 1, 1), ("a", 2, 5), ("b", 7, 6), ("a", 4, 12)])
        out = driver.create_output_topic("out")
        assert out.read_key_values_to_list() == [
            ("a", [[0, 1]]),
            ("a", [[0, 3]]),
            ("b", [[0, 7]]),
            ("a", [[0, 3], [10, 4]]),
        ]
        store = driver.get_window_store("sums")
        assert list(store.all()) == [
            KeyValue(Windowed("a", Window(0, 10)), 3),
            KeyValue(Windowed("a", Window(10, 20)), 4),
            KeyValue(Windowed("b", Window(0, 10)), 7),
        ]


def test_processor_api_window_store_drops_windows_after_its_retention():
    def define(b):
        b.add_state_store(
            Stores.window_store_builder("sums", retention=20, window_size=10, persistent=False)
        )
        b.stream("in").process(TumblingSum, stores=["sums"]).to("out")

    with driver_for(define) as driver:
        pipe(driver, [("a", 1, 1), ("a", 1, 11), ("a", 1, 500)])
        assert list(driver.get_window_store("sums").all()) == [
            KeyValue(Windowed("a", Window(500, 510)), 1)
        ]


def test_processor_api_session_store():
    def define(b):
        b.add_state_store(Stores.session_store_builder("visits", retention=1_000))
        b.stream("in").process(Sessionizer, stores=["visits"]).to("out")

    with driver_for(define) as driver:
        pipe(driver, [("u", 1, 100), ("u", 2, 110), ("u", 4, 105), ("v", 8, 103)])
        out = driver.create_output_topic("out")
        assert out.read_key_values_to_list() == [
            ("u", [100, 100, 1]),
            ("u", [110, 110, 2]),
            ("u", [100, 110, 7]),  # 105 bridges [100, 100] and [110, 110]
            ("v", [103, 103, 8]),
        ]
        store = driver.get_session_store("visits")
        assert list(store.all()) == [
            KeyValue(Windowed("u", Window(100, 110)), 7),
            KeyValue(Windowed("v", Window(103, 103)), 8),
        ]
        assert [kv.key for kv in store.find_sessions("u", 105, 200)] == [
            Windowed("u", Window(100, 110))
        ]
        assert list(store.find_sessions("u", 111, 200)) == []
        assert list(store.find_sessions("u", 0, 99)) == []


def test_window_store_builder_requires_retention_at_least_the_window_size():
    with pytest.raises(TopologyError, match="at least the window size"):
        Stores.window_store_builder("w", retention=5, window_size=10)


def test_cached_expiry_discards_expired_pending_windows_and_keeps_open_ones_pending():
    """Expiry must not flush the cache (that would forward every open window's update)
    nor let an expired window's pending update come back at the next flush."""
    from kstreamlite import serdes
    from kstreamlite.state.backends import MemoryBytesStore
    from kstreamlite.state.kv import CacheBudget, KeyValueStore
    from kstreamlite.state.windowed import TimeIndexedBackend, WindowStore, window_key_serde

    backend = TimeIndexedBackend(MemoryBytesStore(), 8)
    logged: list[bytes] = []
    kv = KeyValueStore(
        "w",
        backend,
        window_key_serde(serdes.STRING),
        serdes.JSON,
        changelog=lambda kb, vb, ts: logged.append(kb),
        cache=CacheBudget(1 << 20),
    )
    store = WindowStore(kv, backend, retention_ms=20, window_size_ms=10)
    store.expire_on_put = False
    store.put("a", 1, 0)  # expires below
    store.put("a", 2, 100)  # stays open
    store.observe(100)  # cutoff 81: window 0 is past its retention
    assert logged == []  # nothing flushed by expiry
    store.flush()
    assert logged == [b"a" + (100 + (1 << 63)).to_bytes(8, "big")]
    assert list(store.all()) == [KeyValue(Windowed("a", Window(100, 110)), 2)]
