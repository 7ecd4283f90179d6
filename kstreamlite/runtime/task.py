"""StreamTask: runs one (sub-topology, partition)'s records through its processors.

Never talks to Kafka: records arrive as message-like objects (``topic() partition()
offset() timestamp() key() value() headers()``, which confluent-kafka's Message has),
and output leaves through a Collector. KafkaStreams and TopologyTestDriver both run
exactly this code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any, Protocol

from ..errors import ProcessingError, TopologyError
from ..handlers import ErrorContext, ErrorHandling, LateRecord, failing_node_name
from ..processor._node import NodeContext, NodeProcessor
from ..processor.api import PunctuationType
from ..serdes import Serde
from ..state.builders import KeyValueStoreBuilder
from ..timing.clock import END_OF_TIME, HEADER, MARK_VALUE, NO_WATERMARK, TaskClock
from ..timing.watermarks import WatermarkStrategy
from ..topology import ProcessorDef, SinkDef, SourceDef, SubTopology, Topology
from .fusion import fuse
from .nodes import Collector, SinkNode, SourceNode
from .state_manager import StateManager


class Message(Protocol):
    def topic(self) -> str: ...
    def partition(self) -> int: ...
    def offset(self) -> int: ...
    def timestamp(self) -> tuple[int, int]: ...
    def key(self) -> bytes | None: ...
    def value(self) -> bytes | None: ...
    def headers(self) -> Any: ...


TopicPartition = tuple[str, int]
MakeState = Callable[["StreamTask", list[KeyValueStoreBuilder]], "StateManager"]
_by_timestamp = itemgetter(0)
MONOTONOUS = WatermarkStrategy.monotonous()
_COMPACT_AFTER = 4096


def _always(tp: TopicPartition) -> bool:
    return True


def _is_control(msg: Message) -> bool:
    return msg.key() is None and msg.value() == MARK_VALUE


def _negative_timestamp(ts: int, topic: str, extracted: bool) -> str:
    source = "the timestamp_extractor returned" if extracted else "the record carries"
    return (
        f"{source} timestamp {ts} for a record of {topic!r}; event time must be >= 0 "
        "(fix the extractor or the producer, or set processing_exception_handler to "
        "'log_and_continue' to skip such records)"
    )


class StreamTask:
    def __init__(
        self,
        task_id: str,
        subtopology: SubTopology,
        partition: int,
        topology: Topology,
        *,
        application_id: str,
        collector: Collector,
        errors: ErrorHandling,
        clock: Callable[[], int],
        topic_for: Callable[[str], str],
        default_key_serde: Serde[Any],
        default_value_serde: Serde[Any],
        make_state: MakeState | None = None,
        announce_interval_ms: int = 100,
        global_stores: Mapping[str, Any] | None = None,
    ) -> None:
        self.id = task_id
        self.default_key_serde = default_key_serde
        self.default_value_serde = default_value_serde
        self.global_stores: Mapping[str, Any] = global_stores or {}
        self.subtopology = subtopology
        self.partition = partition
        self.application_id = application_id
        self.collector = collector
        self.errors = errors
        self.clock = clock
        self.stream_time = -1
        self.current: Message | None = None
        self.commit_requested = False
        self.offsets: dict[TopicPartition, int] = {}  # next offset to commit, per input
        self.consumed: dict[str, int] = {}  # records read per topic since last drain
        self.undeserializable = 0  # of those, records that never reached the topology
        self.punctuated: dict[str, int] = {}  # punctuator calls by kind since last drain
        self.nodes: dict[str, NodeProcessor] = {}
        self.sources: dict[str, SourceNode] = {}  # actual topic name -> source node
        self.punctuations: list[Punctuation] = []
        self.clock_state = TaskClock()
        # Prepared records per input partition, waiting for drain(): [entries, next index].
        self._queues: dict[TopicPartition, list[Any]] = {}
        self.watermark_listeners: list[Callable[[int], None]] = []
        # Called by flush_to_end after the watermark listeners saw the end of time: what
        # waits on something other than the watermark (time-limit suppression) lets go.
        self.end_listeners: list[Callable[[], None]] = []
        self._notified_watermark = NO_WATERMARK
        self._announce: list[tuple[str, int]] = []  # repartition topics this task writes
        self._announce_interval = announce_interval_ms
        self._announces_watermarks = _uses_event_time(topology)  # else only a bounded run's end
        self._announced_at = -(1 << 62)
        self._announced: bytes | None = None
        self.state: StateManager | None = None
        builders = _store_builders(topology, subtopology)
        if builders:
            if make_state is None:
                raise TopologyError(f"task {task_id} has state stores but no state manager")
            self.state = make_state(self, builders)
        try:
            self._build(topology, topic_for, default_key_serde, default_value_serde)
        except BaseException:
            if self.state is not None:
                self.state.close()
            raise

    # ---- construction ----

    def _build(
        self,
        topology: Topology,
        topic_for: Callable[[str], str],
        key_serde: Serde[Any],
        value_serde: Serde[Any],
    ) -> None:
        definitions = [topology.node(name) for name in self.subtopology.nodes]
        for d in definitions:
            node: NodeProcessor
            if isinstance(d, SourceDef):
                actual = [topic_for(t) if d.internal else t for t in d.topics]
                node = SourceNode(
                    actual,
                    (d.key_serde or key_serde).resolve(key_serde),
                    (d.value_serde or value_serde).resolve(value_serde),
                    d.timestamp_extractor,
                )
                strategy = d.watermark or MONOTONOUS
                for source_topic in actual:
                    self.sources[source_topic] = node
                    self._queues[(source_topic, self.partition)] = [[], 0]
                    self.clock_state.add(
                        (source_topic, self.partition),
                        strategy,
                        d.internal,
                        self.clock(),
                        counts=not d.table,
                    )
            elif isinstance(d, SinkDef):
                sink_topic = d.topic
                if sink_topic is not None and d.internal:
                    sink_topic = topic_for(sink_topic)
                if sink_topic is not None and d.internal:
                    self._announce.append((sink_topic, self.collector.partition_count(sink_topic)))
                node = SinkNode(
                    sink_topic,
                    d.topic_extractor,
                    (d.key_serde or key_serde).resolve(key_serde),
                    (d.value_serde or value_serde).resolve(value_serde),
                    d.partitioner,
                    _identity,
                )
            elif isinstance(d, ProcessorDef) and d.factory is not None:
                node = d.factory()
                if not isinstance(node, NodeProcessor):
                    raise TopologyError(
                        f"node {d.name!r}: its factory returned {type(node).__name__}, "
                        "not a NodeProcessor"
                    )
            else:  # pragma: no cover - Topology only creates the three kinds
                raise TopologyError(f"node {d.name!r} has no processor")
            self.nodes[d.name] = node
        for d in definitions:
            children = {c: self.nodes[c].process for c in d.children}
            stores = d.stores if isinstance(d, ProcessorDef) else ()
            self.nodes[d.name].init(NodeContext(self, d.name, children, stores))
        self._tasks_in_subtopology = max(
            (self.collector.partition_count(t) for t in self.sources), default=1
        )
        for d in definitions:
            if isinstance(d, SourceDef) and len(d.children) == 1:
                chain = fuse(d.children[0], self.nodes, _children_of(topology), self.id)
                if chain is not None:
                    self.nodes[d.name].down = chain

    @property
    def single_input(self) -> bool:
        """One input partition: records can be processed as they come, no merging."""
        return len(self.sources) == 1

    # ---- processing ----

    def process(self, batches: Mapping[TopicPartition, Sequence[Message]]) -> None:
        """Process one poll's records of this task, in timestamp order across its partitions,
        all of them: every input is complete (the test driver, a single input)."""
        self.offer(batches, _always)

    def _process_partition(self, topic: str, partition: int, messages: Sequence[Message]) -> None:
        tp = (topic, partition)
        if self.clock_state.partitions[tp].internal and any(map(_is_control, messages)):
            # Announcements apply where they stand: records an upstream task sent before
            # announcing a watermark are judged against the watermark before it.
            run: list[Message] = []
            for msg in messages:
                if _is_control(msg):
                    if run:
                        self._process_run(topic, partition, run)
                        run = []
                    self._apply_control(tp, msg)
                else:
                    run.append(msg)
            if run:
                self._process_run(topic, partition, run)
            return
        self._process_run(topic, partition, messages)

    def _apply_control(self, tp: TopicPartition, msg: Message) -> None:
        clock = self.clock_state
        clock.control(tp, msg.headers(), msg.offset())
        clock.recompute(self.clock())
        self.offsets[tp] = msg.offset() + 1
        if clock.watermark > self._notified_watermark:
            self._notify_watermark()

    def _process_run(self, topic: str, partition: int, messages: Sequence[Message]) -> None:
        # Hot path: every record of every stateless pipeline passes through this loop.
        source = self.sources[topic]
        kde, vde, down, extract = source.kde, source.vde, source.down, source.extract
        tp = (topic, partition)
        clock = self.clock_state
        part = clock.partitions[tp]
        fast = clock.single_direct is part
        delay = part.delay
        part_max = part.max_ts
        stream_time = self.stream_time
        for msg in messages:
            self.current = msg
            kb = msg.key()
            vb = msg.value()
            try:
                key = None if kb is None else kde(kb)
                value = None if vb is None else vde(vb)
            except Exception as exc:
                self._deserialization_failed(msg, exc)
                continue
            try:
                ts = msg.timestamp()[1]
                if extract is not None:
                    ts = extract(key, value, ts)
                if ts < 0:
                    raise ProcessingError(_negative_timestamp(ts, topic, extract is not None))
                if ts > part_max:
                    part_max = part.max_ts = ts
                    if ts > stream_time:
                        stream_time = self.stream_time = ts
                    if fast:
                        clock.max_event = ts
                        if ts - delay > clock.watermark:
                            clock.watermark = ts - delay
                    elif not part.internal:
                        clock.max_event = max(clock.max_event, ts)
                        clock.recompute(self.clock())
                down(key, value, ts, msg.headers())
            except Exception as exc:
                self._processing_failed(msg, exc)
        if messages:
            self.offsets[tp] = messages[-1].offset() + 1
            self.consumed[topic] = self.consumed.get(topic, 0) + len(messages)
            clock.touched(tp, self.clock())
        if clock.watermark > self._notified_watermark:
            self._notify_watermark()

    # ---- several input partitions: Kafka Streams' PartitionGroup ----

    def buffer(self, batches: Mapping[TopicPartition, Sequence[Message]]) -> None:
        """Queue records per input partition until ``drain`` may choose among them."""
        queues = self._queues
        for tp, messages in batches.items():
            prepared = self._prepare(tp, messages)
            self.consumed[tp[0]] = self.consumed.get(tp[0], 0) + len(messages)
            queue = queues[tp]
            if queue[1] >= len(queue[0]):
                queue[0], queue[1] = prepared, 0
            else:
                queue[0].extend(prepared)
        self.current = None

    def offer(
        self,
        batches: Mapping[TopicPartition, Sequence[Message]],
        may_skip: Callable[[TopicPartition], bool],
    ) -> bool:
        """``buffer`` then ``drain``; records of one partition that need no merging (nothing
        queued, every other input may be skipped) take the single-partition path instead."""
        if len(batches) == 1 and not self.buffered:
            (((topic, partition), messages),) = batches.items()
            tp = (topic, partition)
            if all(may_skip(other) for other in self._queues if other != tp):
                self._process_partition(topic, partition, messages)
                self.current = None
                return True
        self.buffer(batches)
        return self.drain(may_skip)

    @property
    def buffered(self) -> int:
        return sum(len(entries) - i for entries, i in self._queues.values())

    def buffered_in(self, tp: TopicPartition) -> int:
        entries, i = self._queues[tp]
        return len(entries) - i

    def drain(self, may_skip: Callable[[TopicPartition], bool]) -> bool:
        """Process queued records, always the head with the lowest timestamp, for as long as
        every input partition has one queued or ``may_skip`` says it may be left out (it is
        caught up with the broker, or has been waited for long enough: KIP-695). Choosing
        without a partition that still has records on the broker would let newer records
        overtake them. Returns whether nothing is left queued."""
        queues = self._queues
        clock = self.clock_state
        skippable: dict[TopicPartition, bool] = {}
        touched: set[TopicPartition] = set()
        try:
            while True:
                best: list[Any] | None = None
                best_tp: TopicPartition | None = None
                best_ts = bound = END_OF_TIME
                empty: list[TopicPartition] = []
                for tp, queue in queues.items():
                    entries, i = queue
                    if i < len(entries):
                        ts = entries[i][0]
                        if best is None or ts < best_ts:
                            bound = best_ts
                            best, best_ts, best_tp = queue, ts, tp
                        elif ts < bound:
                            bound = ts
                    else:
                        empty.append(tp)
                if best is None or best_tp is None:
                    return True
                for tp in empty:
                    allowed = skippable.get(tp)
                    if allowed is None:
                        allowed = skippable[tp] = may_skip(tp)
                    if not allowed:
                        return False
                touched.add(best_tp)
                self._drain_run(best_tp, best, bound)
        finally:
            self.current = None
            for queue in queues.values():
                if queue[1] >= len(queue[0]):
                    queue[0], queue[1] = [], 0
                elif queue[1] > _COMPACT_AFTER:
                    del queue[0][: queue[1]]
                    queue[1] = 0
            if touched:
                now = self.clock()
                for tp in touched:
                    clock.touched(tp, now)
            if clock.watermark > self._notified_watermark:
                self._notify_watermark()

    def _drain_run(self, tp: TopicPartition, queue: list[Any], bound: int) -> None:
        """Process ``queue``'s head records while they are not later than ``bound``, the
        lowest head of the other queues: one partition's run without re-choosing per record."""
        entries, i = queue
        end = len(entries)
        clock = self.clock_state
        offsets = self.offsets
        try:
            while i < end:
                ts, key, value, msg, down, part = entries[i]
                if ts > bound:
                    break
                i += 1
                if down is None:  # a watermark announcement, in its place among the records
                    queue[1] = i
                    self._apply_control(tp, msg)
                    continue
                self.current = msg
                offsets[tp] = msg.offset() + 1
                try:
                    if ts > part.max_ts:
                        part.max_ts = ts
                        if ts > self.stream_time:
                            self.stream_time = ts
                        if not part.internal:
                            clock.max_event = max(clock.max_event, ts)
                            clock.recompute(self.clock())
                    down(key, value, ts, msg.headers())
                except Exception as exc:
                    self._processing_failed(msg, exc)
        finally:
            queue[1] = i

    def _prepare(self, tp: TopicPartition, messages: Iterable[Message]) -> list[tuple[Any, ...]]:
        topic = tp[0]
        source = self.sources[topic]
        part = self.clock_state.partitions[tp]
        kde, vde, down, extract = source.kde, source.vde, source.down, source.extract
        out: list[tuple[Any, ...]] = []
        internal = part.internal
        for msg in messages:
            if internal and _is_control(msg):
                out.append((max(self.clock_state.watermark, 0), None, None, msg, None, part))
                continue
            self.current = msg
            kb, vb = msg.key(), msg.value()
            try:
                key = None if kb is None else kde(kb)
                value = None if vb is None else vde(vb)
            except Exception as exc:
                self._deserialization_failed(msg, exc)
                continue
            ts = msg.timestamp()[1]
            try:
                if extract is not None:
                    ts = extract(key, value, ts)
                if ts < 0:
                    raise ProcessingError(_negative_timestamp(ts, topic, extract is not None))
            except Exception as exc:
                self._processing_failed(msg, exc)
                continue
            out.append((ts, key, value, msg, down, part))
        return out

    # ---- watermarks ----

    @property
    def watermark(self) -> int:
        return self.clock_state.watermark

    def _notify_watermark(self, mark: int | None = None) -> None:
        if mark is None:
            mark = self.clock_state.watermark
        self._notified_watermark = mark
        self.current = None
        for listener in self.watermark_listeners:
            try:
                listener(mark)
            except Exception as exc:
                self.outside_record_failed(exc, None, mark)

    def tick(self, force_announce: bool = False) -> None:
        """Between batches: idleness, watermark announcements downstream, listeners."""
        clock = self.clock_state
        now = self.clock()
        if clock.uses_idleness:
            clock.recompute(now)
        if clock.watermark > self._notified_watermark:
            self._notify_watermark()
        if (
            self._announce
            and self._announces_watermarks
            and (force_announce or now - self._announced_at >= self._announce_interval)
        ):
            self._announce_watermark(now)

    def flush_to_end(self) -> None:
        """What a bounded run does at its end: process what is queued, then tell every
        watermark listener that time has ended (all windows close, suppressed results and
        unmatched join results go out), then the end listeners. The task's own watermark,
        which is committed, stays what the records made it: a later run goes on from it."""
        self.drain(_always)
        self._notify_watermark(END_OF_TIME)
        for end_listener in self.end_listeners:
            try:
                end_listener()
            except Exception as exc:
                self.outside_record_failed(exc, None, END_OF_TIME)

    def announce_end(self) -> None:
        """Tell every downstream task that this task has ended its bounded run (after the
        records it wrote, so they are all before the mark)."""
        if not self._announce:
            return
        now = self.clock()
        header = self.clock_state.announcement(self.id, self._tasks_in_subtopology, now, end=True)
        self._send_marks(header, now)

    def _announce_watermark(self, now: int) -> None:
        header = self.clock_state.announcement(self.id, self._tasks_in_subtopology, now)
        if header == self._announced and (
            # Unchanged: repeat now and then (a new downstream instance needs to hear it),
            # never in the test driver, where every record is processed at once.
            not self._announce_interval or now - self._announced_at < 10 * self._announce_interval
        ):
            return
        if header.endswith(b"/-1"):
            return  # nothing to say yet: no watermark, not idle
        self._send_marks(header, now)

    def _send_marks(self, header: bytes, now: int) -> None:
        """One control record with ``header`` on every partition of every repartition
        topic this task writes."""
        self._announced, self._announced_at = header, now
        ts = max(self.clock_state.watermark, 0)
        headers = [(HEADER, header)]
        for topic, partitions in self._announce:
            for p in range(partitions):
                self.collector.send(topic, None, MARK_VALUE, ts, headers, p)

    # ---- errors ----

    def _deserialization_failed(self, msg: Message, exc: BaseException) -> None:
        self.undeserializable += 1
        self.errors.handle(exc, self._error_context("deserialization", msg, None))

    def _processing_failed(self, msg: Message, exc: BaseException) -> None:
        if getattr(exc, "handled", False):
            raise exc  # a handler already decided to fail; don't handle it twice
        node = failing_node_name(exc)
        self.errors.handle(exc, self._error_context("processing", msg, node))

    def _error_context(self, stage: str, msg: Message, node: str | None) -> ErrorContext:
        return ErrorContext.of_message(stage, msg, node, self.id)

    # ---- punctuation ----

    def schedule(
        self, interval_ms: int, kind: PunctuationType, callback: Callable[[int], Any], node: str
    ) -> Punctuation:
        if interval_ms < 1:
            raise ValueError(f"punctuation interval must be at least 1 ms, got {interval_ms}")
        # As Kafka Streams: stream time aligned to 0 (fires with the first record), wall
        # clock aligned to now (fires once the interval has passed).
        first = self.clock() + interval_ms if kind is PunctuationType.WALL_CLOCK_TIME else 0
        punctuation = Punctuation(interval_ms, kind, callback, node, first)
        self.punctuations.append(punctuation)
        return punctuation

    def maybe_punctuate(self) -> None:
        """Kafka Streams' rules: a punctuator fires when its time reaches the next scheduled
        point, once however far time jumped, and the next point stays on the grid."""
        if not self.punctuations:
            return
        for p in list(self.punctuations):
            if p.cancelled:
                self.punctuations.remove(p)
                continue
            now = self.stream_time if p.kind is PunctuationType.STREAM_TIME else self.clock()
            if now < 0 or now < p.next_time:
                continue
            p.next_time = now - (now - p.next_time) % p.interval + p.interval
            kind = p.kind.name.lower()
            self.punctuated[kind] = self.punctuated.get(kind, 0) + 1
            self.current = None
            try:
                p.callback(now)
            except Exception as exc:
                self.outside_record_failed(exc, p.node, now)

    def outside_record_failed(self, exc: BaseException, node: str | None, timestamp: int) -> None:
        """An error raised with no input record at hand (punctuators, cache flushes)."""
        if getattr(exc, "handled", False):
            raise exc
        self.errors.handle(
            exc,
            ErrorContext(
                stage="processing",
                topic=None,
                partition=self.partition,
                offset=None,
                timestamp=timestamp,
                key=None,
                value=None,
                headers=None,
                processor=failing_node_name(exc) or node,
                task_id=self.id,
            ),
        )

    # ---- state ----

    def flush_state(self) -> None:
        """Write cached state (which may forward records downstream); before a commit."""
        if self.state is not None:
            self.current = None
            self.state.flush()

    def checkpoint(self, end_offset: Callable[[str, int], int]) -> None:
        if self.state is not None:
            self.state.write_checkpoint(end_offset)

    # ---- bookkeeping ----

    def record_metadata(self) -> tuple[str, int, int] | None:
        msg = self.current
        if msg is None:
            return None
        return (msg.topic(), msg.partition(), msg.offset())

    def late(self, processor: str, key: Any, value: Any, timestamp: int, window: Any) -> None:
        """A record whose window had closed: counted, and handed to late_record_handler."""
        topic, partition, offset = self.record_metadata() or (None, None, None)
        self.errors.late(
            LateRecord(
                key,
                value,
                timestamp,
                self.clock_state.watermark,
                window,
                topic,
                partition,
                offset,
                processor,
                self.id,
            )
        )

    def drain_consumed(self) -> dict[str, int]:
        counts, self.consumed = self.consumed, {}
        return counts

    def drain_processed(self, consumed: dict[str, int]) -> int:
        """Of ``consumed`` (just drained), the records the topology saw."""
        processed = sum(consumed.values()) - self.undeserializable
        self.undeserializable = 0
        return max(processed, 0)

    def drain_punctuated(self) -> dict[str, int]:
        counts, self.punctuated = self.punctuated, {}
        return counts

    def drain_produced(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for node in self.nodes.values():
            if isinstance(node, SinkNode):
                for topic, count in node.drain_produced().items():
                    counts[topic] = counts.get(topic, 0) + count
        return counts

    def close(self, dirty: bool = False) -> None:
        """``dirty``: the task's uncommitted work was aborted; drop its local state too."""
        errors = []
        for node in self.nodes.values():
            try:
                node.close()
            except Exception as exc:  # keep closing the others
                errors.append(exc)
        if self.state is not None:
            self.state.close(dirty)
        if errors:
            raise errors[0]


def _identity(topic: str) -> str:
    return topic


class Punctuation:
    """A scheduled punctuator; ``cancel()`` stops it."""

    __slots__ = ("callback", "cancelled", "interval", "kind", "next_time", "node")

    def __init__(
        self,
        interval: int,
        kind: PunctuationType,
        callback: Callable[[int], Any],
        node: str,
        next_time: int,
    ) -> None:
        self.interval = interval
        self.kind = kind
        self.callback = callback
        self.node = node
        self.next_time = next_time
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


def _store_builders(topology: Topology, sub: SubTopology) -> list[KeyValueStoreBuilder]:
    names: list[str] = []
    for name in sub.nodes:
        node = topology.node(name)
        if isinstance(node, ProcessorDef):
            names += [s for s in node.stores if s not in names]
    builders = topology.store_builders
    return [builders[n] for n in names]


def _children_of(topology: Topology) -> Callable[[str], list[str]]:
    return lambda name: topology.node(name).children


def _uses_event_time(topology: Topology) -> bool:
    """Whether any store closes windows on the watermark: only then do tasks announce their
    watermarks on repartition topics (other topologies keep those topics data-only)."""
    from ..state.builders import SessionStoreBuilder, SuppressBufferBuilder, WindowStoreBuilder

    kinds = (WindowStoreBuilder, SessionStoreBuilder, SuppressBufferBuilder)
    return any(isinstance(b, kinds) for b in topology.store_builders.values())
