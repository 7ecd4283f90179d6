"""Broker probes for the crash test: what the broker must do for exactly-once to be provable
on it, found by trying it (BROKER-NOTES.md: skip by behaviour, never by the broker's name)."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from ..integration.kafka_helpers import KafkaHelper


def hides_aborted_records(bootstrap_servers: str, timeout: float = 20.0) -> bool:
    """Does a read_committed consumer skip records of an aborted transaction?

    A transactional producer writes one record and aborts, then writes another and commits;
    reading from offset 0 with read_committed must return only the committed one. Without
    this, a killed instance's aborted output is visible and exactly-once cannot hold (Tansu
    0.6.0 returns the aborted record too)."""
    topic = f"probe-aborted-{uuid.uuid4().hex[:8]}"
    helper = KafkaHelper(bootstrap_servers)
    helper.create_topic(topic)
    producer = Producer(
        {
            "bootstrap.servers": bootstrap_servers,
            "transactional.id": f"probe-{uuid.uuid4().hex[:8]}",
            "linger.ms": 0,
        }
    )
    producer.init_transactions(timeout)
    producer.begin_transaction()
    producer.produce(topic, b"aborted", b"k", partition=0)
    producer.flush(timeout)
    producer.abort_transaction(timeout)
    producer.begin_transaction()
    producer.produce(topic, b"committed", b"k", partition=0)
    producer.commit_transaction(timeout)

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"probe-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
        }
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    seen: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and b"committed" not in seen:
            for msg in consumer.consume(100, 0.2):
                if msg.error() is None:
                    seen.append(msg.value())
                elif msg.error().code() != KafkaError._PARTITION_EOF:
                    raise RuntimeError(f"probe consumer error: {msg.error()}")
    finally:
        consumer.close()
        helper.admin.delete_topics([topic])
    if b"committed" not in seen:
        raise RuntimeError(f"probe: the committed record never arrived within {timeout:.0f} s")
    return seen == [b"committed"]


def keeps_commit_metadata(bootstrap_servers: str, timeout: float = 20.0) -> bool:
    """Does the broker return the metadata string committed with an offset?

    kstreamlite commits each input partition's watermark state with its offset, so a task
    that moves or restarts resumes with it. Tansu 0.6.0 returns no metadata: a restarted
    upstream task that has no new input then never announces a watermark again, and the
    windows downstream of it never close."""
    topic = f"probe-metadata-{uuid.uuid4().hex[:8]}"
    helper = KafkaHelper(bootstrap_servers)
    helper.create_topic(topic)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"probe-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, 0, "probe")], asynchronous=False)
        (committed,) = consumer.committed([TopicPartition(topic, 0)], timeout=timeout)
        return committed.metadata == "probe"
    finally:
        consumer.close()
        helper.admin.delete_topics([topic])
