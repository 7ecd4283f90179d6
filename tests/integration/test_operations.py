"""Operations on a real broker: metrics after a known run, lifecycle logging, the CLI's
run/topics/describe/reset (a reset followed by a rerun reprocesses from the start), and
each uncaught-exception policy."""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
import pytest

from kstreamlite import (
    KafkaStreams,
    Materialized,
    State,
    StreamsBuilder,
    StreamThreadExceptionResponse,
)
from kstreamlite.cli import main as cli
from kstreamlite.processor import Processor, PunctuationType
from kstreamlite.runtime.uncaught import ApplicationShutdownRequested

from .kafka_helpers import (
    KafkaHelper,
    close_all,
    key_str,
    start_app,
    streams_config,
    wait_running,
    wait_until,
)

pytestmark = pytest.mark.integration


def _metric(app: KafkaStreams, name: str, **labels: str) -> float:
    return app._metrics.value(name, **labels)


class Ticking(Processor):
    """Forwards every record; a wall-clock punctuator ticks every 50 ms."""

    def init(self, context: Any) -> None:
        self.context = context
        context.schedule(50, PunctuationType.WALL_CLOCK_TIME, lambda ts: None)

    def process(self, record: Any) -> None:
        self.context.forward(record)


def test_metrics_and_lifecycle_logs_after_a_known_run(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path, caplog
) -> None:
    source, sink = f"ops-m-in-{unique}", f"ops-m-out-{unique}"
    kafka.create_topics([source, sink], partitions=2)
    kafka.produce(source, [(f"k{i % 20}", {"n": i}) for i in range(400)])
    builder = StreamsBuilder()
    (
        builder.stream(source)
        .process(Ticking)
        .group_by_key()
        .count(materialized=Materialized(name="m-counts", persistent=False))
        .to_stream()
        .to(sink)
    )
    app_id = f"ops-metrics-{unique}"
    caplog.set_level(logging.INFO, logger="kstreamlite")
    app = start_app(builder.build(), streams_config(app_id, bootstrap_servers, tmp_path))
    try:
        wait_running(app)
        wait_until(
            lambda: _metric(app, "kstreamlite_records_processed_total") >= 800,
            what="400 records processed by both sub-topologies",
        )
        time.sleep(1.5)  # one more metrics refresh: lag and gauges
        assert _metric(app, "kstreamlite_records_consumed_total", topic=source) == 400
        processed = "kstreamlite_records_processed_total"
        # process() may change keys, so the count reads a repartition topic: sub-topology
        # 0 processes the input, sub-topology 1 the repartitioned records.
        assert _metric(app, processed, task="0_0") + _metric(app, processed, task="0_1") == 400
        assert _metric(app, processed) == 800
        produced = "kstreamlite_records_produced_total"
        assert _metric(app, produced, topic=sink) >= 20
        by_task = [_metric(app, produced, task=t, topic=sink) for t in ("1_0", "1_1")]
        assert sum(by_task) == _metric(app, produced, topic=sink)  # the count's tasks
        assert _metric(app, "kstreamlite_process_latency_seconds_count") >= 1
        assert 0 < _metric(app, "kstreamlite_process_latency_seconds_sum") < 10
        assert _metric(app, "kstreamlite_commit_latency_seconds_count") >= 1
        assert _metric(app, "kstreamlite_consumer_lag_records", topic=source) == 0
        assert _metric(app, "kstreamlite_state_store_entries", store="m-counts") == 20
        ops = "kstreamlite_state_store_operations_total"
        assert _metric(app, ops, store="m-counts", operation="gets") == 400
        # 20 keys: each key's first read misses the cache, the other 380 hit it.
        assert _metric(app, ops, store="m-counts", operation="hits") == 380
        assert _metric(app, "kstreamlite_punctuations_total", type="wall_clock_time") >= 2
        assert _metric(app, "kstreamlite_rebalances_total") >= 1
        assert _metric(app, "kstreamlite_rebalance_duration_seconds_count") >= 1
        assert _metric(app, "kstreamlite_task_watermark_ms") > 0
        snapshot = app.metrics()
        assert any(k.startswith("kstreamlite_consumer_lag_records{") for k in snapshot)
        assert not any("_bucket" in k for k in snapshot)
    finally:
        close_all(app)
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("kstreamlite")]
    info = [r for r in caplog.records if r.name.startswith("kstreamlite") and r.levelno == 20]
    assert any("started" in m for m in messages)
    assert any(m.startswith("assigned 4 partitions") for m in messages)
    assert any("stopped" in m for m in messages)
    assert len(info) < 40, "INFO must log lifecycle events, not records"


def test_cli_topics_describe_and_reset_then_rerun_reprocesses(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path, monkeypatch, capsys
) -> None:
    source, sink = f"ops-r-in-{unique}", f"ops-r-out-{unique}"
    rerun_sink = f"ops-r-out2-{unique}"
    kafka.create_topics([source, sink, rerun_sink], partitions=2)
    monkeypatch.setenv("OPS_TEST_INPUT", source)
    monkeypatch.setenv("OPS_TEST_OUTPUT", sink)
    app_id = f"ops-reset-{unique}"
    flags = ["--application-id", app_id, "--bootstrap-servers", bootstrap_servers]
    flags += ["--state-dir", str(tmp_path)]
    factory = "tests.integration.ops_app:build"
    kafka.produce_each(source, [(f"k{i % 5}", orjson.dumps({"n": i}), None) for i in range(50)])

    assert cli(["describe", factory]) == 0
    assert "Source:" in capsys.readouterr().out

    assert cli(["run", factory, *flags, "--bounded", "--no-status"]) == 0
    capsys.readouterr()
    first = _final_counts(kafka, sink, 10)
    assert first == {f"k{i}": 10 for i in range(5)}

    assert cli(["topics", factory, *flags]) == 0
    listing = [line.split() for line in capsys.readouterr().out.splitlines()]
    changelog = f"{app_id}-ops-counts-changelog"
    assert listing == [
        ["ROLE", "TOPIC", "PARTITIONS"],
        ["source", source, "2"],
        ["sink", sink, "2"],
        ["changelog", changelog, "2"],
    ]

    assert cli(["reset", *flags, "--dry-run"]) == 0
    plan = capsys.readouterr().out
    assert changelog in plan
    assert f"{source}-0 -> offset 0" in plan and f"{source}-1 -> offset 0" in plan
    assert "dry run: nothing changed" in plan
    assert changelog in kafka.topics()  # a dry run changes nothing

    assert cli(["reset", *flags]) == 0
    done = capsys.readouterr().out
    assert f"deleted {changelog}" in done
    wait_until(lambda: changelog not in kafka.topics(), what="changelog deleted")
    assert not (tmp_path / app_id).exists()
    assert kafka.committed(app_id, source) == {0: 0, 1: 0}

    # A rerun, into a sink of its own, counts from zero again: without the reset it would
    # continue to 20 per key (state restored from the changelog) or write nothing (offsets
    # at the end).
    monkeypatch.setenv("OPS_TEST_OUTPUT", rerun_sink)
    assert cli(["run", factory, *flags, "--bounded", "--no-status"]) == 0
    assert _final_counts(kafka, rerun_sink, 10) == {f"k{i}": 10 for i in range(5)}


def test_cli_reset_to_datetime_skips_older_input(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path, monkeypatch, capsys
) -> None:
    source, sink = f"ops-t-in-{unique}", f"ops-t-out-{unique}"
    kafka.create_topics([source, sink], partitions=1)
    monkeypatch.setenv("OPS_TEST_INPUT", source)
    monkeypatch.setenv("OPS_TEST_OUTPUT", sink)
    app_id = f"ops-time-{unique}"
    flags = ["--application-id", app_id, "--bootstrap-servers", bootstrap_servers]
    flags += ["--state-dir", str(tmp_path)]
    old, new = 1_700_000_000_000, 1_700_000_600_000  # ten minutes apart
    kafka.produce_each(
        source,
        [("k", orjson.dumps({"n": i}), old + i if i < 6 else new + i) for i in range(10)],
    )
    factory = "tests.integration.ops_app:build"
    assert cli(["run", factory, *flags, "--bounded", "--no-status"]) == 0
    assert cli(["reset", *flags, "--to-datetime", "2023-11-14T22:20:00Z"]) == 0
    out = capsys.readouterr().out
    assert f"{source}-0 -> offset 6" in out, out
    assert kafka.committed(app_id, source) == {0: 6}


def _count(msg: Any) -> int:
    return int.from_bytes(msg.value(), "big", signed=True)  # counts are LONG-serialized


def _final_counts(kafka: KafkaHelper, sink: str, expected_max: int) -> dict[str, int]:
    finals: dict[str, int] = {}

    def done() -> bool:
        for msg in kafka.read(sink, 1, timeout=5, settle=0.5):
            finals[key_str(msg)] = max(finals.get(key_str(msg), 0), _count(msg))
        return bool(finals) and all(v == expected_max for v in finals.values())

    wait_until(done, timeout=30, what="final counts")
    return finals


# ---- uncaught-exception policies ----


class _Boom(Exception):
    pass


def _poisoned_topology(source: str, sink: str, fail_once: bool, armed: Any = lambda: True) -> Any:
    state = {"failed": False}

    def check(key: str, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("poison") and armed() and not (fail_once and state["failed"]):
            state["failed"] = True
            raise _Boom(f"poison record {key}")
        return value

    builder = StreamsBuilder()
    builder.stream(source).map_values(lambda v: v).map(lambda k, v: (k, check(k, v))).to(sink)
    return builder.build()


def _policy(response: StreamThreadExceptionResponse, seen: list[BaseException]) -> Any:
    def handler(exc: BaseException) -> StreamThreadExceptionResponse:
        seen.append(exc)
        return response

    return handler


def test_replace_thread_drops_the_failed_tasks_and_rejoins(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path
) -> None:
    source, sink = f"ops-x-in-{unique}", f"ops-x-out-{unique}"
    kafka.create_topics([source, sink], partitions=1)
    kafka.produce(source, [(f"k{i}", {"n": i, "poison": i == 5}) for i in range(10)])
    config = streams_config(f"ops-replace-{unique}", bootstrap_servers, tmp_path)
    app = KafkaStreams(_poisoned_topology(source, sink, fail_once=True), config)
    seen: list[BaseException] = []
    app.set_uncaught_exception_handler(_policy(StreamThreadExceptionResponse.REPLACE_THREAD, seen))
    states: list[State] = []
    app.set_state_listener(lambda new, old: states.append(new))
    app.start()
    try:
        records = kafka.read(sink, 10, settle=1.0)
        wait_running(app)
        assert sorted({key_str(m) for m in records}) == sorted(f"k{i}" for i in range(10))
        assert len(seen) == 1 and "poison record k5" in str(seen[0].__cause__ or seen[0])
        assert State.ERROR not in states and State.PENDING_ERROR not in states
        assert _metric(app, "kstreamlite_stream_thread_replacements_total") == 1
    finally:
        close_all(app)
    assert app.state is State.NOT_RUNNING


def test_shutdown_client_is_the_default_and_ends_in_error(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path
) -> None:
    source, sink = f"ops-c-in-{unique}", f"ops-c-out-{unique}"
    kafka.create_topics([source, sink], partitions=1)
    kafka.produce(source, [("k", {"poison": True})])
    app = start_app(
        _poisoned_topology(source, sink, fail_once=False),
        streams_config(f"ops-client-{unique}", bootstrap_servers, tmp_path),
    )
    try:
        assert app.wait_for_state(State.ERROR, timeout=30_000)
        assert "poison record k" in str(app.exception)
    finally:
        close_all(app)


def test_shutdown_application_stops_every_instance(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path
) -> None:
    source, sink = f"ops-a-in-{unique}", f"ops-a-out-{unique}"
    kafka.create_topics([source, sink], partitions=2)
    app_id = f"ops-app-{unique}"
    apps: list[KafkaStreams] = []
    seen: list[BaseException] = []
    # Only the instance that owns partition 0 when the poison arrives fails on it: the
    # other must stop because of the signal, even if it takes partition 0 over first.
    owner: dict[str, int | None] = {"index": None}
    try:
        for i in range(2):
            config = streams_config(app_id, bootstrap_servers, tmp_path / f"i{i}")
            topology = _poisoned_topology(
                source, sink, fail_once=False, armed=lambda i=i: owner["index"] == i
            )
            app = KafkaStreams(topology, config)
            app.set_uncaught_exception_handler(
                _policy(StreamThreadExceptionResponse.SHUTDOWN_APPLICATION, seen)
            )
            app.start()
            apps.append(app)
        for app in apps:
            wait_running(app, timeout=60)
        wait_until(
            lambda: all(len(a.task_snapshot()) == 1 for a in apps),
            timeout=60,
            what="one task on each instance",
        )
        owner["index"] = next(i for i, a in enumerate(apps) if a.task_snapshot()[0]["id"] == "0_0")
        kafka.produce(source, [("k", {"poison": True})], partition=0)
        for app in apps:
            assert app.wait_for_state(State.ERROR, timeout=30_000), app.state
        assert len(seen) == 1  # only the failing instance's handler is asked
        errors = [app.exception for app in apps]
        assert sum(isinstance(e, ApplicationShutdownRequested) for e in errors) == 1
        assert any("poison record k" in str(e) for e in errors)
    finally:
        close_all(*apps)
