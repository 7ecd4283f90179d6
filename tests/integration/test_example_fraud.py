"""The fraud example on a real broker: a few thousand generated transactions, keyed by
account, through the topology run by KafkaStreams; ``fraud-alerts`` holds exactly the
alerts the plain-Python reference computes from the generated input, each once, in its
account's partition."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from examples.fraud.app import build_topology
from examples.fraud.generator import generate, produce
from examples.fraud.reference import expected_alerts

from .kafka_helpers import (
    KafkaHelper,
    close_all,
    default_partition,
    failed,
    start_app,
    streams_config,
    wait_running,
)

pytestmark = pytest.mark.integration

PARTITIONS = 4


def test_fraud_example_alerts_exactly_as_the_reference_says(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Path
) -> None:
    source = kafka.create_topic(f"transactions-{unique}", PARTITIONS)
    sink = kafka.create_topic(f"fraud-alerts-{unique}", PARTITIONS)
    data = generate(5_000, accounts=1_000, seed=11)
    expected = expected_alerts(data)
    assert len(expected) > 20

    app = start_app(
        build_topology(source, sink), streams_config(f"fraud-{unique}", bootstrap_servers, tmp_path)
    )
    try:
        wait_running(app, timeout=30)
        produce(bootstrap_servers, source, data)
        # Count records; never trust end offsets (BROKER-NOTES.md 2).
        alerts = kafka.read(
            sink, len(expected), timeout=20, settle=1.0, abort_if=lambda: failed(app)
        )
    finally:
        close_all(app)

    assert len(alerts) == len(expected), "alerts written more or less than once"
    got = sorted((orjson.loads(m.value()) for m in alerts), key=lambda a: a["large_transaction_id"])
    assert got == sorted(expected, key=lambda a: a["large_transaction_id"])
    for msg in alerts:
        assert msg.key().decode() == orjson.loads(msg.value())["account_id"]
        # Keyed by account throughout: the alert is in its account's partition.
        assert msg.partition() == default_partition(msg.key(), PARTITIONS)


def test_ctrl_c_in_a_terminal_reaches_the_application_and_not_its_local_broker() -> None:
    from kstreamlite.local import LocalBroker

    with LocalBroker() as broker:
        process = broker._process  # no public handle on the child; the test needs its pid
        assert process is not None
        assert os.getpgid(process.pid) != os.getpgid(0)
