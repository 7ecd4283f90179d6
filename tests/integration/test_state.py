"""State on a real broker: aggregations that survive restarts and failover, restore from
the changelog, interactive queries, locked task directories, Processor API stores with
punctuation. Checked where a user looks: output topics and ``app.store(name)``."""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from kstreamlite import KafkaStreams, Record, State, StreamsBuilder, serdes
from kstreamlite.errors import InvalidStateStoreError
from kstreamlite.processor import Processor, ProcessorContext, PunctuationType
from kstreamlite.runtime.state_manager import StateDirectoryLockedError, StateManager
from kstreamlite.state import Stores
from kstreamlite.state.kv import CacheBudget

from .kafka_helpers import (
    KafkaHelper,
    close_all,
    default_partition,
    failed,
    json_value,
    key_str,
    start_app,
    streams_config,
    wait_running,
    wait_until,
)

pytestmark = pytest.mark.integration

KEYS = [f"k{i:02d}" for i in range(20)]
REGIONS = ["east", "north", "south"]
COMMIT_MS = 250
SETTLE = 0.5  # seconds the latest outputs must stay as expected (catches late extras)


def _batch(start: int, stop: int) -> list[tuple[str, dict[str, Any]]]:
    return [
        (KEYS[i % len(KEYS)], {"amount": i % 7 + 1, "region": REGIONS[i % 11 % 3]})
        for i in range(start, stop)
    ]


def _sums(*batches: list[tuple[str, dict[str, Any]]]) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for batch in batches:
        for key, value in batch:
            totals[key] += value["amount"]
    return dict(totals)


def _region_counts(*batches: list[tuple[str, dict[str, Any]]]) -> dict[str, int]:
    return dict(Counter(value["region"] for batch in batches for _, value in batch))


def _add_amount(key: str, value: dict[str, Any], total: int) -> int:
    return total + value["amount"]


def _sums_topology(source: str, sink: str, counts_sink: str | None = None):
    """A per-key running sum in store "sums"; every update of the table goes to ``sink``.
    With ``counts_sink``, also records per region in store "counts" (LONG values), which
    goes through a repartition topic into a second sub-topology."""
    builder = StreamsBuilder()
    stream = builder.stream(source)
    (
        stream.group_by_key()
        .aggregate(lambda: 0, _add_amount, materialized="sums")
        .to_stream()
        .to(sink)
    )
    if counts_sink is not None:
        (
            stream.group_by(lambda key, value: value["region"])
            .count(materialized="counts")
            .to_stream()
            .to(counts_sink)
        )
    return builder.build()


def _config(app_id: str, bootstrap_servers: str, state_dir: Path, **overrides: Any) -> Any:
    return streams_config(
        app_id, bootstrap_servers, state_dir, commit_interval_ms=COMMIT_MS, **overrides
    )


def _store_contents(app: KafkaStreams, name: str) -> dict[str, Any]:
    return dict(app.store(name).all())


def _assert_totals(
    kafka: KafkaHelper, sink: str, expected: dict[str, int], *apps: Any, **read: Any
) -> None:
    """The latest output per key equals ``expected`` (and stays so for SETTLE seconds)."""
    latest = kafka.latest_by_key(
        sink, expected, timeout=30, settle=SETTLE, abort_if=lambda: failed(*apps), **read
    )
    assert latest == expected, _diff(latest, expected)


def _diff(got: dict[str, Any], expected: dict[str, Any]) -> str:
    keys = sorted(set(got) | set(expected))
    wrong = {k: (got.get(k), expected.get(k)) for k in keys if got.get(k) != expected.get(k)}
    return f"(got, expected) per differing key: {wrong}"


def _store_operations(app: KafkaStreams) -> Counter[tuple[str, str]]:
    """(store, operation) -> count, summed over tasks, from the app's metrics."""
    ops: Counter[tuple[str, str]] = Counter()
    for name, value in app.metrics().items():
        if name.startswith("kstreamlite_state_store_operations_total{"):
            labels = dict(part.split("=", 1) for part in name[name.index("{") + 1 : -1].split(","))
            ops[(labels["store"], labels["operation"])] += int(value)
    return ops


def _checkpoints(state_dir: Path, app_id: str) -> dict[str, dict[str, int]]:
    """Task id -> its checkpoint file (changelog ``topic:partition`` -> offset)."""
    result = {}
    for task_dir in sorted((state_dir / app_id).iterdir()):
        path = task_dir / ".checkpoint"
        if path.exists():
            result[task_dir.name] = orjson.loads(path.read_bytes())
    return result


def _restored_records(records: list[logging.LogRecord]) -> int | None:
    """Records restored according to the restore log's "restore done" lines (None: no restore)."""
    done = [r for r in records if r.name == "kstreamlite.restore" and "restore done" in r.msg]
    return sum(int(r.args[0]) for r in done) if done else None  # type: ignore[index]


# ---- restart and restore -----------------------------------------------------------------


def test_restart_on_same_state_dir_continues_exactly(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Path, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="kstreamlite.restore")
    partitions = 2
    source = kafka.create_topic(f"st-same-in-{unique}", partitions=partitions)
    sink = kafka.create_topic(f"st-same-out-{unique}", partitions=partitions)
    app_id = f"st-same-{unique}"
    state_dir = tmp_path / "state"
    batch1, batch2 = _batch(0, 300), _batch(300, 700)

    kafka.produce(source, batch1, partitioner="murmur2_random")
    app = start_app(_sums_topology(source, sink), _config(app_id, bootstrap_servers, state_dir))
    try:
        wait_running(app)
        _assert_totals(kafka, sink, _sums(batch1), app)
    finally:
        closed = app.close(30_000)
    assert closed and app.state is State.NOT_RUNNING

    # close() flushed the stores and wrote a checkpoint per task: the restart needs no replay.
    checkpoints = _checkpoints(state_dir, app_id)
    assert set(checkpoints) == {f"0_{p}" for p in range(partitions)}, checkpoints
    for task_id, offsets in checkpoints.items():
        changelog = f"{app_id}-sums-changelog:{task_id.split('_')[1]}"
        assert offsets.get(changelog, 0) > 0, (task_id, offsets)

    kafka.produce(source, batch2, partitioner="murmur2_random")
    caplog.clear()
    again = start_app(_sums_topology(source, sink), _config(app_id, bootstrap_servers, state_dir))
    try:
        wait_running(again)
        restored = _restored_records(caplog.records)
        _assert_totals(kafka, sink, _sums(batch1, batch2), again)
        assert _store_contents(again, "sums") == _sums(batch1, batch2)
    finally:
        closed = again.close(30_000)
    assert closed and again.state is State.NOT_RUNNING
    # Local state was current up to its checkpoint: nothing was read back from the changelog.
    assert restored is None, f"the restart restored {restored} changelog records"
    assert sum(kafka.committed(app_id, source).values()) == len(batch1) + len(batch2)


def test_restart_on_empty_state_dir_restores_from_changelog(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Path, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="kstreamlite.restore")
    partitions = 2
    source = kafka.create_topic(f"st-wipe-in-{unique}", partitions=partitions)
    sink = kafka.create_topic(f"st-wipe-out-{unique}", partitions=partitions)
    counts_sink = kafka.create_topic(f"st-wipe-counts-{unique}", partitions=partitions)
    app_id = f"st-wipe-{unique}"
    state_dir = tmp_path / "state"
    batch1, batch2 = _batch(0, 300), _batch(300, 700)
    topology = _sums_topology(source, sink, counts_sink)
    longs = {"decode": serdes.LONG.deserialize}

    kafka.produce(source, batch1, partitioner="murmur2_random")
    app = start_app(topology, _config(app_id, bootstrap_servers, state_dir))
    try:
        wait_running(app)
        _assert_totals(kafka, sink, _sums(batch1), app)
        _assert_totals(kafka, counts_sink, _region_counts(batch1), app, **longs)
    finally:
        closed = app.close(30_000)
    assert closed

    shutil.rmtree(state_dir)  # a new machine, a lost disk
    caplog.clear()
    again = start_app(topology, _config(app_id, bootstrap_servers, state_dir))
    try:
        wait_running(again)
        # RUNNING comes after restore: the stores already hold every batch-1 result.
        store = again.store("sums")
        assert {k: store.get(k) for k in KEYS} == _sums(batch1)
        counts = again.store("counts")
        assert {r: counts.get(r) for r in REGIONS} == _region_counts(batch1)
        assert _restored_records(caplog.records), "no restore logged"

        kafka.produce(source, batch2, partitioner="murmur2_random")
        _assert_totals(kafka, sink, _sums(batch1, batch2), again)
        _assert_totals(kafka, counts_sink, _region_counts(batch1, batch2), again, **longs)
        assert _store_contents(again, "sums") == _sums(batch1, batch2)
        assert _store_contents(again, "counts") == _region_counts(batch1, batch2)
        ops = _store_operations(again)
        assert ops[("sums", "restored")] > 0 and ops[("counts", "restored")] > 0, ops
        assert ops[("sums", "puts")] == len(batch2), ops  # one aggregate update per record
        assert ops[("sums", "gets")] >= len(batch2), ops
    finally:
        closed = again.close(30_000)
    assert closed and again.state is State.NOT_RUNNING
    assert os.path.isdir(state_dir / app_id)


# ---- failover ------------------------------------------------------------------------------


def test_failover_to_surviving_instance_keeps_totals(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Path
) -> None:
    partitions = 4
    source = kafka.create_topic(f"st-fail-in-{unique}", partitions=partitions)
    sink = kafka.create_topic(f"st-fail-out-{unique}", partitions=partitions)
    app_id = f"st-fail-{unique}"
    batch1, batch2 = _batch(0, 400), _batch(400, 1000)
    leaving = staying = None
    producer: threading.Thread | None = None
    try:
        topology = _sums_topology(source, sink)
        leaving = start_app(topology, _config(app_id, bootstrap_servers, tmp_path / "a"))
        staying = start_app(topology, _config(app_id, bootstrap_servers, tmp_path / "b"))
        abort = lambda: failed(leaving, staying)  # noqa: E731

        def split() -> bool:
            if leaving.state is not State.RUNNING or staying.state is not State.RUNNING:
                return False
            try:
                return bool(leaving._thread.tasks) and bool(staying._thread.tasks)
            except RuntimeError:
                return False

        wait_until(split, timeout=45, what="both instances RUNNING with tasks", abort_if=abort)
        kafka.produce(source, batch1, partitioner="murmur2_random")
        _assert_totals(kafka, sink, _sums(batch1), leaving, staying)

        # Each instance answers for its own keys; together they hold the whole table.
        mine, theirs = _store_contents(leaving, "sums"), _store_contents(staying, "sums")
        assert mine and theirs and not set(mine) & set(theirs), (mine, theirs)
        assert {**mine, **theirs} == _sums(batch1)

        # Input keeps flowing while one instance leaves.
        def produce_batch2() -> None:
            for i in range(0, len(batch2), 100):
                kafka.produce(source, batch2[i : i + 100], partitioner="murmur2_random")
                time.sleep(0.2)

        producer = threading.Thread(target=produce_batch2, daemon=True)
        producer.start()
        time.sleep(0.3)
        assert leaving.close(30_000) and leaving.state is State.NOT_RUNNING
        producer.join(30)
        assert not producer.is_alive()

        _assert_totals(kafka, sink, _sums(batch1, batch2), staying)
        assert staying.state is State.RUNNING
        assert set(staying._thread.tasks) == {f"0_{p}" for p in range(partitions)}
        # The survivor restored the leaver's part of the table and kept counting on it.
        assert _store_contents(staying, "sums") == _sums(batch1, batch2)
    finally:
        if producer is not None:
            producer.join(30)
        close_all(leaving, staying)
    assert sum(kafka.committed(app_id, source).values()) == len(batch1) + len(batch2)


# ---- interactive queries --------------------------------------------------------------------


def test_interactive_queries(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Path
) -> None:
    partitions = 2
    source = kafka.create_topic(f"st-iq-in-{unique}", partitions=partitions)
    sink = kafka.create_topic(f"st-iq-out-{unique}", partitions=partitions)
    app_id = f"st-iq-{unique}"
    batch = _batch(0, 300)
    expected = _sums(batch)
    kafka.produce(source, batch, partitioner="murmur2_random")

    # A small cache (about 200 entries) so that later, under load, it flushes and evicts often.
    config = _config(app_id, bootstrap_servers, tmp_path, cache_max_bytes=200 * 256)
    app = KafkaStreams(_sums_topology(source, sink), config)
    stop = threading.Event()
    producer: threading.Thread | None = None
    try:
        with pytest.raises(InvalidStateStoreError, match=r"'sums'.*CREATED.*RUNNING"):
            app.store("sums")
        with pytest.raises(InvalidStateStoreError, match=r"no state store named 'nope'.*sums"):
            app.store("nope")

        app.start()
        wait_running(app)
        _assert_totals(kafka, sink, expected, app)
        store = app.store("sums")
        with pytest.raises(InvalidStateStoreError, match="nope"):
            app.store("nope")

        # The instance holds every task, so one view answers for keys of all partitions.
        assert len(app._thread.tasks) == partitions
        assert {k: store.get(k) for k in KEYS} == expected
        assert store.get("no-such-key") is None
        everything = list(store.all())
        assert [kv.key for kv in everything] == sorted(expected)  # one sorted sequence
        assert dict(everything) == expected
        window = list(store.range("k05", "k12"))
        assert window == [(k, expected[k]) for k in sorted(expected) if "k05" <= k <= "k12"]
        assert list(store.range("zz", None)) == []
        # Approximate: at least the live keys, at most one entry per write.
        assert len(expected) <= store.approximate_num_entries() <= len(batch)

        # Queries while the app processes (a dashboard polling) must not disturb it.
        keys = [f"key-{i:04d}" for i in range(3000)]
        sent: list[tuple[str, dict[str, Any]]] = []

        def produce() -> None:
            while not stop.is_set():
                more = [(keys[(len(sent) + j) * 7 % len(keys)], {"amount": 1}) for j in range(1000)]
                kafka.produce(source, more, partitioner="murmur2_random")
                sent.extend(more)
                time.sleep(0.05)

        producer = threading.Thread(target=produce, daemon=True)
        producer.start()
        deadline = time.monotonic() + 2
        queries = 0
        while time.monotonic() < deadline and app.state is State.RUNNING:
            store = app.store("sums")
            for i in range(200):  # keys that exist, keys that do not
                store.get(keys[(queries + i) * 13 % len(keys)] if i % 2 else f"absent-{i}")
            queries += 200
            assert len(list(store.range("key-1000", "key-1099"))) <= 100
        stop.set()
        producer.join(30)
        assert app.state is State.RUNNING, failed(app)
        totals = _sums(batch, sent)
        _assert_totals(kafka, sink, totals, app)
        assert _store_contents(app, "sums") == totals
    finally:
        stop.set()
        if producer is not None:
            producer.join(30)
        close_all(app)
    with pytest.raises(InvalidStateStoreError, match="NOT_RUNNING"):
        app.store("sums")


# ---- locked task directory -------------------------------------------------------------------


def test_locked_state_directory_gives_clear_error(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Path
) -> None:
    source = kafka.create_topic(f"st-lock-in-{unique}")
    sink = kafka.create_topic(f"st-lock-out-{unique}")
    app_id = f"st-lock-{unique}"
    state_dir = tmp_path / "state"
    kafka.produce(source, _batch(0, 50))

    # Someone else (another instance pointed at the same state_dir) holds task 0_0.
    holder = StateManager(
        "0_0",
        0,
        [],
        state_dir=str(state_dir),
        application_id=app_id,
        key_serde=serdes.STRING,
        value_serde=serdes.JSON,
        budget=CacheBudget(1 << 20),
        send_changelog=lambda *args: None,
        clock=lambda: 0,
    )
    app = None
    try:
        app = start_app(_sums_topology(source, sink), _config(app_id, bootstrap_servers, state_dir))
        assert app.wait_for_state(State.ERROR, timeout=30_000), app.state
        error = app.exception
        assert isinstance(error, StateDirectoryLockedError), repr(error)
        assert str(state_dir / app_id / "0_0") in str(error)
        assert "locked" in str(error)
        assert kafka.latest_by_key(sink, timeout=1.0) == {}  # it never processed the task
    finally:
        close_all(app)
        holder.close()
    assert (state_dir / app_id / "0_0").is_dir()  # the holder's directory was left alone


# ---- Processor API -------------------------------------------------------------------------


class _Tally(Processor):
    """Keeps a per-key sum in store "tally"; every 500 ms of wall-clock time forwards the
    whole store as one summary record keyed by the task."""

    def init(self, context: ProcessorContext) -> None:
        self.context = context
        self.store = context.get_state_store("tally")
        context.schedule(500, PunctuationType.WALL_CLOCK_TIME, self.punctuate)

    def process(self, record: Record) -> None:
        self.store.put(record.key, (self.store.get(record.key) or 0) + record.value["amount"])

    def punctuate(self, timestamp: int) -> None:
        summary = dict(self.store.all())
        if summary:
            # A new Record with the default headers: the sink must accept it on a real broker.
            self.context.forward(Record(f"summary-{self.context.task_id}", summary, timestamp))


def test_processor_api_store_and_punctuation_on_broker(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Path
) -> None:
    partitions = 2
    source = kafka.create_topic(f"st-papi-in-{unique}", partitions=partitions)
    sink = kafka.create_topic(f"st-papi-out-{unique}", partitions=partitions)
    app_id = f"st-papi-{unique}"
    builder = StreamsBuilder()
    builder.add_state_store(Stores.key_value_store_builder("tally", value_serde=serdes.LONG))
    builder.stream(source).process(_Tally, stores=["tally"]).to(sink)
    batch1, batch2 = _batch(0, 200), _batch(200, 500)

    app = start_app(builder.build(), _config(app_id, bootstrap_servers, tmp_path))
    try:
        wait_running(app)
        for batches in ((batch1,), (batch1, batch2)):
            kafka.produce(source, batches[-1], partitioner="murmur2_random")
            # The latest summary of each task is its partitions' keys with their sums.
            _assert_totals(kafka, sink, _summaries(_sums(*batches), partitions), app)
            assert _store_contents(app, "tally") == _sums(*batches)

        idle_from = int(time.time() * 1000)
        time.sleep(1.5)  # no input now
        assert app.state is State.RUNNING
    finally:
        close_all(app)

    # Every summary is a snapshot of its task's store: per key, sums only ever grow; the
    # summaries of a task come every 500 ms of wall-clock time, input or not.
    stamps: dict[str, list[int]] = {}
    final: dict[str, int] = {}
    for msg in kafka.read(sink, 4 * partitions, timeout=10, settle=0.5):
        stamps.setdefault(key_str(msg), []).append(msg.timestamp()[1])
        for key, total in json_value(msg).items():
            assert total >= final.get(key, 0), (key, total, final.get(key))
            final[key] = total
    assert final == _sums(batch1, batch2)
    assert set(stamps) == {f"summary-0_{p}" for p in range(partitions)}, stamps.keys()
    for key, times in stamps.items():
        # On a 500 ms grid, as in Kafka Streams: a late firing shortens the next gap only.
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert gaps and min(gaps) >= 100, (key, gaps)
        assert 450 <= (times[-1] - times[0]) / len(gaps) <= 750, (key, gaps)
        assert sum(t > idle_from for t in times) >= 2, (key, idle_from, times)


def _summaries(sums: dict[str, int], partitions: int) -> dict[str, dict[str, int]]:
    """What _Tally's latest summaries say: task 0_p holds the keys of input partition p."""
    tables: dict[str, dict[str, int]] = {}
    for key, total in sums.items():
        task = f"summary-0_{default_partition(key.encode(), partitions)}"
        tables.setdefault(task, {})[key] = total
    return tables


def test_commits_do_not_stall_a_stateful_app(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Path
) -> None:
    # Checkpoints once asked the main consumer for changelog end offsets, and waited behind
    # its long-poll fetch (up to fetch.wait.max.ms) on every commit: punctuators fired late.
    partitions = 2
    source = kafka.create_topic(f"st-stall-in-{unique}", partitions=partitions)
    sink = kafka.create_topic(f"st-stall-out-{unique}", partitions=partitions)
    builder = StreamsBuilder()
    builder.add_state_store(Stores.key_value_store_builder("tally", value_serde=serdes.LONG))
    builder.stream(source).process(_Tally, stores=["tally"]).to(sink)
    kafka.produce(source, _batch(0, 20), partitioner="murmur2_random")
    app = start_app(builder.build(), _config(f"st-stall-{unique}", bootstrap_servers, tmp_path))
    try:
        wait_running(app)
        time.sleep(2)
    finally:
        started = time.monotonic()
        closed = app.close(30_000)
        close_seconds = time.monotonic() - started
    assert closed
    stamps: dict[str, list[int]] = {}
    for msg in kafka.read(sink, 2 * partitions, timeout=10, settle=0.5):
        stamps.setdefault(key_str(msg), []).append(msg.timestamp()[1])
    gaps = sorted(b - a for times in stamps.values() for a, b in itertools.pairwise(times))
    assert gaps and gaps[len(gaps) // 2] < 700, f"a 500 ms punctuator fired every {gaps} ms"
    # A stateless app closes in about 0.05 s.
    assert close_seconds < 0.5, f"close() of an idle app with 2 stores took {close_seconds:.2f} s"


# ---- tombstones ------------------------------------------------------------------------------


class _Deleting(Processor):
    """Puts ``value["amount"]`` under the key, or deletes the key when ``value["delete"]``."""

    def init(self, context: ProcessorContext) -> None:
        self.store = context.get_state_store("kv")

    def process(self, record: Record) -> None:
        if record.value.get("delete"):
            self.store.delete(record.key)
        else:
            self.store.put(record.key, record.value["amount"])


def test_deleted_keys_stay_deleted_after_restore(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Path
) -> None:
    if kafka.drops_null_values():
        pytest.skip(
            "this broker drops records with null values on fetch (probed), so changelog "
            "tombstones never reach the restore consumer; deletes cannot survive a restore "
            "from the changelog here (BROKER-NOTES.md 1)"
        )
    source = kafka.create_topic(f"st-del-in-{unique}")
    app_id = f"st-del-{unique}"
    state_dir = tmp_path / "state"
    builder = StreamsBuilder()
    builder.add_state_store(Stores.key_value_store_builder("kv"))
    builder.stream(source).process(_Deleting, stores=["kv"])
    topology = builder.build()
    puts = [(k, {"amount": 1}) for k in KEYS]
    deletes = [(k, {"delete": True}) for k in KEYS[:5]]
    expected = {k: 1 for k in KEYS[5:]}

    def committed(count: int) -> None:
        # A commit flushes the store cache first, so the changelog then holds these writes.
        wait_until(
            lambda: sum(kafka.committed(app_id, source).values()) == count,
            timeout=30,
            what=f"{count} input records committed",
            abort_if=lambda: failed(app),
        )

    app = start_app(topology, _config(app_id, bootstrap_servers, state_dir))
    try:
        wait_running(app)
        # Puts and deletes in separate commits, so the changelog holds the values and then
        # the tombstones (a cache would otherwise fold each put and delete into one write).
        kafka.produce(source, puts)
        committed(len(puts))
        kafka.produce(source, deletes)
        committed(len(puts) + len(deletes))
        assert _store_contents(app, "kv") == expected
    finally:
        close_all(app)

    shutil.rmtree(state_dir)
    again = start_app(topology, _config(app_id, bootstrap_servers, state_dir))
    try:
        wait_running(again)
        assert _store_contents(again, "kv") == expected
        assert all(again.store("kv").get(k) is None for k in KEYS[:5])
    finally:
        close_all(again)


def test_restore_longer_than_max_poll_interval_keeps_membership(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Path, monkeypatch
) -> None:
    """Restore runs between polls with the inputs paused: a restore slower than
    max.poll.interval.ms must neither cost the group membership nor expose partial state."""
    source = kafka.create_topic(f"st-slow-in-{unique}")
    sink = kafka.create_topic(f"st-slow-out-{unique}")
    app_id = f"st-slow-{unique}"
    batch1, batch2 = _batch(0, 300), _batch(300, 400)
    topology = _sums_topology(source, sink)
    settings = {"cache_max_bytes": 0}  # every update reaches the changelog: 300 to restore

    kafka.produce(source, batch1)
    app = start_app(topology, _config(app_id, bootstrap_servers, tmp_path / "a", **settings))
    try:
        wait_running(app)
        _assert_totals(kafka, sink, _sums(batch1), app)
    finally:
        assert app.close(30_000)

    from kstreamlite.runtime import restore
    from kstreamlite.state.kv import KeyValueStore

    real_restore = KeyValueStore.restore

    def slow_restore(self: KeyValueStore, records: Any) -> None:
        time.sleep(0.15)
        real_restore(self, records)

    monkeypatch.setattr(restore, "BATCH", 5)  # >= 60 batches: about 9 s, over the 6 s limit
    monkeypatch.setattr(KeyValueStore, "restore", slow_restore)
    transitions: list[tuple[State, State]] = []
    config = _config(
        app_id,
        bootstrap_servers,
        tmp_path / "b",
        **settings,
        consumer_config={
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000,
            "max.poll.interval.ms": 6000,
        },
    )
    again = KafkaStreams(topology, config)
    again.set_state_listener(lambda new, old: transitions.append((old, new)))
    started = time.monotonic()
    again.start()
    try:
        time.sleep(3)
        assert again.state is State.REBALANCING  # still restoring
        with pytest.raises(InvalidStateStoreError):
            again.store("sums")
        wait_running(again, timeout=60)
        assert time.monotonic() - started > 6, "restore was not slower than max.poll.interval.ms"
        assert dict(again.store("sums").all()) == _sums(batch1)
        kafka.produce(source, batch2)
        _assert_totals(kafka, sink, _sums(batch1, batch2), again)
        # One rebalance for the start, none because the consumer looked dead.
        assert transitions.count((State.RUNNING, State.REBALANCING)) == 0, transitions
    finally:
        assert again.close(30_000)
