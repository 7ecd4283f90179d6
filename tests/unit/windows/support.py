"""Small helpers shared by the windowing tests (not a test module)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kstreamlite import serdes
from kstreamlite.testing import TopologyTestDriver

WINDOWED_STRING = serdes.windowed(serdes.STRING)
LATE = "kstreamlite_late_records_total"
SKIPPED = "kstreamlite_skipped_records_total"


def pipe(driver: TopologyTestDriver, records: Iterable[tuple[Any, Any, int]], topic: str = "in"):
    """Pipe ``(key, value, timestamp)`` triples into ``topic``."""
    inp = driver.create_input_topic(topic)
    for key, value, timestamp in records:
        inp.pipe_input(key, value, timestamp=timestamp)
    return inp


def windowed_out(driver: TopologyTestDriver, value_serde=serdes.LONG, topic: str = "out"):
    """The output topic of a windowed table's stream: Windowed[str] keys."""
    return driver.create_output_topic(topic, key_serde=WINDOWED_STRING, value_serde=value_serde)


def rows(records) -> list[tuple[Any, int, int, Any, int]]:
    """``(key, start, end, value, timestamp)`` of each output record, in order."""
    return [
        (r.key.key, r.key.window.start, r.key.window.end, r.value, r.timestamp) for r in records
    ]


def by_window(mapping: dict) -> dict[tuple[Any, int, int], Any]:
    """``{Windowed: value}`` as ``{(key, start, end): value}``."""
    return {(w.key, w.window.start, w.window.end): v for w, v in mapping.items()}


def late_count(driver: TopologyTestDriver) -> float:
    return driver.metrics.value(LATE)
