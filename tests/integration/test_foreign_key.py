"""A foreign-key table join on a real broker: tables with different partition counts
(the internal topics follow the table each side joins), rows changing their foreign key,
right-side updates fanning out, deletes. Checked on the output topic."""

from __future__ import annotations

from typing import Any

import pytest

from kstreamlite import StreamsBuilder

from .kafka_helpers import KafkaHelper, close_all, failed, start_app, streams_config, wait_running

pytestmark = pytest.mark.integration

# The join's internal topics are partitioned as the Java client does (murmur2 of the key
# bytes), so, as in Kafka Streams, the tables' topics must be too.
JAVA = "murmur2_random"


def _topology(orders: str, customers: str, out: str) -> Any:
    b = StreamsBuilder()
    joined = b.table(orders).join(
        b.table(customers),
        lambda order, customer: {"n": order["n"], "name": customer["name"]},
        foreign_key_extractor=lambda order: order["customer"],
    )
    joined.to_stream().to(out)
    return b.build()


def test_foreign_key_join_follows_key_changes_and_right_updates(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Any
) -> None:
    orders = kafka.create_topic(f"fk-orders-{unique}", 3)
    customers = kafka.create_topic(f"fk-customers-{unique}", 2)
    out = kafka.create_topic(f"fk-out-{unique}", 3)
    kafka.produce(
        customers, [(f"c{i}", {"name": f"name-{i}"}) for i in range(10)], partitioner=JAVA
    )
    kafka.produce(
        orders, [(f"o{i}", {"n": i, "customer": f"c{i % 10}"}) for i in range(40)], partitioner=JAVA
    )
    config = streams_config(f"fk-{unique}", bootstrap_servers, tmp_path)
    app = start_app(_topology(orders, customers, out), config)
    try:
        wait_running(app, timeout=60)
        expected = {f"o{i}": {"n": i, "name": f"name-{i % 10}"} for i in range(40)}
        latest = kafka.latest_by_key(out, expected, timeout=60, abort_if=lambda: failed(app))
        assert latest == expected
        # o0..o4 move to c9; c9 gets renamed (fans out to its old and new subscribers);
        # o39 is deleted; c1 is deleted (its subscribers lose their result).
        kafka.produce(
            orders, [(f"o{i}", {"n": i, "customer": "c9"}) for i in range(5)], partitioner=JAVA
        )
        kafka.produce(orders, [("o39", None)], partitioner=JAVA)
        kafka.produce(customers, [("c9", {"name": "renamed"}), ("c1", None)], partitioner=JAVA)
        for i in range(5):
            expected[f"o{i}"] = {"n": i, "name": "renamed"}
        for i in range(9, 39, 10):
            expected[f"o{i}"] = {"n": i, "name": "renamed"}
        expected["o39"] = None
        for i in range(11, 40, 10):
            expected[f"o{i}"] = None
        latest = kafka.latest_by_key(out, expected, timeout=60, abort_if=lambda: failed(app))
        assert latest == expected
        internal = kafka.topics()
        registration = next(
            t for t in internal if t.startswith(f"fk-{unique}") and t.endswith("registration")
        )
        response = next(
            t for t in internal if t.startswith(f"fk-{unique}") and t.endswith("response")
        )
        assert (internal[registration], internal[response]) == (2, 3)
    finally:
        close_all(app)
