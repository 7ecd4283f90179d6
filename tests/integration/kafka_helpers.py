"""Plain confluent-kafka helpers for integration tests: create topics, produce, read back.

Readers use assign() rather than a consumer group, so reading costs no group join.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

# Tests use a short session timeout: a group join then takes ~3 s on Tansu (BROKER-NOTES.md).
FAST_GROUP = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}


class KafkaHelper:
    def __init__(self, bootstrap_servers: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.admin = AdminClient({"bootstrap.servers": bootstrap_servers})
        self._drops_null_values: bool | None = None
        self._accepts_deleted: bool | None = None

    def create_topic(self, name: str, partitions: int = 1) -> str:
        self.create_topics([name], partitions)
        return name

    def create_topics(self, names: list[str], partitions: int = 1) -> None:
        """Create the topics and wait until the broker lists each with all its partitions."""
        futures = self.admin.create_topics(
            [NewTopic(name, partitions, 1) for name in names], operation_timeout=30
        )
        for future in futures.values():
            future.result(timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            topics = self.admin.list_topics(timeout=10).topics
            if all(n in topics and len(topics[n].partitions) == partitions for n in names):
                return
            time.sleep(0.1)
        raise AssertionError(f"topics {names} did not appear within 30 s")

    def partitions(self, topic: str) -> int:
        return len(self.admin.list_topics(topic, timeout=10).topics[topic].partitions)

    def produce(
        self,
        topic: str,
        records: Iterable[tuple[Any, Any]],
        *,
        json_values: bool = True,
        partition: int | None = None,
        partitioner: str | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> int:
        """Send ``(key, value)`` pairs; ``partitioner="murmur2_random"`` partitions as the
        Java client does (librdkafka's own default is CRC32-based); ``headers`` go on every
        record."""
        settings: dict[str, Any] = {"bootstrap.servers": self.bootstrap_servers, "linger.ms": 5}
        if partitioner is not None:
            settings["partitioner"] = partitioner
        producer = Producer(settings)
        count = 0
        for key, value in records:
            key_bytes = key.encode() if isinstance(key, str) else key
            if json_values and not isinstance(value, bytes | None):
                value_bytes = orjson.dumps(value)
            else:
                value_bytes = value
            kwargs: dict[str, Any] = {}
            if partition is not None:
                kwargs["partition"] = partition
            if headers is not None:
                kwargs["headers"] = headers
            producer.produce(topic, value_bytes, key_bytes, **kwargs)
            count += 1
            if count % 10_000 == 0:
                producer.poll(0)
        assert producer.flush(30) == 0
        return count

    def produce_each(self, topic: str, records: Iterable[tuple[str, bytes, int | None]]) -> None:
        """Send ``(key, value, timestamp or None)`` records one batch each. A bounded run
        reads to the end offset, which on Tansu is the last batch's base offset + 1
        (BROKER-NOTES.md): batches of one keep every record inside it."""
        producer = Producer({"bootstrap.servers": self.bootstrap_servers, "linger.ms": 0})
        for key, value, timestamp in records:
            kwargs = {} if timestamp is None else {"timestamp": timestamp}
            producer.produce(topic, value, key.encode(), **kwargs)
            assert producer.flush(10) == 0

    def read(
        self,
        topic: str,
        expected: int,
        *,
        timeout: float = 60.0,
        settle: float = 0.0,
        abort_if: Callable[[], str | None] | None = None,
        read_committed: bool = False,
    ) -> list[Any]:
        """Read from the beginning of every partition until ``expected`` records arrived,
        then keep reading for ``settle`` seconds to catch extras. ``abort_if`` returning a
        message (say, an app went to ERROR) stops the wait early with that message."""
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap_servers,
                "group.id": "kstreamlite-test-reader",
                "enable.auto.commit": False,
                "fetch.queue.backoff.ms": 10,
                "isolation.level": "read_committed" if read_committed else "read_uncommitted",
            }
        )
        count = self.partitions(topic)
        consumer.assign([TopicPartition(topic, p, 0) for p in range(count)])
        out: list[Any] = []
        deadline = time.monotonic() + timeout
        settle_until: float | None = None
        try:
            while time.monotonic() < deadline:
                for msg in _records(consumer):
                    out.append(msg)
                if abort_if is not None and len(out) < expected:
                    reason = abort_if()
                    if reason:
                        raise AssertionError(f"read {len(out)}/{expected} from {topic}: {reason}")
                if len(out) >= expected:
                    if settle_until is None:
                        settle_until = time.monotonic() + settle
                    if time.monotonic() >= settle_until:
                        break
        finally:
            consumer.close()
        return out

    def latest_by_key(
        self,
        topic: str,
        expected: dict[str, Any] | None = None,
        *,
        timeout: float = 30.0,
        settle: float = 1.0,
        abort_if: Callable[[], str | None] | None = None,
        decode: Callable[[bytes], Any] = orjson.loads,
        read_committed: bool = False,
    ) -> dict[str, Any]:
        """A table's view of an update stream: the latest value per key (``decode``d; JSON by
        default), reading every partition from the beginning. With ``expected``, return once
        the latest values have equalled it for ``settle`` seconds; else (or at ``timeout``)
        return what they are then, for the caller to assert on. Never trusts end offsets
        (BROKER-NOTES.md 2)."""
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap_servers,
                "group.id": "kstreamlite-test-reader",
                "enable.auto.commit": False,
                "fetch.queue.backoff.ms": 10,
                "isolation.level": "read_committed" if read_committed else "read_uncommitted",
            }
        )
        consumer.assign([TopicPartition(topic, p, 0) for p in range(self.partitions(topic))])
        latest: dict[str, Any] = {}
        deadline = time.monotonic() + timeout
        stable_since: float | None = None
        try:
            while time.monotonic() < deadline:
                for msg in _records(consumer):
                    key = msg.key().decode() if msg.key() is not None else None
                    value = msg.value()
                    latest[key] = None if value is None else decode(value)
                if expected is None or latest != expected:
                    stable_since = None
                    if abort_if is not None and (reason := abort_if()):
                        raise AssertionError(f"reading {topic}: {reason}")
                    continue
                if stable_since is None:
                    stable_since = time.monotonic()
                if time.monotonic() - stable_since >= settle:
                    break
        finally:
            consumer.close()
        return latest

    def drops_null_values(self) -> bool:
        """Probe (once per run): does the broker drop records whose value is null on fetch,
        so tombstones never reach consumers? BROKER-NOTES.md 1 reports it of Tansu."""
        if self._drops_null_values is None:
            topic = self.create_topic(f"probe-null-values-{uuid.uuid4().hex[:8]}")
            self.produce(topic, [("tombstone", None), ("after", b"x")], json_values=False)
            out = self.read(topic, 1, timeout=15, settle=0.5)
            # Same partition, so the tombstone (offset 0) comes first if it comes at all.
            self._drops_null_values = not out or out[0].key() != b"tombstone"
        return self._drops_null_values

    def accepts_writes_to_deleted_topics(self) -> bool:
        """Probe (once per run): does a producer that knew a topic still get its writes
        acknowledged after the topic is deleted? Tansu 0.6.0 does (the records go nowhere);
        Apache Kafka answers UNKNOWN_TOPIC_OR_PARTITION."""
        if self._accepts_deleted is None:
            topic = self.create_topic(f"probe-deleted-{uuid.uuid4().hex[:8]}")
            producer = Producer(
                {"bootstrap.servers": self.bootstrap_servers, "message.timeout.ms": 5000}
            )
            producer.produce(topic, b"before", partition=0)
            producer.flush(10)
            self.admin.delete_topics([topic])[topic].result(10)
            time.sleep(0.5)
            errors: list[Any] = []
            producer.produce(
                topic, b"after", partition=0, on_delivery=lambda e, m: errors.append(e)
            )
            producer.flush(15)
            self._accepts_deleted = errors == [None]
        return self._accepts_deleted

    def topics(self) -> dict[str, int]:
        """Every topic on the broker with its partition count."""
        metadata = self.admin.list_topics(timeout=10)
        return {name: len(t.partitions) for name, t in metadata.topics.items()}

    def committed(self, group: str, topic: str) -> dict[int, int]:
        """The group's committed offset per partition of ``topic`` (no group join needed)."""
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap_servers,
                "group.id": group,
                "enable.auto.commit": False,
            }
        )
        try:
            wanted = [TopicPartition(topic, p) for p in range(self.partitions(topic))]
            return {tp.partition: tp.offset for tp in consumer.committed(wanted, timeout=10)}
        finally:
            consumer.close()


def wait_until(
    condition: Callable[[], Any],
    timeout: float = 30.0,
    what: str = "condition",
    abort_if: Callable[[], str | None] | None = None,
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail naming ``what`` on timeout,
    or at once when ``abort_if`` returns a message."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        reason = abort_if() if abort_if is not None else None
        if reason:
            raise AssertionError(f"while waiting for {what}: {reason}")
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def murmur2(data: bytes) -> int:
    """Kafka's Utils.murmur2 (the Java client's default partitioner hash), as a signed int."""
    length = len(data)
    m = 0x5BD1E995
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(length // 4):
        k = int.from_bytes(data[i * 4 : i * 4 + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    tail = data[length & ~3 :]
    if len(tail) >= 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if len(tail) >= 1:
        h ^= tail[0]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def default_partition(key: bytes, num_partitions: int) -> int:
    """The partition Kafka's default partitioner picks for a non-null key."""
    return (murmur2(key) & 0x7FFFFFFF) % num_partitions


def free_port() -> int:
    """A loopback port nothing listens on (bound then released at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def headers_dict(msg: Any) -> dict[str, bytes]:
    return dict(msg.headers() or ())


def _records(consumer: Consumer) -> list[Any]:
    """One poll's records; partition EOFs skipped, any other consumer error fails the test."""
    records = []
    for msg in consumer.consume(1000, 0.2):
        error = msg.error()
        if error is None:
            records.append(msg)
        elif error.code() != KafkaError._PARTITION_EOF:
            raise AssertionError(f"consumer error: {error}")
    return records


def json_value(msg: Any) -> Any:
    return orjson.loads(msg.value())


def key_str(msg: Any) -> str | None:
    key = msg.key()
    return None if key is None else key.decode()


def streams_config(
    application_id: str, bootstrap_servers: str, state_dir: Any, **overrides: Any
) -> Any:
    """The StreamsConfig integration tests use: fast commits, fast group joins."""
    from kstreamlite import StreamsConfig

    settings: dict[str, Any] = {
        "application_id": application_id,
        "bootstrap_servers": bootstrap_servers,
        "commit_interval_ms": 200,
        "consumer_config": dict(FAST_GROUP),
        "state_dir": str(state_dir),
    }
    settings.update(overrides)
    return StreamsConfig(**settings)


def failed(*apps: Any) -> str | None:
    """A message naming the first app in ERROR, else None (for ``abort_if``/``wait_until``)."""
    from kstreamlite import State

    for app in apps:
        if app is not None and app.state is State.ERROR:
            return f"app {app.config.application_id} failed: {app.exception!r}"
    return None


def close_all(*apps: Any) -> None:
    """Close every app that was created (for finally blocks); tests that care about the
    result of close() assert on it themselves."""
    for app in apps:
        if app is not None:
            app.close(30_000)


def start_app(topology: Any, config: Any) -> Any:
    """A KafkaStreams instance, started."""
    from kstreamlite import KafkaStreams

    app = KafkaStreams(topology, config)
    app.start()
    return app


def wait_running(app: Any, timeout: float = 30) -> None:
    """Wait for RUNNING; fail at once, with its error, if the app fails."""
    from kstreamlite import State

    wait_until(
        lambda: app.state is State.RUNNING,
        timeout=timeout,
        what=f"{app.config.application_id} RUNNING",
        abort_if=lambda: failed(app),
    )
