"""TopologyTestDriver: runs a Topology's real tasks on in-memory topics, no broker needed.

Records piped in are serialized with the input topic's serdes and read back by the
source nodes exactly as the runtime does; records sent to a topic the topology itself
reads (repartition topics) are fed back in at once, as Kafka Streams' driver does.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from collections import defaultdict, deque
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from .._time import to_millis
from ..config import StreamsConfig
from ..errors import TopologyError
from ..handlers import ErrorHandling
from ..metrics import StreamsMetrics
from ..runtime.global_tables import GlobalTables
from ..runtime.nodes import Collector
from ..runtime.state_manager import make_state_manager
from ..runtime.task import StreamTask
from ..serdes import Serde
from ..state.kv import CacheBudget, KeyValueStore
from ..state.windowed import SessionStore, WindowStore
from ..timing.clock import MARK_VALUE
from ..topology import Topology
from .topics import StoredRecord, TestInputTopic, TestOutputTopic

DEFAULT_APPLICATION_ID = "topology-test-driver"


class _Message:
    """The slice of confluent_kafka.Message a StreamTask reads."""

    __slots__ = ("_headers", "_key", "_offset", "_timestamp", "_topic", "_value")

    def __init__(self, topic: str, offset: int, record: StoredRecord) -> None:
        self._topic = topic
        self._offset = offset
        self._timestamp = record.timestamp
        self._key = record.key
        self._value = record.value
        self._headers = list(record.headers) if record.headers else None

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return (1, self._timestamp)

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def headers(self) -> Any:
        return self._headers

    def error(self) -> None:
        return None


class _MemoryCollector(Collector):
    def __init__(self, driver: TopologyTestDriver) -> None:
        self._driver = driver
        self.extra_sent = {}

    def produce(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None,
        partition: int,
        callback: Any,
        on_delivery: Any,
        timestamp: int,
        headers: Any,
    ) -> None:
        self._driver._append(topic, StoredRecord(key, value, timestamp, tuple(headers or ())))

    def partition_count(self, topic: str) -> int:
        return 1


class TopologyTestDriver:
    """Drive a topology record by record and read what it produced, in production order."""

    def __init__(
        self,
        topology: Topology,
        config: StreamsConfig | dict[str, Any] | None = None,
        initial_wall_clock_time: int | timedelta = 0,
    ) -> None:
        if config is None:
            config = StreamsConfig(application_id=DEFAULT_APPLICATION_ID)
        elif isinstance(config, dict):
            config = StreamsConfig(**{"application_id": DEFAULT_APPLICATION_ID, **config})
        self.config = config
        self._wall_clock_ms = to_millis(initial_wall_clock_time, "initial_wall_clock_time")
        self._logs: dict[str, list[StoredRecord]] = defaultdict(list)
        self._unread: dict[str, deque[StoredRecord]] = defaultdict(deque)
        self._pending: deque[tuple[StreamTask, _Message]] = deque()
        self._produced: set[str] = set()
        self._processing = False
        self.metrics = StreamsMetrics(config.application_id)
        collector = _MemoryCollector(self)
        self._errors = ErrorHandling(config, collector, self.metrics)
        prefix = config.application_id + "-"
        self._state_dir = tempfile.mkdtemp(prefix="kstreamlite-driver-")
        budget = CacheBudget(config.cache_max_bytes)
        make_state = functools.partial(
            make_state_manager,
            state_dir=self._state_dir,
            config=config,
            budget=budget,
            collector=collector,
        )
        self._tasks: list[StreamTask] = []
        self._task_for_topic: dict[str, StreamTask] = {}
        self._global: GlobalTables | None = None
        try:
            if topology.global_tables:
                self._global = GlobalTables(
                    topology,
                    state_dir=self._state_dir,
                    config=config,
                    errors=self._errors,
                    clock=self._now,
                )
            for sub in topology.subtopologies():
                task = StreamTask(
                    f"{sub.id}_0",
                    sub,
                    0,
                    topology,
                    application_id=config.application_id,
                    collector=collector,
                    errors=self._errors,
                    clock=self._now,
                    topic_for=lambda t: prefix + t,
                    default_key_serde=config.default_key_serde,
                    default_value_serde=config.default_value_serde,
                    make_state=make_state,
                    announce_interval_ms=0,
                    global_stores=self._global.stores if self._global else None,
                )
                self._tasks.append(task)
                for topic in task.sources:
                    self._task_for_topic[topic] = task
        except BaseException:
            for task in self._tasks:
                task.close()
            if self._global is not None:
                self._global.close()
            shutil.rmtree(self._state_dir, ignore_errors=True)
            raise
        self._closed = False
        self._ended = False

    # ---- topics ----

    def create_input_topic(
        self,
        topic: str,
        key_serde: Serde[Any] | None = None,
        value_serde: Serde[Any] | None = None,
        *,
        start_timestamp: int | None = None,
        auto_advance: int | timedelta = 0,
    ) -> TestInputTopic:
        global_topics = self._global.topics if self._global else {}
        if topic not in self._task_for_topic and topic not in global_topics:
            raise TopologyError(
                f"topic {topic!r} is not read by this topology; its source topics are "
                f"{sorted([*self._task_for_topic, *global_topics])}"
            )
        return TestInputTopic(
            self,
            topic,
            key_serde or self.config.default_key_serde,
            value_serde or self.config.default_value_serde,
            self._wall_clock_ms if start_timestamp is None else start_timestamp,
            to_millis(auto_advance, "auto_advance"),
        )

    def create_output_topic(
        self,
        topic: str,
        key_serde: Serde[Any] | None = None,
        value_serde: Serde[Any] | None = None,
    ) -> TestOutputTopic:
        return TestOutputTopic(
            self,
            topic,
            key_serde or self.config.default_key_serde,
            value_serde or self.config.default_value_serde,
        )

    def produced_topic_names(self) -> set[str]:
        """Every topic the topology wrote to, internal ones included."""
        return set(self._produced)

    # ---- time ----

    def advance_wall_clock_time(self, duration: int | timedelta) -> None:
        """Move the driver's clock and fire the wall-clock punctuators that are due."""
        advance = to_millis(duration, "advance_wall_clock_time")
        if advance < 0:
            raise ValueError("advance_wall_clock_time: the duration must not be negative")
        self._wall_clock_ms += advance
        for task in self._tasks:
            self._run(task.tick)  # idleness: the watermark may follow the wall clock
            self._run(task.maybe_punctuate)

    def flush_to_end(self) -> None:
        """Emit what a bounded run emits at its end: every task's watermark jumps to the end
        of time, so all windows close, suppressed results and unmatched left/outer join
        results go out. Upstream tasks go first; a downstream task flushes again after
        what they sent, as often as there are sub-topologies. Time has then ended for this
        driver: piping more records is an error, as a bounded run has stopped by then."""
        self._ended = True
        for _ in self._tasks:
            for task in self._tasks:
                self._run(task.flush_to_end)

    # ---- stores ----

    def get_key_value_store(self, name: str) -> KeyValueStore:
        """The store itself (reads and writes), as Kafka Streams' driver gives it."""
        return self._store(name, KeyValueStore, "key-value")

    def get_window_store(self, name: str) -> WindowStore:
        """A window store (windowed aggregations of TimeWindows/SlidingWindows, Processor API)."""
        return self._store(name, WindowStore, "window")

    def get_session_store(self, name: str) -> SessionStore:
        """A session store (session-windowed aggregations, Processor API)."""
        return self._store(name, SessionStore, "session")

    def _store(self, name: str, kind: type[Any], what: str) -> Any:
        holders = [t.state.stores for t in self._tasks if t.state is not None]
        if self._global is not None:
            holders.append(self._global.stores)
        for stores in holders:
            if name in stores:
                store = stores[name]
                if not isinstance(store, kind):
                    raise TopologyError(
                        f"state store {name!r} is a {type(store).__name__}, not a {what} store"
                    )
                return store
        known = sorted(s for stores in holders for s in stores)
        raise TopologyError(f"no state store named {name!r}; the topology has {known}")

    def _now(self) -> int:
        return self._wall_clock_ms

    # ---- plumbing used by the topic objects and the collector ----

    def _pipe(self, topic: str, record: StoredRecord) -> None:
        if self._closed:
            raise TopologyError("the TopologyTestDriver is closed")
        if self._ended:
            raise TopologyError(
                f"cannot pipe into {topic!r}: flush_to_end() ended this driver's time (every "
                "window is closed for good); use a new TopologyTestDriver for more input"
            )
        offset = len(self._logs[topic])
        self._logs[topic].append(record)
        if self._global is not None and topic in self._global.topics:
            self._global.apply([_Message(topic, offset, record)])
            return
        self._pending.append((self._task_for_topic[topic], _Message(topic, offset, record)))
        self._drain()

    def _append(self, topic: str, record: StoredRecord) -> None:
        offset = len(self._logs[topic])
        task = self._task_for_topic.get(topic)
        # Watermark announcements reach the downstream task but stay out of the topic's
        # log, so tests see only the records the topology wrote.
        if not (record.key is None and record.value == MARK_VALUE):
            self._logs[topic].append(record)
            self._produced.add(topic)
            self._unread[topic].append(record)
        if task is not None:
            self._pending.append((task, _Message(topic, offset, record)))

    def _drain(self) -> None:
        """Process every pending record; after each, punctuate and commit like the runtime."""
        if self._processing:
            return
        self._processing = True
        try:
            while True:
                while self._pending:
                    task, msg = self._pending.popleft()
                    task.process({(msg.topic(), 0): [msg]})
                    task.tick()
                    task.maybe_punctuate()
                for each in self._tasks:  # commit: flushing caches may emit records
                    each.flush_state()
                    each.tick()
                if not self._pending:
                    break
        finally:
            self._processing = False
            self._pending.clear()

    def _run(self, action: Callable[[], None]) -> None:
        """Run a punctuation or similar outside record processing, then drain what it sent."""
        if self._closed:
            raise TopologyError("the TopologyTestDriver is closed")
        self._processing = True
        try:
            action()
        finally:
            self._processing = False
        self._drain()

    def _unread_queue(self, topic: str) -> deque[StoredRecord]:
        return self._unread[topic]

    # ---- lifecycle ----

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            for task in self._tasks:
                task.close()
            if self._global is not None:
                self._global.close()
        finally:
            shutil.rmtree(self._state_dir, ignore_errors=True)

    def __enter__(self) -> TopologyTestDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
