"""Small helpers shared by the join tests (not a test module)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kstreamlite.testing import TopologyTestDriver

LATE = "kstreamlite_late_records_total"
SKIPPED = "kstreamlite_skipped_records_total"
TICK = "~tick"  # the key of the records that only move a topic's time forward


def pair(left: Any, right: Any) -> list[Any]:
    """The joiner of most tests: both sides, ``None`` for a missing one, as a JSON list."""
    return [left, right]


def pipe(driver: TopologyTestDriver, topic: str, records: Iterable[tuple[Any, Any, int]]) -> None:
    """Pipe ``(key, value, timestamp)`` triples into ``topic``."""
    inp = driver.create_input_topic(topic)
    for key, value, timestamp in records:
        inp.pipe_input(key, value, timestamp=timestamp)


def advance(driver: TopologyTestDriver, timestamp: int, topics=("left", "right")) -> None:
    """Move every input topic's time to ``timestamp`` (the task watermark is their minimum)
    with a record of key ``TICK``; read results through ``results`` to leave those out."""
    for topic in topics:
        driver.create_input_topic(topic).pipe_input(TICK, "tick", timestamp=timestamp)


def results(driver: TopologyTestDriver, topic: str = "out") -> list[tuple[Any, Any, int]]:
    """``(key, value, timestamp)`` of each output record but the ``TICK`` ones, in order."""
    out = driver.create_output_topic(topic)
    return [(r.key, r.value, r.timestamp) for r in out.read_records_to_list() if r.key != TICK]


def late_count(driver: TopologyTestDriver) -> float:
    return driver.metrics.value(LATE)


def skipped_count(driver: TopologyTestDriver) -> float:
    return driver.metrics.value(SKIPPED)
