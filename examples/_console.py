"""What the examples' ``python -m examples.<name>`` commands share.

Each command starts a local broker unless one is named, creates its topics, runs a
topology in a KafkaStreams instance while a plain consumer reads what it writes, and
closes everything with a summary. The parts below are the same in every example; what
an example computes, produces and prints about its records stays in that example.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable
from types import FrameType, TracebackType
from typing import Any

import orjson
from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

from kstreamlite import KafkaStreams, State, StreamsConfig

CLOSE_TIMEOUT_MS = 30_000


# ---- the command line ----


def add_duration_argument(parser: argparse.ArgumentParser, help: str) -> None:
    """``--duration S`` (20 s by default): the live examples run for a while, then stop
    by themselves, so a run ends with its summary without anyone pressing Ctrl-C."""
    parser.add_argument("--duration", type=float, default=20.0, metavar="S", help=help)


def add_bootstrap_argument(parser: argparse.ArgumentParser) -> None:
    """``--bootstrap HOST:PORT``, KSTREAMLITE_BOOTSTRAP_SERVERS by default: a broker of
    your own. Left unset, ``kstreamlite.local.broker_or_local`` starts a local one, so an
    example runs with nothing set up."""
    parser.add_argument(
        "--bootstrap",
        metavar="HOST:PORT",
        default=os.environ.get("KSTREAMLITE_BOOTSTRAP_SERVERS"),
        help="a Kafka broker to use (default: start a local one)",
    )


def log_warnings() -> None:
    """Log warnings and errors only, each with its logger's name: the library and the
    clients stay quiet unless something is wrong, so the example's own lines stay legible."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


# ---- the broker ----


def create_topics(
    bootstrap: str, names: Iterable[str], partitions: int, timeout: float = 30
) -> list[str]:
    """Create whichever of ``names`` do not exist yet; return the names created.

    Idempotent, because on a broker of your own the topics outlive a run. It then waits
    until the broker lists every topic: the application and the reader look them up at
    once, and a topic is not always in the metadata as soon as its creation returns.
    """
    names = list(names)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = admin.list_topics(timeout=timeout).topics
    missing = [NewTopic(n, partitions, 1) for n in names if n not in existing]
    created = []
    if missing:  # create_topics() refuses an empty list
        for name, future in admin.create_topics(missing, operation_timeout=timeout).items():
            try:
                future.result(timeout=timeout)
                created.append(name)
            except KafkaException as exc:  # created meanwhile by someone else: fine
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
    deadline = time.monotonic() + timeout
    while not all(n in admin.list_topics(timeout=timeout).topics for n in names):
        if time.monotonic() > deadline:
            raise TimeoutError(f"topics {names} did not appear within {timeout:.0f} s")
        time.sleep(0.1)
    return created


def streams_config(
    application_id: str, bootstrap: str, *, commit_interval_ms: int = 1_000, **settings: Any
) -> StreamsConfig:
    """The examples' StreamsConfig. Commits every second instead of the 30 s default, so a
    short run commits (and flushes what its stores cache) often; a short session timeout
    keeps the group join near 3 s on Tansu (BROKER-NOTES.md 3), a small part of a 20 s run."""
    return StreamsConfig(
        application_id=application_id,
        bootstrap_servers=bootstrap,
        commit_interval_ms=commit_interval_ms,
        consumer_config={"session.timeout.ms": 6_000, "heartbeat.interval.ms": 1_000},
        **settings,
    )


# ---- reading what the application writes ----


def open_reader(
    bootstrap: str, group_id: str, topics: Iterable[str], *, from_beginning: bool = True
) -> Consumer:
    """A consumer on every partition of ``topics``, placed with assign(): no group join to
    wait for, and no committed offsets, so each run decides where it starts. From the
    beginning on a fresh local broker; from the end, for an example that only wants this
    run's output, on a broker of your own where earlier runs' records remain."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group_id,
            "enable.auto.commit": False,
            "fetch.queue.backoff.ms": 10,  # after a full fetch queue, not librdkafka's 1 s
        }
    )
    metadata = consumer.list_topics(timeout=10).topics
    start = OFFSET_BEGINNING if from_beginning else OFFSET_END
    consumer.assign([TopicPartition(t, p, start) for t in topics for p in metadata[t].partitions])
    return consumer


def poll_records(
    consumer: Consumer, what: str, *, max_messages: int = 1_000, timeout: float = 0.2
) -> list[Message]:
    """One consume() call: the records read, without the end-of-partition events (a reader
    that catches up is not an error). Any other error raises, with ``what`` in its message.

    The readers count what they read and never compare with end offsets, which Tansu
    can report too low (BROKER-NOTES.md 2).
    """
    records = []
    for msg in consumer.consume(max_messages, timeout):
        error = msg.error()
        if error is None:
            records.append(msg)
        elif error.code() != KafkaError._PARTITION_EOF:
            raise RuntimeError(f"reading {what}: {error}")
    return records


def poll_json(
    consumer: Consumer, what: str, *, max_messages: int = 1_000, timeout: float = 0.2
) -> list[Any]:
    """``poll_records``, each record's value decoded: the alerts are JSON objects."""
    records = poll_records(consumer, what, max_messages=max_messages, timeout=timeout)
    return [orjson.loads(msg.value()) for msg in records]


class AlertPrinter:
    """Prints each alert as it arrives, numbered from 1, and keeps the count for the
    summary. Flushed at once, so the alerts show live even when the output is piped."""

    def __init__(self, format_alert: Callable[[int, Any], str]) -> None:
        self._format = format_alert
        self.count = 0

    def show(self, alert: Any) -> None:
        self.count += 1
        print(self._format(self.count, alert), flush=True)


# ---- running and stopping ----


class CtrlC:
    """Within the ``with`` block Ctrl-C (SIGINT) sets ``pressed`` instead of raising
    KeyboardInterrupt, and the run loop checks it between steps.

    A KeyboardInterrupt can land anywhere: halfway through producing a batch or printing
    an alert. The flag lets the loop finish its step, then the example closes the
    application (a final commit), prints its summary and stops the local broker, which
    runs in its own process group and so never sees the terminal's Ctrl-C. The previous
    handler is back after the block: a second Ctrl-C while closing interrupts as usual.
    """

    def __init__(self) -> None:
        self.pressed = False
        self._previous: Any = None

    def __enter__(self) -> CtrlC:
        self._previous = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        signal.signal(signal.SIGINT, self._previous)

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        self.pressed = True  # no printing here: the main thread may be printing itself


def app_failed(app: KafkaStreams) -> bool:
    """True once the application has stopped on an error, which is then on stderr: its
    thread is gone, so the run loop should stop waiting for output and close it."""
    if app.state is not State.ERROR:
        return False
    print(f"the application failed: {app.exception!r}", file=sys.stderr)
    return True


def warn_if_not_closed(closed: bool) -> bool:
    """``closed`` (what ``app.close(CLOSE_TIMEOUT_MS)`` returned), saying on stderr when it
    is False. Called after the summary, so the last line explains the exit status 1."""
    if not closed:
        print(
            f"the application did not close within {CLOSE_TIMEOUT_MS // 1000} s",
            file=sys.stderr,
        )
    return closed
