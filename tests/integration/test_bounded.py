"""Bounded runs on a real broker: ``app.run(bounded=True)`` processes what the source topics
hold now, through a repartition topic, closes every window, and returns a summary; a
second run finds nothing left, a run after more input takes only that (end marks an
earlier run repeated after its last read are ignored); ``flush_windows_at_end=False``
leaves windows to a later streaming run; empty and missing source topics; the CLI; two
instances in one group. Checked where a user looks: the output topic and the returned
summary.

Every input is produced with ``_produce``: on Tansu the high watermark is the last batch's
base offset + 1 (BROKER-NOTES.md 2), too low when the producer batched several records
into a partition's last batch, and a bounded run stops at the end offset it sees at
assignment (the records past it are left for the next run, not lost). So each partition
is filled, then gets one last record sent alone (its own batch, flushed), and its high
watermark is exact on every broker: the tests can then expect exact results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kstreamlite import BoundedRunSummary, KafkaStreams, State, StreamsBuilder
from kstreamlite.errors import MissingSourceTopicError

from . import windowed_sensors as ws
from .kafka_helpers import (
    FAST_GROUP,
    KafkaHelper,
    close_all,
    failed,
    headers_dict,
    start_app,
    streams_config,
    wait_running,
)
from .windowed_sensors import (
    BASE,
    DELAY,
    FAR,
    GRACE,
    PARTITIONS,
    Reading,
    WindowId,
    topology,
)

pytestmark = pytest.mark.integration

RUN_TIMEOUT = 40.0  # a bounded run that has not returned by then hangs
SETTLE = 1.5  # how long a read keeps going after the expected count, to catch extras


# ---- input, reference, output ------------------------------------------------------------


def _produce(kafka: KafkaHelper, topic: str, readings: list[Reading]) -> None:
    """Fill each partition, then send its last record alone (see the module docstring:
    Tansu's high watermark is exact only when a partition's last batch holds one record)."""
    for p in range(PARTITIONS):
        mine = [(k, v) for q, k, v in readings if q == p]
        kafka.produce(topic, mine[:-1], partition=p)
        kafka.produce(topic, mine[-1:], partition=p)


def _check_finals(
    finals: list[tuple[WindowId, dict[str, int]]], expected: dict[WindowId, dict[str, int]]
) -> None:
    """Each expected window exactly once, with the reference's result, and nothing else."""
    repeated = {w: n for w, n in Counter(w for w, _ in finals).items() if n > 1}
    assert not repeated, f"windows with more than one final result: {repeated}"
    got = dict(finals)
    assert got == expected, _diff(got, expected)


def _diff(got: dict[WindowId, Any], expected: dict[WindowId, Any]) -> str:
    keys = sorted(set(got) | set(expected))
    wrong = {k: (got.get(k), expected.get(k)) for k in keys if got.get(k) != expected.get(k)}
    return (
        f"{len(wrong)} of {len(expected)} windows differ, (got, expected): "
        f"{dict(list(wrong.items())[:10])}"
    )


def _read_sink(kafka: KafkaHelper, sink: str, expected: int) -> list[Any]:
    """Everything in ``sink``: the runs have returned, so their output is all written."""
    return kafka.read(sink, expected, timeout=15, settle=SETTLE)


def _repartition_topics(counts: dict[str, int]) -> dict[str, int]:
    return {topic: n for topic, n in counts.items() if topic.endswith("-repartition")}


# ---- running ------------------------------------------------------------------------------


def _run_bounded(app: KafkaStreams, timeout: float = RUN_TIMEOUT) -> BoundedRunSummary:
    """``app.run(bounded=True)`` in a thread, so a run that never returns fails the test
    (after closing the app) instead of hanging it; re-raises what run() raised."""
    thread = _RunThread(app)
    thread.start()
    return thread.result(timeout)


class _RunThread(threading.Thread):
    def __init__(self, app: KafkaStreams) -> None:
        super().__init__(daemon=True)
        self.app = app
        self.summary: BoundedRunSummary | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.summary = self.app.run(bounded=True)
        except BaseException as exc:
            self.error = exc

    def result(self, timeout: float) -> BoundedRunSummary:
        self.join(timeout)
        if self.is_alive():
            state = self.app.state.name
            self.app.close(10_000)
            raise AssertionError(
                f"run(bounded=True) did not return within {timeout:.0f} s ({state})"
            )
        if self.error is not None:
            raise self.error
        assert isinstance(self.summary, BoundedRunSummary), repr(self.summary)
        return self.summary


@dataclass
class FirstRun:
    source: str
    sink: str
    app_id: str
    state_dir: Path
    readings: list[Reading]
    expected: dict[WindowId, dict[str, int]]
    summary: BoundedRunSummary
    state: State
    msgs: list[Any]


@pytest.fixture(scope="module")
def first_run(
    kafka: KafkaHelper, bootstrap_servers: str, tmp_path_factory: pytest.TempPathFactory
) -> FirstRun:
    """One bounded run over a pre-filled topic (shared by the first-run and rerun tests)."""
    unique = os.urandom(4).hex()
    source = kafka.create_topic(f"bounded-in-{unique}", partitions=PARTITIONS)
    sink = kafka.create_topic(f"bounded-out-{unique}", partitions=PARTITIONS)
    app_id = f"bounded-{unique}"
    state_dir = tmp_path_factory.mktemp("bounded-state")
    readings = ws.readings(0, 1_200, seed=11)
    expected = ws.reference(readings)
    assert len(expected) > 80  # 12 s of data, 8 sensors: every sensor in every window
    _produce(kafka, source, readings)

    app = KafkaStreams(topology(source, sink), streams_config(app_id, bootstrap_servers, state_dir))
    try:
        summary = _run_bounded(app)
        state = app.state
    finally:
        close_all(app)
    msgs = _read_sink(kafka, sink, len(expected))
    return FirstRun(source, sink, app_id, state_dir, readings, expected, summary, state, msgs)


# ---- 1. every window closed, each final result once -----------------------------------------


def test_bounded_run_emits_every_window_once_including_the_last_ones(first_run: FirstRun) -> None:
    run = first_run
    assert run.state is State.NOT_RUNNING
    # The last windows: a streaming run would close them only once later records came
    # (each partition's watermark stays DELAY behind its newest reading); this run does.
    last_start = max(start for _, start, _ in run.expected)
    assert any(start == last_start for (_, start, _), _ in ws.finals(run.msgs))
    _check_finals(ws.finals(run.msgs), run.expected)

    summary = run.summary
    assert summary.read.get(run.source) == len(run.readings), str(summary)
    assert summary.written.get(run.sink) == len(run.expected), str(summary)
    repartition = _repartition_topics(summary.written)
    assert list(repartition.values()) == [len(run.readings)], str(summary)
    # The repartition topic counts as read too: every reading passes through it once.
    assert _repartition_topics(summary.read) == repartition, str(summary)
    assert summary.records_read == 2 * len(run.readings), str(summary)
    assert summary.elapsed_s > 0 and summary.records_per_second > 0
    text = str(summary)
    assert text.startswith("bounded run: ") and f"read    {run.source}: 1,200" in text, text


# ---- 2. a second run finds nothing left -------------------------------------------------------


def test_second_bounded_run_processes_nothing(
    first_run: FirstRun, kafka: KafkaHelper, bootstrap_servers: str
) -> None:
    run = first_run
    app = KafkaStreams(
        topology(run.source, run.sink),
        streams_config(run.app_id, bootstrap_servers, run.state_dir),
    )
    try:
        summary = _run_bounded(app)
        assert app.state is State.NOT_RUNNING
    finally:
        close_all(app)
    assert summary.read.get(run.source, 0) == 0, str(summary)
    assert summary.written.get(run.sink, 0) == 0, str(summary)
    msgs = _read_sink(kafka, run.sink, len(run.expected))
    assert len(msgs) == len(run.msgs), f"{len(msgs) - len(run.msgs)} new output records"


def test_bounded_run_after_more_input_emits_only_the_new_windows_once(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Path
) -> None:
    """Bounded runs as incremental batches: each run takes what arrived since the last."""
    source = kafka.create_topic(f"bounded-again-in-{unique}", partitions=PARTITIONS)
    sink = kafka.create_topic(f"bounded-again-out-{unique}", partitions=PARTITIONS)
    app_id = f"bounded-again-{unique}"
    readings = ws.readings(0, 1_200, seed=15)
    split = BASE + 6_000  # a window boundary: the two batches share no window
    before = [r for r in readings if r[2]["ts"] < split]
    after = [r for r in readings if r[2]["ts"] >= split]
    summaries = []
    for batch in (before, after):
        _produce(kafka, source, batch)
        config = streams_config(app_id, bootstrap_servers, tmp_path)
        app = KafkaStreams(topology(source, sink), config)
        try:
            summaries.append(_run_bounded(app))
        finally:
            close_all(app)
    assert [s.read.get(source) for s in summaries] == [len(before), len(after)], summaries
    expected = ws.reference(readings)
    _check_finals(ws.finals(_read_sink(kafka, sink, len(expected))), expected)


def test_bounded_run_after_more_input_drains_the_repartition_topic(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Path
) -> None:
    """A later bounded run must process every record its upstream tasks write to the
    repartition topic, whatever earlier runs left in it. A stateless downstream: a stateful
    one reads only after restoring its stores, which here outlasts the upstream tasks' work
    and hides the race."""
    source = kafka.create_topic(f"bounded-drain-in-{unique}", partitions=PARTITIONS)
    sink = kafka.create_topic(f"bounded-drain-out-{unique}", partitions=PARTITIONS)
    app_id = f"bounded-drain-{unique}"
    slow = {"up": 0.0, "down": 0.0}  # seconds per record before / after the repartition

    def build() -> Any:
        builder = StreamsBuilder()
        (
            builder.stream(source)
            .peek(lambda key, value: time.sleep(slow["up"]))
            .repartition(name="drain")
            .peek(lambda key, value: time.sleep(slow["down"]))
            .to(sink)
        )
        return builder.build()

    repartition = f"{app_id}-drain-repartition"
    sent = 0

    def bounded_run(records: int) -> BoundedRunSummary:
        nonlocal sent
        batch = [(i % PARTITIONS, f"k{sent + i}", {"i": sent + i}) for i in range(records)]
        _produce(kafka, source, batch)
        sent += records
        app = KafkaStreams(build(), streams_config(app_id, bootstrap_servers, tmp_path))
        try:
            return _run_bounded(app)
        finally:
            close_all(app)

    # A slow downstream makes the upstream tasks repeat their end marks while it catches
    # up; whether a whole set (every upstream task's, on every partition) lands after the
    # downstream tasks' last reads is timing, so run until one did.
    slow["down"] = 0.001
    upstream = {f"0_{p}" for p in range(PARTITIONS)}
    for _ in range(4):
        summary = bounded_run(1_000)
        assert summary.read.get(repartition) == summary.written.get(repartition) == 1_000
        ended = _ended_past_commit(kafka, app_id, repartition)
        if all(tasks == upstream for tasks in ended.values()):
            break
    else:
        pytest.skip(f"no whole set of end marks past the committed offsets in 4 runs: {ended}")
    assert len(_read_sink(kafka, sink, sent)) == sent

    # This run's upstream tasks take a while: the downstream reads the old marks first.
    slow["down"], slow["up"] = 0.0, 0.002
    summary = bounded_run(1_000)
    assert summary.written.get(repartition) == 1_000, str(summary)
    assert summary.read.get(repartition, 0) == 1_000, str(summary)
    assert len(_read_sink(kafka, sink, sent)) == sent


def _ended_past_commit(kafka: KafkaHelper, group: str, topic: str) -> dict[int, set[str]]:
    """Per partition of ``topic``, the upstream tasks with an end mark (a watermark control
    record saying ``/end``) past ``group``'s committed offset: what the next bounded run's
    downstream task reads first."""
    committed = kafka.committed(group, topic)
    ended: dict[int, set[str]] = {p: set() for p in committed}
    for msg in kafka.read(topic, 0, timeout=5, settle=1.0):
        mark = headers_dict(msg).get("kstreamlite.watermark", b"").decode()
        past = msg.offset() >= committed.get(msg.partition(), 0)
        if msg.key() is None and mark.endswith("/end") and past:
            ended[msg.partition()].add(mark.split("/")[0])
    return ended


# ---- 3. windows kept open for a streaming run ------------------------------------------------


def test_keep_windows_open_then_streaming_run_emits_the_rest_once(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Path
) -> None:
    source = kafka.create_topic(f"bounded-open-in-{unique}", partitions=PARTITIONS)
    sink = kafka.create_topic(f"bounded-open-out-{unique}", partitions=PARTITIONS)
    app_id = f"bounded-open-{unique}"
    readings = ws.readings(0, 1_300, seed=12)
    split = BASE + 6_500  # window [6000, 7000) gets readings from both parts
    before = [r for r in readings if r[2]["ts"] < split]
    after = [r for r in readings if r[2]["ts"] >= split]
    # The bounded run's final watermark: the lowest partition's newest reading minus DELAY
    # (the upstream tasks announce it with their end marks). Windows whose end + GRACE it
    # reached are closed; the others stay open, their state committed.
    watermark = min(max(v["ts"] for q, _, v in before if q == p) for p in range(PARTITIONS))
    watermark -= DELAY
    closed = {w: agg for w, agg in ws.reference(before).items() if w[2] + GRACE <= watermark}
    assert {w[1] - BASE for w in closed} == {0, 1_000, 2_000, 3_000, 4_000}  # far from the edge
    _produce(kafka, source, before)

    config = streams_config(app_id, bootstrap_servers, tmp_path, flush_windows_at_end=False)
    app = KafkaStreams(topology(source, sink), config)
    try:
        summary = _run_bounded(app)
        assert app.state is State.NOT_RUNNING
    finally:
        close_all(app)
    assert summary.read.get(source) == len(before), str(summary)
    first = _read_sink(kafka, sink, len(closed))
    _check_finals(ws.finals(first), closed)
    emitted_first = {(m.partition(), m.offset()) for m in first}

    # A streaming run goes on from the committed windows: the rest of the readings, then
    # one far-future reading per partition so every window of the real data closes.
    flush = [(p, f"flush-{p}", {"sensor": "flush", "ts": FAR, "v": 0}) for p in range(PARTITIONS)]
    expected = ws.reference(readings)
    streaming = start_app(
        topology(source, sink), streams_config(app_id, bootstrap_servers, tmp_path)
    )
    try:
        wait_running(streaming, timeout=45)
        _produce(kafka, source, after)
        _produce(kafka, source, flush)
        msgs = kafka.read(
            sink, len(expected), timeout=30, settle=2.0, abort_if=lambda: failed(streaming)
        )
    finally:
        close_all(streaming)
    # The streaming run emits exactly the windows the bounded run left open, the one
    # straddling both parts included, with the readings of both runs...
    later = [m for m in msgs if (m.partition(), m.offset()) not in emitted_first]
    _check_finals(ws.finals(later), {w: v for w, v in expected.items() if w not in closed})
    # ...so that across both runs each window has one final result, the reference's.
    _check_finals(ws.finals(msgs), expected)


# ---- 4. empty source -----------------------------------------------------------------------


def test_bounded_run_over_an_empty_topic_returns_having_read_nothing(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Path
) -> None:
    source = kafka.create_topic(f"bounded-empty-in-{unique}", partitions=PARTITIONS)
    sink = kafka.create_topic(f"bounded-empty-out-{unique}", partitions=PARTITIONS)
    config = streams_config(f"bounded-empty-{unique}", bootstrap_servers, tmp_path)
    app = KafkaStreams(topology(source, sink), config)
    try:
        summary = _run_bounded(app)
        assert app.state is State.NOT_RUNNING
    finally:
        close_all(app)
    assert summary.records_read == 0, str(summary)
    assert summary.written.get(sink, 0) == 0, str(summary)
    assert kafka.read(sink, 0, timeout=5, settle=SETTLE) == []


# ---- 5. missing source topic ----------------------------------------------------------------


def test_bounded_run_with_a_missing_source_topic_fails_as_a_streaming_run_does(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Path
) -> None:
    """As test_errors.py's test_missing_source_topic_gives_clear_error for run()."""
    present = kafka.create_topic(f"bounded-present-{unique}")
    sink = kafka.create_topic(f"bounded-missing-out-{unique}")
    missing = f"bounded-no-such-topic-{unique}"
    kafka.produce(present, [("k", {"id": 1})])

    def build() -> Any:
        builder = StreamsBuilder()
        builder.stream([present, missing]).to(sink)
        return builder.build()

    config = streams_config(f"bounded-missing-{unique}", bootstrap_servers, tmp_path)
    config = config.model_copy(update={"startup_timeout_ms": 5_000})
    errors: dict[str, BaseException] = {}
    for mode in ("streaming", "bounded"):
        app = KafkaStreams(build(), config)
        thread = threading.Thread(
            target=lambda app=app, mode=mode: errors.setdefault(mode, _raised(app, mode)),
            daemon=True,
        )
        try:
            thread.start()
            thread.join(30)
            assert not thread.is_alive(), f"{mode} run() did not fail within 30 s ({app.state})"
            assert app.state is State.ERROR, (mode, app.state)
        finally:
            close_all(app)

    bounded, streaming = errors["bounded"], errors["streaming"]
    assert isinstance(streaming, MissingSourceTopicError), repr(streaming)
    assert repr(missing) in str(streaming) and repr(present) not in str(streaming)
    assert type(bounded) is type(streaming), repr(bounded)
    assert str(bounded) == str(streaming)
    # Nothing was processed from the topic that does exist.
    assert kafka.read(sink, 0, timeout=5, settle=SETTLE) == []


def _raised(app: KafkaStreams, mode: str) -> BaseException:
    try:
        app.run(bounded=mode == "bounded")
    except BaseException as exc:
        return exc
    raise AssertionError(f"{mode} run() returned instead of failing")


# ---- 6. the command line ---------------------------------------------------------------------


def test_cli_bounded_run_prints_a_summary_and_exits_0(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Path
) -> None:
    source = kafka.create_topic(f"bounded-cli-in-{unique}", partitions=PARTITIONS)
    sink = kafka.create_topic(f"bounded-cli-out-{unique}", partitions=PARTITIONS)
    readings = ws.readings(0, 800, seed=13)
    expected = ws.reference(readings)
    _produce(kafka, source, readings)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps({"commit_interval_ms": 200, "consumer_config": FAST_GROUP}))

    result = _cli(
        source,
        sink,
        "--bounded",
        "--application-id",
        f"bounded-cli-{unique}",
        "--bootstrap-servers",
        bootstrap_servers,
        "--state-dir",
        str(tmp_path / "state"),
        "--config",
        str(config_file),
    )
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    # records_read counts the repartition topic's records too (800 + 800).
    status, summary = result.stdout.split("\n", 1)
    assert status.startswith("status page: http://127.0.0.1:"), result.stdout
    assert summary.startswith("bounded run: 1,600 records read in "), result.stdout
    assert f"read    {source}: 800" in result.stdout, result.stdout
    assert f"written {sink}: {len(expected)}" in result.stdout, result.stdout
    _check_finals(ws.finals(_read_sink(kafka, sink, len(expected))), expected)


def test_cli_bounded_run_with_a_missing_source_topic_exits_1_with_a_clear_error(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Path
) -> None:
    sink = kafka.create_topic(f"bounded-cli-missing-out-{unique}")
    missing = f"bounded-cli-no-such-topic-{unique}"
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps({"startup_timeout_ms": 5_000, "consumer_config": FAST_GROUP}))
    result = _cli(
        missing,
        sink,
        "--bounded",
        "--application-id",
        f"bounded-cli-missing-{unique}",
        "--bootstrap-servers",
        bootstrap_servers,
        "--state-dir",
        str(tmp_path / "state"),
        "--config",
        str(config_file),
    )
    assert result.returncode == 1, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "bounded run" not in result.stdout, result.stdout  # no summary
    errors = [
        line for line in result.stderr.splitlines() if line.startswith("kstreamlite: error: ")
    ]
    assert len(errors) == 1 and repr(missing) in errors[0], result.stderr
    assert "Traceback" not in result.stderr, result.stderr


def _cli(source: str, sink: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m kstreamlite run tests.integration.bounded_app:build ARGS`` from the project
    root, the topology's topics passed through the environment; fails after 60 s."""
    root = str(Path(__file__).resolve().parents[2])
    return subprocess.run(
        [sys.executable, "-m", "kstreamlite", "run", "tests.integration.bounded_app:build", *args],
        cwd=root,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
            "BOUNDED_APP_SOURCE": source,
            "BOUNDED_APP_SINK": sink,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


# ---- 7. two instances in one group -----------------------------------------------------------


def test_two_instances_bounded_run_together_emit_each_window_once(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Path
) -> None:
    source = kafka.create_topic(f"bounded-two-in-{unique}", partitions=PARTITIONS)
    sink = kafka.create_topic(f"bounded-two-out-{unique}", partitions=PARTITIONS)
    app_id = f"bounded-two-{unique}"
    readings = ws.readings(0, 2_000, seed=14)
    expected = ws.reference(readings)
    _produce(kafka, source, readings)

    apps = [
        KafkaStreams(
            topology(source, sink), streams_config(app_id, bootstrap_servers, tmp_path / name)
        )
        for name in ("a", "b")
    ]
    threads = [_RunThread(app) for app in apps]
    try:
        for thread in threads:
            thread.start()
        summaries = [thread.result(RUN_TIMEOUT) for thread in threads]
        assert [app.state for app in apps] == [State.NOT_RUNNING] * 2
    finally:
        close_all(*apps)
    _check_finals(ws.finals(_read_sink(kafka, sink, len(expected))), expected)
    # Rebalances commit before giving partitions up: no input is processed twice.
    reads = [s.read.get(source, 0) for s in summaries]
    assert all(reads), f"one instance read nothing, the group did not share the work: {reads}"
    assert sum(reads) == len(readings), summaries
