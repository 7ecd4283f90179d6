"""Window specifications: sizes and grace periods in milliseconds, Kafka Streams' rules.

A time window ``[start, end)`` holds records with ``start <= ts < end`` (a record at
exactly ``end`` belongs to the next window) and closes when the watermark reaches
``end + grace``. Sliding windows are Kafka Streams' KIP-450 windows: both ends inclusive,
``end - start == time_difference``. Sessions are ``[first ts, last ts]``, inclusive.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from .._time import to_millis
from ..errors import TopologyError


def _positive(value: timedelta | int, what: str) -> int:
    ms = to_millis(value, what)
    if ms <= 0:
        raise TopologyError(f"{what} must be positive, got {ms} ms")
    return ms


def _grace(value: timedelta | int) -> int:
    ms = to_millis(value, "grace")
    if ms < 0:
        raise TopologyError(f"grace must not be negative, got {ms} ms")
    return ms


@dataclass(frozen=True)
class TimeWindows:
    """Tumbling windows of ``size``; ``advance_by(step)`` makes them hopping."""

    size_ms: int
    advance_ms: int
    grace_ms: int = 0

    @classmethod
    def of(cls, size: timedelta | int, grace: timedelta | int = 0) -> TimeWindows:
        size_ms = _positive(size, "window size")
        return cls(size_ms, size_ms, _grace(grace))

    def advance_by(self, step: timedelta | int) -> TimeWindows:
        step_ms = _positive(step, "advance")
        if step_ms > self.size_ms:
            raise TopologyError(
                f"advance ({step_ms} ms) must not exceed the window size ({self.size_ms} ms); "
                "gaps between windows would drop records"
            )
        return replace(self, advance_ms=step_ms)

    def grace(self, grace: timedelta | int) -> TimeWindows:
        return replace(self, grace_ms=_grace(grace))

    @property
    def retention_ms(self) -> int:
        return self.size_ms + self.grace_ms

    def starts_for(self, timestamp: int) -> range:
        """Starts of the windows holding ``timestamp``, oldest first (none before 0)."""
        step = self.advance_ms
        first = max(0, timestamp - self.size_ms + step) // step * step
        return range(first, timestamp + 1, step)


@dataclass(frozen=True)
class SlidingWindows:
    """Kafka Streams' sliding windows: one window per distinct content, both ends inclusive."""

    time_difference_ms: int
    grace_ms: int = 0

    @classmethod
    def of(cls, time_difference: timedelta | int, grace: timedelta | int = 0) -> SlidingWindows:
        return cls(_positive(time_difference, "time difference"), _grace(grace))

    @property
    def retention_ms(self) -> int:
        return 2 * self.time_difference_ms + 1 + self.grace_ms


@dataclass(frozen=True)
class SessionWindows:
    """Sessions: records of a key closer than ``gap`` together are one session."""

    gap_ms: int
    grace_ms: int = 0

    @classmethod
    def with_gap(cls, gap: timedelta | int, grace: timedelta | int = 0) -> SessionWindows:
        return cls(_positive(gap, "inactivity gap"), _grace(grace))

    def grace(self, grace: timedelta | int) -> SessionWindows:
        return replace(self, grace_ms=_grace(grace))

    @property
    def retention_ms(self) -> int:
        return self.gap_ms + self.grace_ms


@dataclass(frozen=True)
class JoinWindows:
    """How far apart two records may be to join: ``before`` and ``after`` the left one."""

    before_ms: int
    after_ms: int
    grace_ms: int = 0

    @classmethod
    def of(cls, time_difference: timedelta | int, grace: timedelta | int = 0) -> JoinWindows:
        ms = to_millis(time_difference, "time difference")
        if ms < 0:
            raise TopologyError(f"time difference must not be negative, got {ms} ms")
        return cls(ms, ms, _grace(grace))

    def before(self, time_difference: timedelta | int) -> JoinWindows:
        return replace(self, before_ms=to_millis(time_difference, "before"))

    def after(self, time_difference: timedelta | int) -> JoinWindows:
        return replace(self, after_ms=to_millis(time_difference, "after"))
