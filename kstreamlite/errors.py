"""The exception hierarchy: every error kstreamlite raises derives from KStreamliteError.

Each message names the thing that went wrong and what to do about it.
"""

from __future__ import annotations


class KStreamliteError(Exception):
    """Base of every kstreamlite error, so callers can catch them all at once."""

    #: Set on the error an exception handler raised to fail a task, so the layers it
    #: passes through re-raise it instead of handling the same record twice.
    handled = False


class TopologyError(KStreamliteError):
    """The topology is built wrongly (unknown node, duplicate name, missing argument)."""


class ConfigError(KStreamliteError):
    """A StreamsConfig value is missing or invalid."""


class SerializationError(KStreamliteError):
    """A key or value could not be (de)serialized; names topic, partition and offset when known."""

    def __init__(
        self,
        message: str,
        *,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
    ) -> None:
        where = ""
        if topic is not None:
            where = f" (topic {topic!r}, partition {partition}, offset {offset})"
        super().__init__(message + where)
        self.topic = topic
        self.partition = partition
        self.offset = offset


class ProcessingError(KStreamliteError):
    """User code raised while processing a record; names the processor and the record's origin."""

    def __init__(
        self,
        message: str,
        *,
        processor: str | None = None,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
    ) -> None:
        super().__init__(message)
        self.processor = processor
        self.topic = topic
        self.partition = partition
        self.offset = offset


class ProductionError(KStreamliteError):
    """The broker did not accept a produced record."""


class MissingSourceTopicError(KStreamliteError):
    """A source topic of the topology does not exist on the broker."""


class BrokerUnavailableError(KStreamliteError):
    """No broker answered at the configured bootstrap servers within the start-up timeout."""


class InvalidStateStoreError(KStreamliteError):
    """A store cannot be queried now (rebalancing) or does not exist."""


class IllegalStateError(KStreamliteError):
    """An operation was called in a state that does not allow it (for example start() twice)."""
