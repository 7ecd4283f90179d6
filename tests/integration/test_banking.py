"""The banking example on a real broker: generated customers and accounts loaded into the
two global tables, generated transactions enriched and routed; the output topics hold
exactly the reference computed in Python from the generated data."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from examples.banking.generator import generate, produce_reference_data, produce_transactions
from examples.banking.reference import expected_outputs
from examples.banking.topics import TRANSACTION_PARTITIONS, Topics, create_topics
from examples.banking.topology import build_topology

from .kafka_helpers import (
    KafkaHelper,
    close_all,
    default_partition,
    failed,
    key_str,
    start_app,
    streams_config,
    wait_running,
    wait_until,
)

pytestmark = pytest.mark.integration


def _by_id(msgs: list[Any]) -> dict[str, Any]:
    return {key_str(msg): orjson.loads(msg.value()) for msg in msgs}


def test_banking_example_routes_every_transaction_as_the_reference_says(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Path
) -> None:
    topics = Topics().with_suffix(unique)
    assert len(create_topics(bootstrap_servers, topics)) == 5
    assert create_topics(bootstrap_servers, topics) == []  # idempotent
    assert kafka.partitions(topics.transactions) == TRANSACTION_PARTITIONS

    data = generate(customers=60, accounts=150, transactions=3_000, seed=7)
    expected = expected_outputs(data)
    assert Counter(expected.unrouted.values()).keys() == {"unknown account", "unknown customer"}
    unrouted: dict[str, str] = {}
    topology = build_topology(
        **topics.as_kwargs(),
        on_unrouted=lambda reason, key, value: unrouted.update({key: reason}),
    )

    # Reference data before the app starts: its global tables load it all before any task
    # processes. The transactions arrive while it runs.
    produce_reference_data(bootstrap_servers, data, topics)
    app = start_app(topology, streams_config(f"banking-{unique}", bootstrap_servers, tmp_path))

    def abort() -> str | None:
        return failed(app)

    try:
        wait_running(app, timeout=30)
        produce_transactions(bootstrap_servers, data, topics)
        credits = kafka.read(
            topics.credits, len(expected.credits), timeout=20, settle=0.5, abort_if=abort
        )
        debits = kafka.read(
            topics.debits, len(expected.debits), timeout=20, settle=0.5, abort_if=abort
        )
        # An unroutable transaction may be the last of its partition: wait for it too.
        wait_until(
            lambda: len(unrouted) >= len(expected.unrouted),
            timeout=10,
            what="every unroutable transaction reported",
            abort_if=abort,
        )
    finally:
        close_all(app)

    assert len(credits) == len(expected.credits), "credits written more or less than once"
    assert len(debits) == len(expected.debits), "debits written more or less than once"
    assert _by_id(credits) == expected.credits
    assert _by_id(debits) == expected.debits
    assert unrouted == expected.unrouted
    # Keyed by transaction id throughout: each output record is in its key's partition.
    for msg in credits + debits:
        assert msg.partition() == default_partition(msg.key(), TRANSACTION_PARTITIONS)
