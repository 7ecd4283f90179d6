"""Durations: the API takes ``timedelta`` or ``int`` milliseconds everywhere."""

from __future__ import annotations

from datetime import timedelta


def to_millis(duration: timedelta | int | float, what: str = "duration") -> int:
    if isinstance(duration, timedelta):
        return int(duration.total_seconds() * 1000)
    if isinstance(duration, bool) or not isinstance(duration, (int, float)):
        raise TypeError(
            f"{what} must be a datetime.timedelta or an int of milliseconds, "
            f"not {type(duration).__name__}"
        )
    return int(duration)
