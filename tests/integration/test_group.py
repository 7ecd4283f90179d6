"""Consumer-group behaviour: several instances share the work, a restart resumes where the
last commit left off."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from kstreamlite import KafkaStreams, State, StreamsBuilder

from .kafka_helpers import (
    KafkaHelper,
    close_all,
    failed,
    json_value,
    key_str,
    streams_config,
    wait_until,
)

pytestmark = pytest.mark.integration

SETTLE = 1.0
CONSUMED = re.compile(r"kstreamlite_records_consumed_total\{(.*)\}")


def _doubling_topology(source: str, sink: str):
    builder = StreamsBuilder()
    builder.stream(source).map_values(lambda v: {"id": v["id"], "twice": v["id"] * 2}).to(sink)
    return builder.build()


def _two_instances(
    app_id: str, source: str, sink: str, bootstrap_servers: str, tmp_path
) -> tuple[KafkaStreams, KafkaStreams]:
    """Two started members of one application, each with its own state directory."""
    apps = tuple(
        KafkaStreams(
            _doubling_topology(source, sink),
            streams_config(app_id, bootstrap_servers, tmp_path / name),
        )
        for name in ("a", "b")
    )
    for app in apps:
        app.start()
    return apps[0], apps[1]


def _task_ids(app: KafkaStreams) -> set[str]:
    # The stream thread mutates this dict; copying it may race with a rebalance.
    for _ in range(10):
        try:
            return set(app._thread.tasks)
        except RuntimeError:
            continue
    return set(app._thread.tasks)


def _consumed_per_task(app: KafkaStreams, topic: str) -> dict[str, float]:
    result: dict[str, float] = {}
    for name, value in app.metrics().items():
        match = CONSUMED.fullmatch(name)
        if not match:
            continue
        labels = dict(part.split("=", 1) for part in match.group(1).split(","))
        if labels.get("topic") == topic and value:
            result[labels["task"]] = result.get(labels["task"], 0) + value
    return result


def test_two_instances_split_partitions(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path
) -> None:
    source = kafka.create_topic(f"split-in-{unique}", partitions=4)
    sink = kafka.create_topic(f"split-out-{unique}", partitions=4)
    app_id = f"split-{unique}"
    all_tasks = {f"0_{p}" for p in range(4)}
    first = second = None
    try:
        first, second = _two_instances(app_id, source, sink, bootstrap_servers, tmp_path)

        def split_settled() -> bool:
            if first.state is not State.RUNNING or second.state is not State.RUNNING:
                return False
            a, b = _task_ids(first), _task_ids(second)
            return bool(a) and bool(b) and not a & b and a | b == all_tasks

        wait_until(
            split_settled,
            timeout=45,
            what="both instances RUNNING with disjoint tasks",
            abort_if=lambda: failed(first, second),
        )

        n = 800
        records = [(f"key-{i % 53}", {"id": i}) for i in range(n)]
        kafka.produce(source, records, partitioner="murmur2_random")
        out = kafka.read(sink, n, timeout=30, settle=SETTLE, abort_if=lambda: failed(first, second))

        expected = Counter((k, v["id"], v["id"] * 2) for k, v in records)
        got = Counter((key_str(m), json_value(m)["id"], json_value(m)["twice"]) for m in out)
        assert got == expected  # nothing missing, nothing twice

        def both_counted() -> tuple[dict[str, float], dict[str, float]] | None:
            a, b = _consumed_per_task(first, source), _consumed_per_task(second, source)
            return (a, b) if sum(a.values()) + sum(b.values()) == n else None

        counted_a, counted_b = wait_until(both_counted, timeout=10, what="consumed metrics")
        assert counted_a and counted_b, (counted_a, counted_b)
        assert not set(counted_a) & set(counted_b), (counted_a, counted_b)
        assert set(counted_a) | set(counted_b) <= all_tasks
        assert first.state is State.RUNNING and second.state is State.RUNNING
    finally:
        close_all(first, second)


def test_restart_resumes_from_committed_offsets(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path
) -> None:
    source = kafka.create_topic(f"restart-in-{unique}", partitions=2)
    sink = kafka.create_topic(f"restart-out-{unique}", partitions=2)
    app_id = f"restart-{unique}"
    batch1 = [(f"k{i % 11}", {"id": i}) for i in range(300)]
    batch2 = [(f"k{i % 11}", {"id": i}) for i in range(300, 600)]

    kafka.produce(source, batch1)
    app = KafkaStreams(
        _doubling_topology(source, sink), streams_config(app_id, bootstrap_servers, tmp_path)
    )
    try:
        app.start()
        assert app.wait_for_state(State.RUNNING, timeout=30_000), app.state
        first_out = kafka.read(sink, len(batch1), timeout=30, abort_if=lambda: failed(app))
        assert len(first_out) == len(batch1)
    finally:
        closed = app.close(30_000)
    assert closed and app.state is State.NOT_RUNNING
    committed = kafka.committed(app_id, source)
    assert sum(committed.values()) == len(batch1), committed  # close() committed everything

    kafka.produce(source, batch2)
    again = KafkaStreams(
        _doubling_topology(source, sink), streams_config(app_id, bootstrap_servers, tmp_path)
    )
    try:
        again.start()
        assert again.wait_for_state(State.RUNNING, timeout=30_000), again.state
        out = kafka.read(
            sink,
            len(batch1) + len(batch2),
            timeout=30,
            settle=SETTLE,
            abort_if=lambda: failed(again),
        )
    finally:
        close_all(again)

    expected = Counter((k, v["id"], v["id"] * 2) for k, v in batch1 + batch2)
    got = Counter((key_str(m), json_value(m)["id"], json_value(m)["twice"]) for m in out)
    assert got == expected  # batch 1 once (not reprocessed), batch 2 complete


def test_survivor_takes_over_when_an_instance_closes(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path
) -> None:
    source = kafka.create_topic(f"failover-in-{unique}", partitions=4)
    sink = kafka.create_topic(f"failover-out-{unique}", partitions=4)
    app_id = f"failover-{unique}"
    leaving = staying = None
    try:
        leaving, staying = _two_instances(app_id, source, sink, bootstrap_servers, tmp_path)
        abort = lambda: failed(leaving, staying)  # noqa: E731
        wait_until(
            lambda: all(a.state is State.RUNNING and _task_ids(a) for a in (leaving, staying)),
            timeout=45,
            what="both instances RUNNING with tasks",
            abort_if=abort,
        )
        batch1 = [(f"key-{i % 29}", {"id": i}) for i in range(400)]
        kafka.produce(source, batch1, partitioner="murmur2_random")
        kafka.read(sink, len(batch1), timeout=30, abort_if=abort)

        assert leaving.close(30_000) and leaving.state is State.NOT_RUNNING
        batch2 = [(f"key-{i % 29}", {"id": i}) for i in range(400, 800)]
        kafka.produce(source, batch2, partitioner="murmur2_random")
        out = kafka.read(sink, 800, timeout=30, settle=SETTLE, abort_if=lambda: failed(staying))
        assert staying.state is State.RUNNING
        assert _task_ids(staying) == {f"0_{p}" for p in range(4)}
    finally:
        close_all(leaving, staying)

    expected = Counter((k, v["id"], v["id"] * 2) for k, v in batch1 + batch2)
    got = Counter((key_str(m), json_value(m)["id"], json_value(m)["twice"]) for m in out)
    assert got == expected  # a clean handover: nothing lost, nothing processed twice
