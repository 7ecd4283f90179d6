"""The topology of the bounded-run tests (test_bounded.py), also loaded by the CLI test as
``tests.integration.bounded_app:build``: readings regrouped by sensor (a repartition topic),
counted and summed per tumbling event-time window, suppressed to one final result per
window. ``build()`` takes its topics from BOUNDED_APP_SOURCE and BOUNDED_APP_SINK."""

from __future__ import annotations

import os
from typing import Any

from kstreamlite import StreamsBuilder, serdes
from kstreamlite.timing import WatermarkStrategy
from kstreamlite.topology import Topology
from kstreamlite.windows import Suppressed, TimeWindows

SIZE = 1_000  # window size, ms
GRACE = 200
DELAY = 500  # bounded out-of-orderness of the watermark strategy, ms
WINDOWED_STRING = serdes.windowed(serdes.STRING)


def _add(sensor: str, value: dict[str, Any], agg: dict[str, int]) -> dict[str, int]:
    return {"count": agg["count"] + 1, "sum": agg["sum"] + value["v"]}


def topology(source: str, sink: str) -> Topology:
    builder = StreamsBuilder()
    (
        builder.stream(
            source,
            timestamp_extractor=lambda key, value, ts: value["ts"],
            watermark=WatermarkStrategy.bounded_out_of_orderness(DELAY),
        )
        .group_by(lambda key, value: value["sensor"])
        .windowed_by(TimeWindows.of(SIZE, GRACE))
        .aggregate(lambda: {"count": 0, "sum": 0}, _add, materialized="per-sensor")
        .suppress(Suppressed.until_window_closes())
        .to_stream()
        .to(sink, key_serde=WINDOWED_STRING)
    )
    return builder.build()


def build() -> Topology:
    return topology(os.environ["BOUNDED_APP_SOURCE"], os.environ["BOUNDED_APP_SINK"])
