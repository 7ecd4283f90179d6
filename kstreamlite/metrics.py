"""Prometheus metrics of one application instance, in a registry of its own.

A registry per instance keeps several apps in one process from colliding. Hot paths
never touch a metric per record: tasks count in plain ints and publish per batch.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class StreamsMetrics:
    def __init__(self, application_id: str) -> None:
        self.application_id = application_id
        self.registry = CollectorRegistry(auto_describe=True)
        app = ["application_id"]
        self.consumed = Counter(
            "kstreamlite_records_consumed",
            "Records read from source topics",
            [*app, "task", "topic"],
            registry=self.registry,
        )
        self.produced = Counter(
            "kstreamlite_records_produced",
            "Records sent to sink, repartition and dead-letter topics",
            [*app, "topic"],
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
        self.transactions = Counter(
            "kstreamlite_transactions",
            "Exactly-once transactions by outcome (committed, aborted)",
            [*app, "outcome"],
            registry=self.registry,
        )

    def record_skipped(self, reason: str, topic: str | None, dead_lettered: bool) -> None:
        self.skipped.labels(self.application_id, reason, topic or "").inc()
        if dead_lettered:
            self.dead_lettered.labels(self.application_id, reason, topic or "").inc()

    def record_late(self, task_id: str, processor: str) -> None:
        self.late_records.labels(self.application_id, task_id, processor).inc()

    def record_consumed(self, task_id: str, topic: str, count: int) -> None:
        self.consumed.labels(self.application_id, task_id, topic).inc(count)

    def record_produced(self, counts: dict[str, int]) -> None:
        for topic, count in counts.items():
            if count:
                self.produced.labels(self.application_id, topic).inc(count)

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
        """Every ``*_total`` sample as ``name{labels}`` -> value."""
        out: dict[str, float] = {}
        for family in self.registry.collect():
            for sample in family.samples:
                if not sample.name.endswith("_total"):
                    continue
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                out[f"{sample.name}{{{labels}}}"] = sample.value
        return out
