"""StreamThread: the consumer loop of one instance.

It owns the consumer, the producer and the tasks of its assigned partitions: polls in
batches, routes each batch to its tasks, and commits every ``commit_interval_ms``:
at-least-once flushes the producer first, so offsets never pass an unacknowledged output;
exactly-once commits one transaction holding the outputs and the offsets.
It never builds a topology and never interprets records itself.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from ..config import StreamsConfig
from ..errors import KStreamliteError, MissingSourceTopicError
from ..handlers import ErrorContext, ErrorHandling
from ..metrics import StreamsMetrics
from ..state.kv import CacheBudget
from ..topology import Topology
from . import clients
from .bounded import BoundedRun, BoundedRunSummary
from .collector import KafkaRecordCollector
from .global_tables import GlobalTableReader, GlobalTables
from .internal_topics import TopicManager
from .restore import Restorer
from .state import State
from .state_manager import make_state_manager
from .task import StreamTask
from .transactions import InstanceDirectory, TransactionAborted, Transactions
from .uncaught import (
    REPLACE_THREAD,
    SHUTDOWN_APPLICATION,
    SHUTDOWN_CLIENT,
    SIGNAL_SUFFIX,
    ApplicationShutdownRequested,
    ShutdownSignal,
    StreamThreadExceptionResponse,
    UncaughtExceptionHandler,
    decide,
)

log = logging.getLogger("kstreamlite.runtime")

FLUSH_TIMEOUT_S = 60.0
# A partition the broker says holds unfetched records is waited for at most this long (or
# max_task_idle_ms if longer): a lag that never shrinks (offsets reset to latest, records
# deleted by retention) must not stall its task for ever.
UNFETCHED_WAIT_CAP_S = 5.0
# A waiting task's partitions that have queued this many records stop fetching until it moves.
WAITING_QUEUE_LIMIT = 20_000
# Counters, lag and watermark gauges are published this often between commits (a commit
# publishes too): under at-least-once a commit may be 30 s away.
METRICS_INTERVAL_S = 1.0
# How often an instance with an uncaught-exception handler looks for a shutdown signal.
SIGNAL_INTERVAL_S = 0.5
# Offset commit errors that mean "not now" (broker unreachable, group rebalancing).
RETRY_COMMIT_ERRORS = frozenset(
    {
        KafkaError._TIMED_OUT,
        KafkaError._TRANSPORT,
        KafkaError._WAIT_COORD,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.REBALANCE_IN_PROGRESS,
        KafkaError.ILLEGAL_GENERATION,
        KafkaError.UNKNOWN_MEMBER_ID,
        KafkaError._ALL_BROKERS_DOWN,
    }
)


class StreamThread(threading.Thread):
    def __init__(
        self,
        topology: Topology,
        config: StreamsConfig,
        metrics: StreamsMetrics,
        set_state: Callable[[State], None],
        handler: UncaughtExceptionHandler | None = None,
        on_replace: Callable[[StreamThread], None] | None = None,
    ) -> None:
        super().__init__(name=f"kstreamlite-{config.application_id}", daemon=True)
        self._topology = topology
        self._config = config
        self._metrics = metrics
        self._set_state = set_state
        self._stop_requested = threading.Event()
        self.started_at = time.monotonic()
        self.error: BaseException | None = None
        # The uncaught-exception policy: the handler's answer when this thread failed.
        self._handler = handler
        self._on_replace = on_replace
        self.response: StreamThreadExceptionResponse | None = None
        self._signal: ShutdownSignal | None = None
        self.tasks: dict[str, StreamTask] = {}
        self._task_of: dict[tuple[str, int], StreamTask] = {}
        self._committed: dict[tuple[str, int], tuple[int, str]] = {}  # offset, metadata
        self._consumer: Consumer | None = None
        self._global_tables: GlobalTables | None = None
        self._global_reader: GlobalTableReader | None = None
        self._producer: Producer | None = None
        self._collector: KafkaRecordCollector | None = None
        self._errors: ErrorHandling | None = None
        self._restorer: Restorer | None = None
        self._restoring: set[StreamTask] = set()  # inputs paused until their stores caught up
        # Multi-input tasks holding queued records back for an empty partition, since when.
        self._waiting: dict[StreamTask, float] = {}
        self._queue_paused: set[tuple[str, int]] = set()
        self._start_offsets: dict[tuple[str, int], int] = {}  # committed when assigned
        self._failed = False
        self._eos = config.processing_guarantee == "exactly_once_v2"
        self._txn: Transactions | None = None
        self._instance_dir: InstanceDirectory | None = None
        # An aborted transaction undid every task's work since the last commit: rebuild them.
        self._restart_needed = False
        self._latency_of: dict[str, Any] = {}  # task id -> its process-latency histogram
        # For the status page, refreshed with the metrics: records/s per task, lag per input.
        self.task_rates: dict[str, float] = {}
        self._lag: dict[tuple[str, int], int] = {}
        self._rates_at = time.monotonic()
        # Set before start() for app.run(bounded=True): stop once the topics' current ends
        # are processed; ``summary`` is what it did.
        self.bounded: BoundedRun | None = None
        self.summary: BoundedRunSummary | None = None

    @property
    def global_tables(self) -> GlobalTables | None:
        return self._global_tables

    def request_stop(self) -> None:
        self._stop_requested.set()

    # ---- lifecycle ----

    def run(self) -> None:
        self.started_at = time.monotonic()
        try:
            self._start_clients()
            self._loop()
        except BaseException as exc:  # every failure is decided on, never a silent stop
            self.error = exc
            self._failed = True
            log.error(
                "stream thread failed: %s", exc, exc_info=not isinstance(exc, KStreamliteError)
            )
            self.response = self._respond(exc)
            if self.response is not REPLACE_THREAD:
                self._set_state(State.PENDING_ERROR)
        finally:
            try:
                self._shutdown()
            except BaseException as exc:  # never leave the instance RUNNING without a thread
                log.error("shutting the stream thread down failed: %s", exc, exc_info=True)
                if self.error is None:
                    self.error = exc
                self._failed = True
                if self.response is REPLACE_THREAD:
                    self.response = SHUTDOWN_CLIENT
                self._set_state(State.PENDING_ERROR)
        if self.response is REPLACE_THREAD and self._on_replace is not None:
            self._on_replace(self)
            return
        self._set_state(State.ERROR if self._failed else State.NOT_RUNNING)

    def _respond(self, exc: BaseException) -> StreamThreadExceptionResponse:
        if isinstance(exc, ApplicationShutdownRequested) or self._stop_requested.is_set():
            return SHUTDOWN_CLIENT
        response = decide(self._handler, exc)
        log.error("uncaught exception policy: %s", response.name)
        if response is SHUTDOWN_APPLICATION:
            if self._signal is None:
                log.error(
                    "no shutdown-signal topic (the thread failed while starting); only "
                    "this instance stops"
                )
            else:
                try:
                    self._signal.send(self._config.application_id, exc)
                except Exception as send_exc:
                    log.error("could not signal the application's shutdown: %s", send_exc)
        return response

    def _start_clients(self) -> None:
        config = self._config
        timeout_s = config.startup_timeout_ms / 1000
        admin = AdminClient(clients.admin_config(config))
        topics = TopicManager(
            admin,
            config.require_bootstrap_servers(),
            config.application_id,
            config.replication_factor,
            timeout_s,
        )
        counts = topics.prepare(self._topology)
        self._subtopology_of: dict[str, Any] = {}
        for sub in self._topology.subtopologies():
            for topic in sub.source_topics:
                internal = topic in self._topology.repartition_topics
                self._subtopology_of[topics.actual(topic) if internal else topic] = sub
        self._topic_for = topics.actual
        transactional_id = None
        if self._eos:
            self._instance_dir = InstanceDirectory(config.state_dir, config.application_id)
            transactional_id = f"{config.application_id}-{self._instance_dir.process_id}"
        self._collector = KafkaRecordCollector(
            clients.producer_config(config, transactional_id), dict(counts)
        )
        self._producer = self._collector.producer
        if transactional_id is not None:
            self._txn = Transactions(self._producer, transactional_id, timeout_s)
            self._txn.start()
        self._errors = ErrorHandling(config, self._collector, self._metrics)
        if self._handler is not None:
            self._signal = ShutdownSignal(
                topics.ensure(SIGNAL_SUFFIX, 1),
                clients.consumer_config(config),
                clients.producer_config(config),
            )
        self._make_state = functools.partial(
            make_state_manager,
            state_dir=config.state_dir,
            config=config,
            budget=CacheBudget(config.cache_max_bytes),
            collector=self._collector,
        )
        consumer_settings = clients.consumer_config(config)
        if self._topology.global_tables:
            # Loaded whole before the group is joined: no task processes before they are.
            self._global_tables = GlobalTables(
                self._topology,
                state_dir=config.state_dir,
                config=config,
                errors=self._errors,
                clock=_wall_clock_ms,
            )
            self._global_reader = GlobalTableReader(
                self._global_tables, consumer_settings, timeout_s
            )
            self._global_reader.bootstrap()
        self._restorer = Restorer(
            {
                **consumer_settings,
                "group.id": f"{config.application_id}-restore",
                "client.id": f"{consumer_settings['client.id']}-restore",
                "enable.partition.eof": True,
            },
            timeout_s,
        )
        main_settings = clients.consumer_config(config)
        if self.bounded is not None:  # where a partition's records end before its end offset
            main_settings["enable.partition.eof"] = True
        self._consumer = Consumer(main_settings)
        self._consumer.subscribe(
            list(self._subtopology_of),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        log.info(
            "application %s started: %d sub-topologies reading %s",
            config.application_id,
            len(self._topology.subtopologies()),
            sorted(self._subtopology_of),
        )

    def _loop(self) -> None:
        consumer = self._consumer
        producer = self._producer
        assert consumer is not None and producer is not None
        batch = self._config.poll_batch_size
        timeout = self._config.poll_timeout_ms / 1000
        interval = self._config.effective_commit_interval_ms / 1000
        next_commit = time.monotonic() + interval
        next_metrics = next_signal_check = time.monotonic() + METRICS_INTERVAL_S
        while not self._stop_requested.is_set():
            # While tasks restore, the main consumer still polls (membership, heartbeats,
            # other tasks' records) but must not sit in a long poll between restore batches.
            messages = consumer.consume(batch, 0 if self._restoring else timeout)
            if messages:
                self._dispatch(messages)
            if self._waiting:
                self._retry_waiting(consumer)
            if self._restoring:
                self._restore_step()
            if self._global_reader is not None:
                self._global_reader.poll()
            for task in self.tasks.values():
                if task not in self._restoring:
                    task.tick()
                    task.maybe_punctuate()
            producer.poll(0)
            if self._collector is not None and self._collector.failures:
                self._handle_delivery_failures()
            now = time.monotonic()
            if now >= next_commit or self._commit_requested():
                self._commit_or_restart()
                next_commit = next_metrics = now + interval
            elif now >= next_metrics:
                self._publish_metrics()
                next_metrics = now + METRICS_INTERVAL_S
            if self._signal is not None and now >= next_signal_check:
                self._check_shutdown_signal(self._signal)
                next_signal_check = now + SIGNAL_INTERVAL_S
            if self._restart_needed:
                self._restart_tasks()
            if self.bounded is not None and self._bounded_step(consumer, self.bounded):
                log.info("bounded run done: every assigned partition reached its end")
                self._set_state(State.PENDING_SHUTDOWN)
                break

    def _check_shutdown_signal(self, signal: ShutdownSignal) -> None:
        received = signal.poll()
        if received is not None:
            raise ApplicationShutdownRequested(
                f"another instance of {self._config.application_id!r} "
                f"({received.get('from', 'unknown host')}) asked the whole application to shut "
                f"down after its uncaught exception: {received.get('error', 'unknown error')}"
            )

    def _bounded_step(self, consumer: Consumer, bounded: BoundedRun) -> bool:
        """Finish the tasks that have read everything; True once all have."""
        if not bounded.assigned:
            return False
        for task in self.tasks.values():
            if task in bounded.complete or task in self._restoring:
                continue
            if bounded.is_complete(task):
                bounded.finish(task)
                log.info("task %s reached the end of its inputs", task.id)
        if bounded.complete:
            bounded.reannounce()
        return not self._restoring and len(bounded.complete) == len(self.tasks)

    def _dispatch(self, messages: list[Any]) -> None:
        """Cut a poll's records into runs of one partition, then hand each task its share.

        Hot path: runs are found by comparing neighbours, which is cheaper than
        building a (topic, partition) key per record.
        """
        merged: dict[StreamTask, dict[tuple[str, int], list[Any]]] = {}
        task_of = self._task_of
        bounded = self.bounded
        count = len(messages)
        i = 0
        while i < count:
            first = messages[i]
            if first.error() is not None:
                self._consumer_error(first)
                i += 1
                continue
            topic, partition = first.topic(), first.partition()
            j = i + 1
            while j < count:
                msg = messages[j]
                if msg.partition() != partition or msg.error() is not None or msg.topic() != topic:
                    break
                j += 1
            run = messages[i:j]
            i = j
            tp = (topic, partition)
            task = task_of.get(tp)
            if task is None:  # revoked between fetch and dispatch
                continue
            if bounded is not None:
                run = bounded.trim(tp, run)
                if tp in bounded.at_end:
                    self._consumer_pause([tp])
                if not run:
                    continue
            if task.single_input:
                started = time.perf_counter()
                task.process({tp: run})
                self._latency(task).observe((time.perf_counter() - started) / len(run))
            else:
                per_task = merged.setdefault(task, {})
                if tp in per_task:
                    per_task[tp].extend(run)
                else:
                    per_task[tp] = run
        for task, batches in merged.items():
            started = time.perf_counter()
            self._settle(task, task.offer(batches, functools.partial(self._may_skip, task)))
            offered = sum(map(len, batches.values()))
            self._latency(task).observe((time.perf_counter() - started) / offered)

    def _latency(self, task: StreamTask) -> Any:
        child = self._latency_of.get(task.id)
        if child is None:
            metric = self._metrics.process_latency
            child = self._latency_of[task.id] = metric.labels(self._config.application_id, task.id)
        return child

    # ---- multi-input tasks: wait for every input partition (KIP-695) ----

    def _settle(self, task: StreamTask, drained: bool) -> None:
        if drained:
            self._waiting.pop(task, None)
        elif task not in self._waiting:
            self._waiting[task] = time.monotonic()

    def _retry_waiting(self, consumer: Consumer) -> None:
        for task in list(self._waiting):
            self._settle(task, task.drain(functools.partial(self._may_skip, task)))
        full = [
            tp
            for task in self._waiting
            for tp in task.clock_state.partitions
            if tp not in self._queue_paused and task.buffered_in(tp) >= WAITING_QUEUE_LIMIT
        ]
        if full:
            consumer.pause([TopicPartition(*tp) for tp in full])
            self._queue_paused.update(full)
        at_end = self.bounded.at_end if self.bounded is not None else set()
        moving = [
            tp
            for tp in self._queue_paused
            if self._task_of.get(tp) not in self._waiting and tp not in at_end
        ]
        if moving:
            consumer.resume([TopicPartition(*tp) for tp in moving if tp in self._task_of])
            self._queue_paused.difference_update(moving)

    def _may_skip(self, task: StreamTask, tp: tuple[str, int]) -> bool:
        """May ``task`` choose its next record while ``tp`` has none queued?"""
        idle_ms = self._config.max_task_idle_ms
        if idle_ms < 0:
            return True
        bounded = self.bounded
        if bounded is not None and (
            task.clock_state.partitions[tp].ended() or bounded.reached_end(task, tp)
        ):
            return True  # nothing more will come in this run
        now = time.monotonic()
        waited = now - self._waiting.get(task, now)
        lag = self._unfetched(task, tp)
        if lag == 0:
            return waited * 1000 >= idle_ms
        if waited >= max(UNFETCHED_WAIT_CAP_S, idle_ms / 1000):
            log.warning(
                "task %s waited %.1f s for %s-%d (%s records on the broker not fetched); "
                "processing its other inputs without them",
                task.id,
                waited,
                tp[0],
                tp[1],
                "unknown" if lag is None else lag,
            )
            return True
        return False

    def _unfetched(self, task: StreamTask, tp: tuple[str, int]) -> int | None:
        """Records of ``tp`` on the broker that ``task`` has not seen; None while unknown.

        Uses the high watermark of the consumer's last fetch response: no broker call.
        """
        assert self._consumer is not None
        low, high = self._consumer.get_watermark_offsets(TopicPartition(*tp), cached=True)
        if high < 0:
            return None
        position = task.offsets.get(tp)
        if position is None:
            position = self._start_offsets.get(tp, -1)
            if position < 0:  # nothing committed: auto.offset.reset=earliest starts at low
                position = max(low, 0)
        return max(high - position, 0)

    def _consumer_pause(self, tps: list[tuple[str, int]]) -> None:
        assert self._consumer is not None
        self._consumer.pause([TopicPartition(*tp) for tp in tps])

    def _consumer_error(self, msg: Any) -> None:
        error = msg.error()
        if error.code() == KafkaError._PARTITION_EOF:
            if self.bounded is not None:
                self.bounded.eof[(msg.topic(), msg.partition())] = msg.offset()
            return
        if error.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC):
            raise MissingSourceTopicError(
                f"source topic {msg.topic()!r} disappeared while the application ran: {error}"
            )
        if error.fatal():
            raise KStreamliteError(f"fatal consumer error: {error}")
        log.warning("consumer error (retrying): %s", error)

    def _commit_requested(self) -> bool:
        return any(task.commit_requested for task in self.tasks.values())

    # ---- commit ----

    def commit(self) -> None:
        """Commit the input offsets together with what their records produced.

        At-least-once flushes the producer first, then commits the offsets. Exactly-once
        commits one transaction holding both; if it fails, it is aborted and
        TransactionAborted raised (the caller rebuilds the tasks from the last commit).
        """
        if self._collector is None or self._consumer is None:
            return
        started = time.perf_counter()
        for task in self.tasks.values():
            if task not in self._restoring:
                task.flush_state()
                task.tick(force_announce=True)
        if self._txn is None:  # a transaction commit flushes by itself
            self._collector.flush(FLUSH_TIMEOUT_S)
        if self._collector.failures:
            self._handle_delivery_failures()
        offsets = self._offsets_to_commit()
        if self._txn is not None:
            try:
                self._txn.commit(offsets, self._consumer.consumer_group_metadata())
            except TransactionAborted:
                self._metrics.transactions.labels(self._config.application_id, "aborted").inc()
                raise
            self._metrics.transactions.labels(self._config.application_id, "committed").inc()
        elif offsets and not self._commit_offsets(offsets):
            return
        if offsets:
            for tp in offsets:
                self._committed[(tp.topic, tp.partition)] = (tp.offset, tp.metadata)
            self._metrics.commits.labels(self._config.application_id).inc()
        if self._txn is None:  # exactly-once checkpoints only on a clean close
            for task in self.tasks.values():
                if task not in self._restoring:  # its stores do not yet reflect the end
                    task.checkpoint(self._end_offset)
        self._metrics.commit_latency.labels(self._config.application_id).observe(
            time.perf_counter() - started
        )

    def _commit_offsets(self, offsets: list[TopicPartition]) -> bool:
        """At-least-once offset commit; False (logged, retried next time) when the broker
        is unreachable or the group is rebalancing: the records were written, and at worst
        they are processed again."""
        assert self._consumer is not None
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
            return True
        except KafkaException as exc:
            error: KafkaError = exc.args[0]
            retry = error.code() in RETRY_COMMIT_ERRORS or error.retriable()
            if error.fatal() or not retry:
                raise
            log.warning("committing offsets failed, retrying at the next commit: %s", error)
            return False

    def _commit_or_restart(self) -> None:
        try:
            self.commit()
        except TransactionAborted as exc:
            log.warning("%s; every task goes back to its last committed offsets", exc)
            self._restart_needed = True

    def _restart_tasks(self) -> None:
        """After an abort: drop every task with its local state, re-read from the commits."""
        self._restart_needed = False
        consumer = self._consumer
        assert consumer is not None
        self._set_state(State.REBALANCING)
        assignment = [TopicPartition(tp.topic, tp.partition) for tp in consumer.assignment()]
        self._close_tasks_for(assignment, dirty=True)
        if assignment:
            self._on_assign(consumer, assignment)

    def _offsets_to_commit(self) -> list[TopicPartition]:
        """Each task's changed positions (with watermark metadata); publishes the metrics."""
        self._publish_metrics()
        offsets = []
        bounded = self.bounded
        for task in self.tasks.values():
            task.commit_requested = False
            for tp, offset in task.offsets.items():
                committed = self._committed.get(tp)
                if bounded is None:
                    # The metadata (watermark state) changes only with the offset.
                    if committed is not None and committed[0] == offset:
                        continue
                    metadata = task.clock_state.metadata(tp)
                else:  # a finished bounded run clears its recorded end: new metadata
                    end = bounded.end_offset_to_commit(task, tp)
                    metadata = task.clock_state.metadata(tp, end)
                    if committed == (offset, metadata):
                        continue
                offsets.append(TopicPartition(tp[0], tp[1], offset, metadata=metadata))
        return offsets

    def _publish_metrics(self) -> None:
        """Move the tasks' plain-int counts into the registry; refresh lag and gauges."""
        metrics, app = self._metrics, self._config.application_id
        bounded = self.bounded
        now = time.monotonic()
        elapsed, self._rates_at = max(now - self._rates_at, 1e-3), now
        rates = {}
        for task in self.tasks.values():
            consumed = task.drain_consumed()
            for topic, count in consumed.items():
                metrics.record_consumed(task.id, topic, count)
            processed = task.drain_processed(consumed)
            rates[task.id] = processed / elapsed
            if processed:
                metrics.processed.labels(app, task.id).inc(processed)
            for kind, count in task.drain_punctuated().items():
                metrics.punctuations.labels(app, task.id, kind).inc(count)
            if task.state is not None:
                for name, store in task.state.stores.items():
                    metrics.record_store_operations(task.id, name, store.meter.drain())
            produced = task.drain_produced()
            metrics.record_produced(produced, task.id)
            if bounded is not None:
                bounded.count(consumed, produced)
        assert self._collector is not None
        metrics.record_produced(self._collector.drain_extra_sent())
        self.task_rates = rates
        self._publish_gauges()

    def _publish_gauges(self) -> None:
        """Set every current series, then drop the series that are gone (revoked tasks):
        a scrape between the two never finds a gauge empty."""
        metrics, app = self._metrics, self._config.application_id
        lags = {}
        lag_series = {}
        for tp, task in list(self._task_of.items()):
            lag = self._unfetched(task, tp)
            if lag is not None:
                lags[tp] = lag
                lag_series[(app, task.id, tp[0], str(tp[1]))] = lag
        self._lag = lags
        watermarks = {}
        entries = {}
        for task in self.tasks.values():
            watermarks[(app, task.id)] = task.watermark
            if task.state is not None and task not in self._restoring:
                for name, store in task.state.stores.items():
                    count = getattr(store, "approximate_num_entries", None)
                    if count is not None:
                        entries[(app, task.id, name)] = count()
        remaining = {}
        if self._restorer is not None:
            for (task_id, store_name), left in self._restorer.remaining().items():
                remaining[(app, task_id, store_name)] = left
        metrics.set_gauge(metrics.lag, lag_series)
        metrics.set_gauge(metrics.watermark, watermarks)
        metrics.set_gauge(metrics.store_entries, entries)
        metrics.set_gauge(metrics.restore_remaining, remaining)

    def task_snapshot(self) -> list[dict[str, Any]]:
        """What the status page shows of each task. Called from another thread: reads
        copies, and the figures are those of the last metrics refresh."""
        inputs: dict[str, list[dict[str, Any]]] = {}
        for tp, task in list(self._task_of.items()):
            inputs.setdefault(task.id, []).append(
                {
                    "topic": tp[0],
                    "partition": tp[1],
                    "position": task.offsets.get(tp),
                    "lag": self._lag.get(tp),
                }
            )
        restoring = {task.id for task in list(self._restoring)}
        out = []
        for task in list(self.tasks.values()):
            out.append(
                {
                    "id": task.id,
                    "state": "restoring" if task.id in restoring else "running",
                    "partitions": sorted(
                        inputs.get(task.id, []), key=lambda p: (p["topic"], p["partition"])
                    ),
                    "watermark": task.watermark,
                    "stream_time": task.stream_time,
                    "records_per_second": round(self.task_rates.get(task.id, 0.0), 1),
                    "stores": sorted(task.state.stores) if task.state is not None else [],
                }
            )
        return sorted(out, key=lambda t: t["id"])

    def _end_offset(self, topic: str, partition: int) -> int:
        # Asked of the idle restore consumer: the main consumer would answer only after
        # its in-flight long-poll fetch (up to fetch.wait.max.ms per call).
        assert self._restorer is not None
        return self._restorer.end_offset(topic, partition)

    def _handle_delivery_failures(self) -> None:
        assert self._collector is not None and self._errors is not None
        failures, self._collector.failures = self._collector.failures, []
        for error, message in failures:
            exc = KStreamliteError(f"broker rejected record for {message.topic()!r}: {error}")
            self._errors.handle(
                exc,
                ErrorContext(
                    stage="production",
                    topic=message.topic(),
                    partition=message.partition(),
                    offset=None,
                    timestamp=message.timestamp()[1],
                    key=message.key(),
                    value=message.value(),
                    headers=None,
                    processor=None,
                    task_id=None,
                ),
            )

    # ---- rebalance callbacks (run inside consumer.consume) ----

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        assert self._collector is not None and self._errors is not None
        if not self.tasks:  # every task starts from the commits anyway: no rebuild pending
            self._restart_needed = False
        created = []
        for tp in partitions:
            sub = self._subtopology_of[tp.topic]
            task_id = f"{sub.id}_{tp.partition}"
            task = self.tasks.get(task_id)
            if task is None:
                task = StreamTask(
                    task_id,
                    sub,
                    tp.partition,
                    self._topology,
                    application_id=self._config.application_id,
                    collector=self._collector,
                    errors=self._errors,
                    clock=_wall_clock_ms,
                    topic_for=self._topic_for,
                    default_key_serde=self._config.default_key_serde,
                    default_value_serde=self._config.default_value_serde,
                    make_state=self._make_state,
                    global_stores=self._global_tables.stores if self._global_tables else None,
                )
                self.tasks[task_id] = task
                created.append(task)
            self._task_of[(tp.topic, tp.partition)] = task
        committed = self._resume_watermarks(consumer, partitions)
        if self.bounded is not None:
            self._record_ends(partitions, committed, self.bounded)
        assert self._restorer is not None
        # Assign explicitly so the restoring tasks' inputs can be paused before any fetch.
        consumer.assign(partitions)
        if self.bounded is not None and self.bounded.at_end:
            consumer.pause([TopicPartition(*tp) for tp in self.bounded.at_end])
        restoring = self._restorer.add(created)
        if restoring:
            self._restoring.update(restoring)
            consumer.pause(self._inputs_of(restoring))
        log.info(
            "assigned %d partitions, running tasks %s%s",
            len(partitions),
            sorted(self.tasks),
            f", restoring {sorted(t.id for t in restoring)} first" if restoring else "",
        )
        if not self._restoring:
            self._set_state(State.RUNNING)

    def _resume_watermarks(
        self, consumer: Consumer, partitions: list[TopicPartition]
    ) -> list[TopicPartition]:
        """Per-partition watermark state was committed with the offsets; take it back."""
        try:
            committed = consumer.committed(
                partitions, timeout=self._config.startup_timeout_ms / 1000
            )
        except Exception as exc:  # the watermark then restarts from the records
            log.warning("could not read committed offsets' watermark metadata: %s", exc)
            return []
        now = _wall_clock_ms()
        for tp in committed:
            self._start_offsets[(tp.topic, tp.partition)] = tp.offset
            task = self._task_of.get((tp.topic, tp.partition))
            if task is not None and tp.metadata:
                task.clock_state.resume([((tp.topic, tp.partition), tp.metadata)], now)
        return list(committed)

    def _record_ends(
        self,
        partitions: list[TopicPartition],
        committed: list[TopicPartition],
        bounded: BoundedRun,
    ) -> None:
        """A bounded run reads each source partition up to its end at assignment."""
        assert self._restorer is not None
        known = {(tp.topic, tp.partition): tp for tp in committed}
        at_end = []
        for tp in partitions:
            key = (tp.topic, tp.partition)
            task = self._task_of[key]
            part = task.clock_state.partitions[key]
            if part.internal:
                # What the partition holds now may end with an earlier run's end marks.
                part.marks_from = self._restorer.offsets(*key)[1]
                continue
            mine = known.get(key)
            bounded.add_partition(
                key,
                mine.offset if mine is not None else -1,
                mine.metadata if mine is not None else None,
                self._restorer.offsets,
            )
            if bounded.reached_end(task, key):
                at_end.append(key)
        bounded.at_end.update(at_end)
        bounded.assigned = True
        log.info(
            "bounded run: reading %d source partitions to their ends (%d records)",
            len(bounded.ends),
            sum(bounded.ends[tp] - bounded.starts[tp] for tp in bounded.ends),
        )

    def _restore_step(self) -> None:
        assert self._restorer is not None and self._consumer is not None
        ready = self._restorer.step()
        if not ready:
            return
        self._restoring.difference_update(ready)
        self._consumer.resume(self._inputs_of(ready))
        log.info("restored tasks %s; processing them", sorted(t.id for t in ready))
        if not self._restoring:
            self._set_state(State.RUNNING)

    def _inputs_of(self, tasks: list[StreamTask]) -> list[TopicPartition]:
        wanted = {id(t) for t in tasks}
        return [TopicPartition(*tp) for tp, task in self._task_of.items() if id(task) in wanted]

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._set_state(State.REBALANCING)
        clean = not self._failed
        if clean:
            try:
                self.commit()
            except TransactionAborted as exc:
                log.warning("%s while handing partitions over; dropping their state", exc)
                clean = False
        self._close_tasks_for(partitions, dirty=self._eos and not clean)
        if not clean and self._eos and self.tasks:
            self._restart_needed = True  # the abort undid the kept tasks' work too

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.warning("lost %d partitions without a clean revoke; not committing", len(partitions))
        self._set_state(State.REBALANCING)
        if self._txn is not None and not self._failed:
            # Another member owns them now; nothing of ours since the last commit may land.
            self._txn.abort("partitions lost in a rebalance")
            self._restart_needed = True
        self._close_tasks_for(partitions, dirty=self._eos)

    def _close_tasks_for(self, partitions: list[TopicPartition], dirty: bool = False) -> None:
        """Close the tasks of ``partitions``; ``dirty`` drops their local state."""
        if self.bounded is not None:
            self.bounded.assigned = False  # until the next assignment: not done, only between
        for tp in partitions:
            task = self._task_of.pop((tp.topic, tp.partition), None)
            self._committed.pop((tp.topic, tp.partition), None)
            self._start_offsets.pop((tp.topic, tp.partition), None)
            self._queue_paused.discard((tp.topic, tp.partition))
            still_assigned = any(t is task for t in self._task_of.values())
            if task is not None and task.id in self.tasks and not still_assigned:
                del self.tasks[task.id]
                self._waiting.pop(task, None)
                if self.bounded is not None:
                    self.bounded.forget(task)
                restoring = task in self._restoring
                if restoring:
                    self._restoring.discard(task)
                    if self._restorer is not None:
                        self._restorer.remove([task])
                elif self._eos and not dirty:
                    task.checkpoint(self._end_offset)  # closed cleanly after a commit
                task.close(dirty)

    # ---- shutdown ----

    def _shutdown(self) -> None:
        """Commit (unless failed) and close everything; the instance directory's lock and
        the gauges are released whatever fails on the way."""
        try:
            self._close_all()
        finally:
            self._metrics.clear_gauges()
            if self._signal is not None:
                try:
                    self._signal.close()
                except Exception as exc:
                    log.warning("closing the shutdown-signal consumer: %s", exc)
            if self._instance_dir is not None:
                self._instance_dir.close()
            log.info("application %s stopped", self._config.application_id)

    def _close_all(self) -> None:
        clean = not self._failed
        if clean:
            try:
                self.commit()
            except TransactionAborted as exc:  # redone by the partitions' next owner
                log.warning("final %s; closing the tasks without their uncommitted work", exc)
                clean = False
            except BaseException as exc:
                self.error, self._failed, clean = exc, True, False
                log.error("final commit failed: %s", exc)
        if self._txn is not None and self._failed:
            try:  # release read_committed readers now, not after the transaction timeout
                self._txn.abort("the stream thread failed")
            except Exception as exc:
                log.warning("aborting the open transaction: %s", exc)
        if self._eos:
            # Closed here, while the end offsets for their checkpoints can still be read.
            self._close_tasks_for([TopicPartition(*tp) for tp in self._task_of], dirty=not clean)
        if self._consumer is not None:
            try:
                self._consumer.close()
            except Exception as exc:
                log.warning("closing the consumer: %s", exc)
        if self._producer is not None:
            self._producer.flush(10 if self._failed else FLUSH_TIMEOUT_S)
        if self._restorer is not None:
            self._restorer.close()
        for task in list(self.tasks.values()):
            try:
                task.close()
            except Exception as exc:
                log.warning("closing task %s: %s", task.id, exc)
        self.tasks.clear()
        self._task_of.clear()
        self._restoring.clear()
        self._waiting.clear()
        if self._global_reader is not None:
            self._global_reader.close()
        if self._global_tables is not None:
            self._global_tables.close()
        if self.bounded is not None and not self._failed:
            self.summary = self.bounded.summary()
            log.info("%s", self.summary)


def _wall_clock_ms() -> int:
    return int(time.time() * 1000)
