"""Sending an example's generated records to Kafka: JSON values keyed by one of their
fields, partitioned where the Java client would put each key (the topologies' joins and
stores rely on it), waiting while the local queue is full rather than dropping."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from confluent_kafka import Producer


def producer(bootstrap_servers: str, **settings: Any) -> Producer:
    return Producer(
        {
            "bootstrap.servers": bootstrap_servers,
            "partitioner": "murmur2_random",  # where the Java client would put each key
            "linger.ms": 5,
            **settings,
        }
    )


def send(p: Producer, topic: str, record: Mapping[str, Any], key_field: str) -> None:
    """Queue one record keyed by ``record[key_field]``."""
    while True:
        try:
            p.produce(topic, orjson.dumps(record), record[key_field].encode())
            return
        except BufferError:  # the local queue is full: let deliveries drain it
            p.poll(0.1)


def produce(
    p: Producer,
    topic: str,
    rows: Iterable[Mapping[str, Any]],
    key_field: str,
    *,
    what: str = "records",
    timeout: float = 30,
) -> int:
    """Send ``rows`` in order; return once the broker has them all."""
    count = 0
    for row in rows:
        send(p, topic, row, key_field)
        count += 1
        if count % 10_000 == 0:
            p.poll(0)
    left = p.flush(timeout)
    if left:
        raise TimeoutError(f"{left} {what} not delivered within {timeout:.0f} s")
    return count
