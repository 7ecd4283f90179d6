"""The lifecycle a user drives: state listener, run() until close(), the with-statement."""

from __future__ import annotations

import threading

import pytest

from kstreamlite import KafkaStreams, State, StreamsBuilder

from .kafka_helpers import (
    KafkaHelper,
    close_all,
    failed,
    json_value,
    streams_config,
)

pytestmark = pytest.mark.integration


def _upper_topology(source: str, sink: str):
    builder = StreamsBuilder()
    builder.stream(source).map_values(lambda v: {"name": v["name"].upper()}).to(sink)
    return builder.build()


def test_state_listener_and_run_close(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path
) -> None:
    source = kafka.create_topic(f"life-in-{unique}")
    sink = kafka.create_topic(f"life-out-{unique}")
    app_id = f"life-{unique}"
    kafka.produce(source, [(f"k{i}", {"name": f"n{i}"}) for i in range(10)])

    # -- run() in a thread, close() from this one, with a state listener --
    app = KafkaStreams(
        _upper_topology(source, sink), streams_config(app_id, bootstrap_servers, tmp_path)
    )
    transitions: list[tuple[State, State]] = []
    app.set_state_listener(lambda new, old: transitions.append((old, new)))
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            app.run()
            outcome["returned"] = True
        except BaseException as exc:
            outcome["raised"] = exc

    runner = threading.Thread(target=run, daemon=True)
    try:
        runner.start()
        assert app.wait_for_state(State.RUNNING, timeout=30_000), app.state
        out = kafka.read(sink, 10, timeout=30, abort_if=lambda: failed(app))
        assert sorted(json_value(m)["name"] for m in out) == sorted(f"N{i}" for i in range(10))
        assert runner.is_alive(), "run() returned while the app was running"
        assert app.close(30_000)
        runner.join(10)
        assert not runner.is_alive(), "run() did not return after close()"
    finally:
        close_all(app)
    assert outcome == {"returned": True}
    assert app.state is State.NOT_RUNNING
    assert transitions == [
        (State.CREATED, State.REBALANCING),
        (State.REBALANCING, State.RUNNING),
        (State.RUNNING, State.PENDING_SHUTDOWN),
        (State.PENDING_SHUTDOWN, State.NOT_RUNNING),
    ]

    # -- the with-statement closes (and so commits) on exit --
    kafka.produce(source, [(f"k{i}", {"name": f"n{i}"}) for i in range(10, 15)])
    with KafkaStreams(
        _upper_topology(source, sink), streams_config(app_id, bootstrap_servers, tmp_path)
    ) as scoped:
        scoped.start()
        assert scoped.wait_for_state(State.RUNNING, timeout=30_000), scoped.state
        out = kafka.read(sink, 15, timeout=30, settle=1.0, abort_if=lambda: failed(scoped))
    assert scoped.state is State.NOT_RUNNING
    # The second instance resumed after the first one's commit: nothing twice.
    assert sorted(json_value(m)["name"] for m in out) == sorted(f"N{i}" for i in range(15))
    assert kafka.committed(app_id, source) == {0: 15}


def test_failure_during_close_still_reaches_a_final_state(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path
) -> None:
    source = kafka.create_topic(f"closefail-in-{unique}")
    sink = kafka.create_topic(f"closefail-out-{unique}")
    kafka.produce(source, [("k", {"name": "x"})])
    inside, closing = threading.Event(), threading.Event()

    def blocks_then_raises(value):
        inside.set()
        closing.wait(20)
        raise ValueError("raised while the application was closing")

    builder = StreamsBuilder()
    builder.stream(source).map_values(blocks_then_raises).to(sink)
    app = KafkaStreams(
        builder.build(), streams_config(f"closefail-{unique}", bootstrap_servers, tmp_path)
    )
    app.set_state_listener(
        lambda new, old: closing.set() if new is State.PENDING_SHUTDOWN else None
    )
    try:
        app.start()
        assert inside.wait(30), f"the record never reached the processor (state {app.state})"
        assert app.close(30_000)
        # Kafka Streams ends a shutdown in NOT_RUNNING; ERROR would also be a final answer.
        final = app.wait_for_state(State.NOT_RUNNING, State.ERROR, timeout=3_000)
        assert final, f"stuck in {app.state.name} after close() returned (error: {app.exception!r})"
    finally:
        close_all(app)
    assert kafka.read(sink, 0, timeout=5, settle=1.0) == []
