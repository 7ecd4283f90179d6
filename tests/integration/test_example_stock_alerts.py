"""The stock-alerts example on a real broker: a few thousand generated price updates on
three partitions, the topology run by KafkaStreams, and ``stock-alerts`` holding exactly
the alerts the plain-Python reference computes from the same updates."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from examples.stock_alerts.app import build_topology
from examples.stock_alerts.generator import generate, produce
from examples.stock_alerts.reference import expected_alerts

from .kafka_helpers import (
    KafkaHelper,
    close_all,
    default_partition,
    failed,
    key_str,
    start_app,
    streams_config,
    wait_running,
)

pytestmark = pytest.mark.integration

PARTITIONS = 3


def _per_symbol(alerts: list[tuple[str | None, dict[str, Any]]]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for key, alert in alerts:
        assert key == alert["symbol"]
        out[alert["symbol"]].append(alert)
    return dict(out)


def test_stock_alerts_example_emits_exactly_the_reference_alerts(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Path
) -> None:
    source = kafka.create_topic(f"stock-prices-{unique}", PARTITIONS)
    sink = kafka.create_topic(f"stock-alerts-{unique}", PARTITIONS)
    updates = list(generate(4_000, seed=7))
    expected = expected_alerts(updates)
    assert len(expected) > 500

    app = start_app(
        build_topology(source=source, sink=sink),
        streams_config(f"stock-alerts-{unique}", bootstrap_servers, tmp_path),
    )
    try:
        wait_running(app, timeout=30)
        assert produce(bootstrap_servers, updates, source) == len(updates)
        # Count what arrives; never trust end offsets (BROKER-NOTES.md 2).
        msgs = kafka.read(sink, len(expected), timeout=20, settle=1.0, abort_if=lambda: failed(app))
    finally:
        close_all(app)

    got = [(key_str(msg), orjson.loads(msg.value())) for msg in msgs]
    assert len(got) == len(expected), "alerts written more or less than once"
    # Per symbol (one partition each) the alerts come in the order the updates were sent.
    assert _per_symbol(got) == _per_symbol([(a["symbol"], a) for a in expected])
    for msg in msgs:  # keyed by symbol: each alert is in its symbol's partition
        assert msg.partition() == default_partition(msg.key(), PARTITIONS)
