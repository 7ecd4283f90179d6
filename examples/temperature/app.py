"""The fire-alert topology: the mean temperature per sensor over tumbling one-minute
windows of event time, one final result per window, and an alert for every window whose
mean is above 40 °C. Builds the graph only; never talks to Kafka.

Records (STRING keys, JSON values, the defaults):

- ``sensor-readings``, keyed by sensor id:
  ``{"sensor_id": str, "temperature": float (°C), "timestamp": int (epoch ms)}``
- ``fire-alerts``, keyed by sensor id:
  ``{"sensor_id", "window_start", "window_end", "average", "count"}``, ``average`` being
  the window's mean rounded to 2 decimals (the threshold is applied to the exact mean, so
  a mean of 40.001 alerts with ``"average": 40.0``; a mean of exactly 40.0 does not).

Time. Event time is always the reading's own ``timestamp`` (a ``timestamp_extractor``),
never the Kafka record's: a reading buffered by a gateway and sent late still counts in
the minute it was measured. A window ``[start, start + 60 s)`` closes, and its one final
result comes out (``Suppressed.until_window_closes()``), once the watermark reaches
``end + 10 s`` of grace; a reading that arrives for a closed window is late: dropped and
counted in ``kstreamlite_late_records_total``.

The watermark delay: **2 s** of bounded out-of-orderness. Readings of one partition
arrive slightly out of order all the time (sensors sharing a partition send through
different gateways; their clocks and network paths differ by a second or two), so the
watermark stays 2 s behind the newest reading and such routine disorder never eats into
the grace. The 10 s of grace is then kept for the exceptional: a sensor whose link hiccups
for a few seconds. Together a reading may be up to 12 s behind the newest one of its
partition and still count; a larger delay would only make every alert later (a window's
alert comes ``end + 12 s`` of event time after its start), a smaller one would spend the
grace on everyday jitter.

Idleness 30 s: when a partition has brought nothing for 30 s of wall clock (the readings
stopped), it no longer holds the watermark back, and once all are idle the watermark
follows the wall clock, so the last windows close and their alerts come out without
new readings.

The readings are keyed by sensor id already, so ``group_by_key`` needs no repartition
topic: each input partition is one task holding its sensors' windows.
"""

from __future__ import annotations

from typing import Any

from kstreamlite import StreamsBuilder, Topology, Windowed
from kstreamlite.timing import WatermarkStrategy
from kstreamlite.windows import Suppressed, TimeWindows

SOURCE = "sensor-readings"
SINK = "fire-alerts"

WINDOW_MS = 60_000
GRACE_MS = 10_000
WATERMARK_DELAY_MS = 2_000
IDLENESS_MS = 30_000
THRESHOLD = 40.0  # °C; a window's mean must be above it

Agg = dict[str, Any]  # {"sum": float, "count": int}


def event_time(key: Any, reading: dict[str, Any], record_timestamp: int) -> int:
    """The reading's own timestamp, whatever the Kafka record's is."""
    return int(reading["timestamp"])


def no_readings() -> Agg:
    return {"sum": 0.0, "count": 0}


def add_reading(sensor_id: str, reading: dict[str, Any], agg: Agg) -> Agg:
    return {"sum": agg["sum"] + reading["temperature"], "count": agg["count"] + 1}


def is_fire(window: Windowed, agg: Agg) -> bool:
    return bool(agg["sum"] / agg["count"] > THRESHOLD)


def to_alert(window: Windowed, agg: Agg) -> tuple[str, dict[str, Any]]:
    sensor_id = window.key
    return sensor_id, {
        "sensor_id": sensor_id,
        "window_start": window.window.start,
        "window_end": window.window.end,
        "average": round(agg["sum"] / agg["count"], 2),
        "count": agg["count"],
    }


def watermark_strategy() -> WatermarkStrategy:
    return WatermarkStrategy.bounded_out_of_orderness(WATERMARK_DELAY_MS).with_idleness(IDLENESS_MS)


def build_topology(source: str = SOURCE, sink: str = SINK) -> Topology:
    """The topology reading ``source`` (readings) and writing ``sink`` (alerts)."""
    builder = StreamsBuilder()
    (
        builder.stream(
            source,
            timestamp_extractor=event_time,
            watermark=watermark_strategy(),
            name="readings-source",
        )
        .group_by_key(name="by-sensor")
        .windowed_by(TimeWindows.of(WINDOW_MS, grace=GRACE_MS))
        .aggregate(no_readings, add_reading, materialized="minute-temperatures")
        .suppress(Suppressed.until_window_closes(name="final-minutes"))
        .to_stream()
        .filter(is_fire)
        .map(to_alert)
        .to(sink)
    )
    return builder.build()
