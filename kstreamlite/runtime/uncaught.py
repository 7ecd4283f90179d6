"""What happens to an instance whose stream thread dies of an exception.

``KafkaStreams.set_uncaught_exception_handler(fn)``: ``fn(exception)`` answers with a
``StreamThreadExceptionResponse``, as in Kafka Streams. SHUTDOWN_APPLICATION reaches the
other instances through a one-partition internal topic, ``<application_id>-shutdown-signal``,
that every instance with a handler watches (Kafka Streams uses its own assignment
protocol for this, which a librdkafka consumer group cannot carry).
"""

from __future__ import annotations

import enum
import logging
import socket
from collections.abc import Callable
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from ..errors import KStreamliteError

log = logging.getLogger("kstreamlite.runtime")

SIGNAL_SUFFIX = "shutdown-signal"


class StreamThreadExceptionResponse(enum.Enum):
    """An uncaught-exception handler's answer."""

    REPLACE_THREAD = "replace_thread"  # drop the failed tasks, start a new thread, rejoin
    SHUTDOWN_CLIENT = "shutdown_client"  # this instance stops in ERROR (the default)
    SHUTDOWN_APPLICATION = "shutdown_application"  # every instance of the application stops


REPLACE_THREAD = StreamThreadExceptionResponse.REPLACE_THREAD
SHUTDOWN_CLIENT = StreamThreadExceptionResponse.SHUTDOWN_CLIENT
SHUTDOWN_APPLICATION = StreamThreadExceptionResponse.SHUTDOWN_APPLICATION

UncaughtExceptionHandler = Callable[[BaseException], StreamThreadExceptionResponse]


class ApplicationShutdownRequested(KStreamliteError):
    """Another instance's handler answered SHUTDOWN_APPLICATION."""


def decide(handler: UncaughtExceptionHandler | None, exc: BaseException) -> Any:
    """The handler's answer; a handler that fails or answers nonsense shuts the client."""
    if handler is None:
        return SHUTDOWN_CLIENT
    try:
        response = handler(exc)
    except Exception:
        log.exception("the uncaught exception handler raised; shutting this instance down")
        return SHUTDOWN_CLIENT
    if not isinstance(response, StreamThreadExceptionResponse):
        log.error(
            "the uncaught exception handler returned %r, not a StreamThreadExceptionResponse; "
            "shutting this instance down",
            response,
        )
        return SHUTDOWN_CLIENT
    return response


class ShutdownSignal:
    """Watches and writes the application's shutdown-signal topic."""

    def __init__(
        self, topic: str, consumer_settings: dict[str, Any], producer_settings: dict[str, Any]
    ):
        self.topic = topic
        self._producer_settings = {
            k: v
            for k, v in producer_settings.items()
            if k not in ("transactional.id", "transaction.timeout.ms", "enable.idempotence")
        }
        settings = {
            k: v
            for k, v in consumer_settings.items()
            if k not in ("group.id", "group.instance.id", "partition.assignment.strategy")
        }
        settings.update({"group.id": f"{topic}-watch", "enable.auto.commit": False})
        self._consumer = Consumer(settings)
        _, high = self._consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        # Only signals sent from now on: an old one must not stop a fresh deployment.
        self._consumer.assign([TopicPartition(topic, 0, high)])

    def poll(self) -> dict[str, Any] | None:
        """A signal sent since this instance started, or None."""
        for msg in self._consumer.consume(100, 0):
            error = msg.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("reading %s: %s", self.topic, error)
                continue
            try:
                signal = orjson.loads(msg.value() or b"{}")
            except orjson.JSONDecodeError:
                signal = {"error": repr(msg.value())}
            return signal if isinstance(signal, dict) else {"error": repr(signal)}
        return None

    def send(self, application_id: str, exc: BaseException) -> None:
        """Tell every instance to stop; waits until the broker has it."""
        producer = Producer(self._producer_settings)
        producer.produce(
            self.topic,
            orjson.dumps(
                {
                    "application_id": application_id,
                    "from": socket.gethostname(),
                    "error": f"{type(exc).__name__}: {exc}",
                }
            ),
        )
        left = producer.flush(10)
        if left:
            log.error("could not send the application shutdown signal to %s", self.topic)

    def close(self) -> None:
        self._consumer.close()
