"""Watermark strategies: how far behind the highest timestamp seen event time is complete.

A watermark ``W`` promises that no more on-time records with a timestamp below ``W``
will come; a window ``[start, end)`` closes when the task's watermark reaches
``end + grace``. ``monotonous()`` is Kafka Streams' stream time (the highest timestamp
seen); ``bounded_out_of_orderness(d)`` holds it ``d`` behind; ``with_idleness(t)``
leaves out inputs silent for ``t`` of wall-clock time, and lets the watermark follow
the wall clock once every input of a task is silent.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from .._time import to_millis


@dataclass(frozen=True)
class WatermarkStrategy:
    max_delay_ms: int = 0
    idleness_ms: int | None = None

    @classmethod
    def monotonous(cls) -> WatermarkStrategy:
        """The watermark is the highest timestamp seen (Kafka Streams' stream time)."""
        return cls()

    @classmethod
    def bounded_out_of_orderness(cls, max_delay: timedelta | int) -> WatermarkStrategy:
        """The watermark trails the highest timestamp seen by ``max_delay``."""
        delay = to_millis(max_delay, "max_delay")
        if delay < 0:
            raise ValueError(f"max_delay must not be negative, got {delay} ms")
        return cls(max_delay_ms=delay)

    def with_idleness(self, timeout: timedelta | int) -> WatermarkStrategy:
        """Leave out an input that has sent nothing for ``timeout`` of wall-clock time."""
        idle = to_millis(timeout, "timeout")
        if idle <= 0:
            raise ValueError(f"the idleness timeout must be positive, got {idle} ms")
        return replace(self, idleness_ms=idle)
