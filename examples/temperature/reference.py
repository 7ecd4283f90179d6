"""The fire alerts the topology must emit for given readings, computed with plain dicts and
no kstreamlite: the oracle of the tests.

It follows the library's rules for one input partition read in the order given: the
watermark is the highest timestamp seen so far minus the watermark delay (never moving
back); a window ``[start, start + 60 s)`` closes when the watermark reaches
``end + grace``, and a reading for a closed window is late and dropped. Every window
still open at the end counts as closed there, as after a bounded run, after idleness, or
after a reading far enough ahead in event time. With several partitions each one has its
own watermark; readings whose disorder stays under the delay plus the grace (the
generator's does) are never late, on any partitioning, and then the result does not
depend on it.

Sums are taken in arrival order per sensor, as the topology adds them, so the float
means (and the threshold and rounding decisions on them) come out identical.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .app import GRACE_MS, THRESHOLD, WATERMARK_DELAY_MS, WINDOW_MS

Alert = dict[str, Any]
WindowKey = tuple[str, int]  # (sensor id, window start)


@dataclass
class Expected:
    alerts: dict[WindowKey, Alert] = field(default_factory=dict)  # in order of window close
    late: list[dict[str, Any]] = field(default_factory=list)  # readings dropped as late
    windows: int = 0  # windows with at least one reading


def window_start(timestamp: int) -> int:
    return timestamp - timestamp % WINDOW_MS


def expected_alerts(
    readings: Iterable[dict[str, Any]],
    *,
    delay_ms: int = WATERMARK_DELAY_MS,
    grace_ms: int = GRACE_MS,
) -> Expected:
    sums: dict[WindowKey, list[float]] = {}  # (sensor, start) -> [sum, count]
    still_open: set[WindowKey] = set()
    closed: list[WindowKey] = []
    late: list[dict[str, Any]] = []
    max_ts = -1
    for reading in readings:
        ts = int(reading["timestamp"])
        start = window_start(ts)
        watermark = max_ts - delay_ms if max_ts >= 0 else -1
        if start + WINDOW_MS + grace_ms <= watermark:
            late.append(reading)
        else:
            key = (reading["sensor_id"], start)
            agg = sums.setdefault(key, [0.0, 0])
            agg[0] += reading["temperature"]
            agg[1] += 1
            still_open.add(key)
        if ts > max_ts:
            max_ts = ts
            watermark = max_ts - delay_ms
            closing = {w for w in still_open if w[1] + WINDOW_MS + grace_ms <= watermark}
            closed.extend(sorted(closing, key=lambda w: (w[1], w[0])))
            still_open -= closing
    closed.extend(sorted(still_open, key=lambda w: (w[1], w[0])))  # closed at the end
    out = Expected(late=late, windows=len(sums))
    for sensor_id, start in closed:
        total, count = sums[(sensor_id, start)]
        mean = total / count
        if mean > THRESHOLD:
            out.alerts[(sensor_id, start)] = {
                "sensor_id": sensor_id,
                "window_start": start,
                "window_end": start + WINDOW_MS,
                "average": round(mean, 2),
                "count": int(count),
            }
    return out
