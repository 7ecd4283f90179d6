"""Shared benchmark plumbing: a broker, pre-filled input topics, and two timed runners.

Both runners time the same span: from the first input record processed to the last
output acknowledged by the broker (group joins and start-up excluded), so the ratio
compares processing, not client start-up.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from kstreamlite import KafkaStreams, StreamsConfig, Topology
from kstreamlite.runtime.clients import THROUGHPUT_CONSUMER, THROUGHPUT_PRODUCER

# The plain loop gets the same tuned consumer settings kstreamlite uses (DESIGN.md: a
# ceiling measured with librdkafka's throttled defaults is no ceiling).
TUNED_CONSUMER = {
    **THROUGHPUT_CONSUMER,
    "session.timeout.ms": 6000,
    "heartbeat.interval.ms": 1000,
    "auto.offset.reset": "earliest",
    "enable.auto.commit": False,
}
TUNED_PRODUCER = THROUGHPUT_PRODUCER


@dataclass
class Result:
    name: str
    records: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


@contextlib.contextmanager
def broker() -> Iterator[str]:
    external = os.environ.get("KSTREAMLITE_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    from kstreamlite.local import LocalBroker

    with LocalBroker() as local:
        yield local.bootstrap_servers


# Set explicitly: Tansu reports only configs given at creation, and Quix Streams reads these.
TOPIC_CONFIG = {"retention.ms": "604800000", "retention.bytes": "-1", "cleanup.policy": "delete"}


def create_topics(bootstrap: str, partitions: int, *names: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    new = [NewTopic(n, partitions, 1, config=dict(TOPIC_CONFIG)) for n in names]
    for future in admin.create_topics(new).values():
        future.result(30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if all(n in admin.list_topics(timeout=10).topics for n in names):
            return
        time.sleep(0.1)


def fill(bootstrap: str, topic: str, records: Iterator[tuple[Any, ...]]) -> int:
    """Produce ``(key, value)`` or ``(key, value, timestamp)`` records (no timestamp: now)."""
    producer = Producer({"bootstrap.servers": bootstrap, **TUNED_PRODUCER})
    count = 0
    for key, value, *timestamp in records:
        while True:
            try:
                producer.produce(topic, value, key, timestamp=timestamp[0] if timestamp else 0)
                break
            except BufferError:
                producer.poll(0.05)
        count += 1
        if count % 20_000 == 0:
            producer.poll(0)
    producer.flush(120)
    return count


def run_plain_loop(
    bootstrap: str,
    topic: str,
    total: int,
    work: Callable[[Any, Callable[..., None]], None],
) -> Result:
    """The ceiling: consume in batches, ``work(msg, produce)`` per record, produce, flush."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"plain-{uuid.uuid4().hex[:6]}",
            **TUNED_CONSUMER,
        }
    )
    producer = Producer({"bootstrap.servers": bootstrap, **TUNED_PRODUCER})
    raw_produce = producer.produce
    poll = producer.poll

    def produce(out_topic: str, value: bytes, key: bytes | None) -> None:
        try:
            raw_produce(out_topic, value, key)
        except BufferError:
            poll(0.05)
            raw_produce(out_topic, value, key)

    consumer.subscribe([topic])
    seen = 0
    start = 0.0
    while seen < total:
        messages = consumer.consume(5000, 0.1)
        if not messages:
            continue
        if not start:
            start = time.perf_counter()
        for msg in messages:
            if msg.error() is not None:
                continue
            work(msg, produce)
        seen += len(messages)
        poll(0)
    producer.flush(120)
    elapsed = time.perf_counter() - start
    consumer.close()
    return Result("plain confluent-kafka loop", total, elapsed)


def _app(bootstrap: str, topology: Topology, config: dict[str, Any]) -> KafkaStreams:
    settings: dict[str, Any] = {
        "application_id": f"bench-{uuid.uuid4().hex[:6]}",
        "bootstrap_servers": bootstrap,
        "consumer_config": {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000},
    }
    settings.update(config)
    return KafkaStreams(topology, StreamsConfig(**settings))


def run_kstreamlite(
    bootstrap: str, topology: Topology, total: int, name: str = "kstreamlite", **config: Any
) -> Result:
    """Run a topology until its tasks have consumed ``total`` records and outputs are acked."""
    app = _app(bootstrap, topology, config)
    thread = app._thread
    progress: dict[str, float] = {}
    done = threading.Event()

    def consumed() -> int:
        return sum(off for task in list(thread.tasks.values()) for off in task.offsets.values())

    def committed_all() -> bool:
        return all(
            thread._committed.get(tp, (None,))[0] == offset
            for task in list(thread.tasks.values())
            for tp, offset in list(task.offsets.items())
        )

    def watch() -> None:
        while not done.is_set():
            count = consumed()
            if count and "start" not in progress:
                progress["start"] = time.perf_counter()
            if count >= total:
                # End with a real commit (flush caches and producer, commit offsets), asked
                # of the stream thread, so no work is left cached when the clock stops.
                commits = app._metrics.value("kstreamlite_commits_total")
                next(iter(thread.tasks.values())).commit_requested = True
                # (With short commit intervals the last offsets may already be committed.)
                while app._metrics.value("kstreamlite_commits_total") <= commits and not (
                    committed_all() and not any(t.commit_requested for t in thread.tasks.values())
                ):
                    time.sleep(0.001)
                progress["end"] = time.perf_counter()
                done.set()
                return
            time.sleep(0.01)  # coarse on purpose: each wake-up takes the GIL from the app

    watcher = threading.Thread(target=watch, daemon=True)
    app.start()
    watcher.start()
    if not done.wait(600):
        app.close()
        raise RuntimeError(f"{name}: did not finish; state {app.state}, error {app.exception}")
    app.close()
    if app.exception is not None:
        raise app.exception
    return Result(name, total, progress["end"] - progress["start"])


def run_bounded(
    bootstrap: str, topology: Topology, source: str, name: str, **config: Any
) -> tuple[Result, float]:
    """``app.run(bounded=True)``: timed from the first record read to the return (the
    final window flush, commit and close included); also the wall time from the call,
    group join included. Counts the source records the run read (its summary)."""
    app = _app(bootstrap, topology, config)
    thread = app._thread
    first: list[float] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set() and not first:
            if any(task.offsets for task in list(thread.tasks.values())):
                first.append(time.perf_counter())
            time.sleep(0.002)

    watcher = threading.Thread(target=watch, daemon=True)
    called = time.perf_counter()
    watcher.start()
    summary = app.run(bounded=True)
    ended = time.perf_counter()
    done.set()
    assert summary is not None
    read = summary.read.get(source, 0)
    return Result(name, read, ended - (first[0] if first else called)), ended - called


def report(results: list[Result], baseline: Result) -> str:
    lines = [f"{'pipeline':<34} {'records':>9} {'seconds':>8} {'records/s':>11} {'ratio':>6}"]
    for r in results:
        lines.append(
            f"{r.name:<34} {r.records:>9} {r.seconds:>8.2f} {r.rate:>11,.0f} "
            f"{r.rate / baseline.rate:>6.2f}"
        )
    return "\n".join(lines)


def run_quix(
    bootstrap: str,
    total: int,
    name: str,
    pipeline: Callable[[Any], None],
    commit_interval_ms: int,
) -> Result:
    """Quix Streams on the same input: ``pipeline(app)`` builds the dataframe; timed from
    the first processed record until ``run()`` returns (final commit and flush done)."""
    import logging
    import tempfile

    from quixstreams import Application

    logging.getLogger("quixstreams").setLevel(logging.WARNING)
    processed = 0
    timing: dict[str, float] = {}
    app: Any = None

    def on_processed(topic: str, partition: int, offset: int) -> None:
        nonlocal processed
        if not processed:
            timing["start"] = time.perf_counter()
        processed += 1
        if processed >= total:
            app.stop()

    app = Application(
        broker_address=bootstrap,
        consumer_group=f"quix-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        commit_interval=commit_interval_ms / 1000,
        state_dir=tempfile.mkdtemp(prefix="quix-bench-"),
        on_message_processed=on_processed,
        loglevel="WARNING",
        consumer_extra_config={"fetch.queue.backoff.ms": 10, "session.timeout.ms": 6000},
    )
    pipeline(app)
    app.run()
    end = time.perf_counter()
    return Result(name, total, end - timing["start"])


def print_medians(results: dict[str, list[Result]], quix_name: str) -> float:
    """One line per pipeline: median records/s, ratio to the plain loop and to Quix
    Streams (when it ran); returns the plain loop's median rate."""
    import statistics

    medians = {name: statistics.median(r.rate for r in rs) for name, rs in results.items()}
    base = medians["plain confluent-kafka loop"]
    quix = medians.get(quix_name)
    for name, rate in medians.items():
        line = f"median {name}: {rate:,.0f} records/s, {rate / base:.2f} x plain loop"
        if quix and name != quix_name:
            line += f", {rate / quix:.2f} x Quix Streams"
        print(line)
    return base
