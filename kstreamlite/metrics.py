"""Prometheus metrics of one application instance, in a registry of its own.

A registry per instance keeps several apps in one process from colliding. Hot paths
never touch a metric per record: tasks count in plain ints and publish per batch.
"""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Per-record processing time, observed once per batch as the batch mean: from a few
# microseconds (a stateless map) to tens of milliseconds (a slow user function).
RECORD_LATENCY_BUCKETS = (
    1e-6,
    5e-6,
    1e-5,
    2.5e-5,
    5e-5,
    1e-4,
    2.5e-4,
    5e-4,
    1e-3,
    5e-3,
    1e-2,
    5e-2,
    0.1,
    1.0,
)
# Commits and rebalances: milliseconds to tens of seconds.
SLOW_OPERATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class StreamsMetrics:
    def __init__(self, application_id: str) -> None:
        self.application_id = application_id
        self.registry = CollectorRegistry(auto_describe=True)
        self._gauge_series: dict[int, set[tuple[str, ...]]] = {}
        app = ["application_id"]
        self.consumed = Counter(
            "kstreamlite_records_consumed",
            "Records read from source topics",
            [*app, "task", "topic"],
            registry=self.registry,
        )
        self.produced = Counter(
            "kstreamlite_records_produced",
            "Records sent to sink and repartition topics (by task), and to changelog and "
            "dead-letter topics (task empty)",
            [*app, "task", "topic"],
            registry=self.registry,
        )
        self.skipped = Counter(
            "kstreamlite_skipped_records",
            "Records skipped by an exception handler, by stage",
            [*app, "reason", "topic"],
            registry=self.registry,
        )
        self.dead_lettered = Counter(
            "kstreamlite_dead_letter_records",
            "Records written to the dead-letter topic, by stage",
            [*app, "reason", "topic"],
            registry=self.registry,
        )
        self.store_operations = Counter(
            "kstreamlite_state_store_operations",
            "State store operations by kind: gets and puts by processors, misses (reads "
            "past the cache), writes (entries written to the backend), restored (changelog "
            "records applied)",
            [*app, "task", "store", "operation"],
            registry=self.registry,
        )
        self.late_records = Counter(
            "kstreamlite_late_records",
            "Records dropped because every window they belong to had closed",
            [*app, "task", "processor"],
            registry=self.registry,
        )
        self.commits = Counter(
            "kstreamlite_commits", "Completed commits", app, registry=self.registry
        )
        self.processed = Counter(
            "kstreamlite_records_processed",
            "Records handed to the topology (consumed minus those that failed to deserialize)",
            [*app, "task"],
            registry=self.registry,
        )
        self.process_latency = Histogram(
            "kstreamlite_process_latency_seconds",
            "Processing time per record, observed once per polled batch as its mean",
            [*app, "task"],
            buckets=RECORD_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.commit_latency = Histogram(
            "kstreamlite_commit_latency_seconds",
            "Duration of a commit: cache flush, producer flush or transaction, offsets",
            app,
            buckets=SLOW_OPERATION_BUCKETS,
            registry=self.registry,
        )
        self.lag = Gauge(
            "kstreamlite_consumer_lag_records",
            "Records on the broker past the task's position, per assigned source partition",
            [*app, "task", "topic", "partition"],
            registry=self.registry,
        )
        self.watermark = Gauge(
            "kstreamlite_task_watermark_ms",
            "A task's event-time watermark (epoch ms; -1 before its first record)",
            [*app, "task"],
            registry=self.registry,
        )
        self.store_entries = Gauge(
            "kstreamlite_state_store_entries",
            "Approximate number of entries in a local state store",
            [*app, "task", "store"],
            registry=self.registry,
        )
        self.restore_remaining = Gauge(
            "kstreamlite_restore_remaining_records",
            "Changelog records still to restore, per store",
            [*app, "task", "store"],
            registry=self.registry,
        )
        self.rebalances = Counter(
            "kstreamlite_rebalances",
            "Rebalances this instance took part in",
            app,
            registry=self.registry,
        )
        self.rebalance_duration = Histogram(
            "kstreamlite_rebalance_duration_seconds",
            "Time from leaving RUNNING for a rebalance to RUNNING again (restores included)",
            app,
            buckets=SLOW_OPERATION_BUCKETS,
            registry=self.registry,
        )
        self.punctuations = Counter(
            "kstreamlite_punctuations",
            "Punctuator calls, by kind (stream_time, wall_clock_time)",
            [*app, "task", "type"],
            registry=self.registry,
        )
        self.thread_replacements = Counter(
            "kstreamlite_stream_thread_replacements",
            "Stream threads replaced after an uncaught exception (REPLACE_THREAD)",
            app,
            registry=self.registry,
        )
        self.transactions = Counter(
            "kstreamlite_transactions",
            "Exactly-once transactions by outcome (committed, aborted)",
            [*app, "outcome"],
            registry=self.registry,
        )

    def set_gauge(self, gauge: Gauge, values: dict[tuple[str, ...], float]) -> None:
        """Set these series of ``gauge`` and remove its other series."""
        for labels, value in values.items():
            gauge.labels(*labels).set(value)
        known = self._gauge_series.setdefault(id(gauge), set())
        for labels in known - values.keys():
            with contextlib.suppress(KeyError):
                gauge.remove(*labels)
        self._gauge_series[id(gauge)] = set(values)

    def clear_gauges(self) -> None:
        """A stopped thread exports no stale lag or watermark."""
        for gauge in (self.lag, self.watermark, self.store_entries, self.restore_remaining):
            gauge.clear()
        self._gauge_series.clear()

    def record_skipped(self, reason: str, topic: str | None, dead_lettered: bool) -> None:
        self.skipped.labels(self.application_id, reason, topic or "").inc()
        if dead_lettered:
            self.dead_lettered.labels(self.application_id, reason, topic or "").inc()

    def record_late(self, task_id: str, processor: str) -> None:
        self.late_records.labels(self.application_id, task_id, processor).inc()

    def record_consumed(self, task_id: str, topic: str, count: int) -> None:
        self.consumed.labels(self.application_id, task_id, topic).inc(count)

    def record_produced(self, counts: dict[str, int], task_id: str = "") -> None:
        for topic, count in counts.items():
            if count:
                self.produced.labels(self.application_id, task_id, topic).inc(count)

    def record_store_operations(self, task_id: str, store: str, counts: dict[str, int]) -> None:
        for operation, count in counts.items():
            if count:
                self.store_operations.labels(self.application_id, task_id, store, operation).inc(
                    count
                )

    def value(self, name: str, **labels: str) -> float:
        """Sum of a metric's samples matching ``labels`` (for tests and app.metrics())."""
        total = 0.0
        for family in self.registry.collect():
            for sample in family.samples:
                if sample.name != name:
                    continue
                if all(sample.labels.get(k) == v for k, v in labels.items()):
                    total += sample.value
        return total

    def snapshot(self) -> dict[str, float]:
        """Every sample as ``name{labels}`` -> value: counters (``*_total``), gauges, and
        each histogram's ``_count`` and ``_sum`` (its buckets are for Prometheus)."""
        out: dict[str, float] = {}
        for family in self.registry.collect():
            for sample in family.samples:
                if sample.name.endswith(("_bucket", "_created")):
                    continue
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                out[f"{sample.name}{{{labels}}}"] = sample.value
        return out

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format, for ``/metrics``."""
        return generate_latest(self.registry)
