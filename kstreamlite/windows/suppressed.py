"""Suppressed: hold a table's updates back and emit fewer, later ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from .._time import to_millis
from ..errors import TopologyError


@dataclass(frozen=True)
class Suppressed:
    """``until_window_closes()``: one final result per window once the watermark passes its
    end plus grace. ``until_time_limit(t, max_records)``: the latest update per key once
    ``t`` of event time has passed since the key's first buffered update (or sooner when the
    buffer holds ``max_records`` keys)."""

    final: bool
    time_limit_ms: int = 0
    max_records: int | None = None
    name: str | None = None

    @classmethod
    def until_window_closes(cls, name: str | None = None) -> Suppressed:
        return cls(final=True, name=name)

    @classmethod
    def until_time_limit(
        cls, time: timedelta | int, max_records: int | None = None, name: str | None = None
    ) -> Suppressed:
        ms = to_millis(time, "time")
        if ms < 0:
            raise TopologyError(f"the suppression time limit must not be negative, got {ms} ms")
        if max_records is not None and max_records < 1:
            raise TopologyError(f"max_records must be at least 1, got {max_records}")
        return cls(final=False, time_limit_ms=ms, max_records=max_records, name=name)
