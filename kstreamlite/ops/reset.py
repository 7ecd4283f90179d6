"""Application reset: what Kafka's ``kafka-streams-application-reset`` tool does, plus
the local state.

A reset makes the next run reprocess its input from the start (or from a point in time):
the application's internal topics (changelogs, repartition topics, the shutdown signal)
are deleted, the consumer group's committed offsets on its input topics are set to the
earliest offset (or the first at or after ``--to-datetime``), and the instance's local
state directory is removed. It refuses while any instance of the application is running.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from ..errors import KStreamliteError
from ..runtime.uncaught import SIGNAL_SUFFIX
from .topics import partition_counts

INTERNAL_SUFFIXES = ("-changelog", "-repartition")


@dataclass
class ResetPlan:
    application_id: str
    internal_topics: list[str]
    offsets: list[TopicPartition]  # the input partitions' new committed offsets
    state_dir: Path | None  # None: nothing on this machine
    to: str  # "earliest" or the datetime as given
    missing_inputs: list[str] = field(default_factory=list)

    def describe(self) -> str:
        lines = [f"reset of application {self.application_id!r}:"]
        if self.internal_topics:
            lines.append(f"  delete {len(self.internal_topics)} internal topics:")
            lines += [f"    {name}" for name in self.internal_topics]
        else:
            lines.append("  no internal topics to delete")
        if self.offsets:
            topics = sorted({tp.topic for tp in self.offsets})
            lines.append(
                f"  reset the consumer group {self.application_id!r} to {self.to} on "
                f"{len(self.offsets)} partitions of {', '.join(topics)}:"
            )
            lines += [
                f"    {tp.topic}-{tp.partition} -> offset {tp.offset}"
                for tp in sorted(self.offsets, key=lambda tp: (tp.topic, tp.partition))
            ]
        else:
            lines.append(
                f"  no committed input offsets in group {self.application_id!r} (it will start "
                "from its auto.offset.reset position)"
            )
        for topic in self.missing_inputs:
            lines.append(f"  (input topic {topic!r} does not exist; skipped)")
        if self.state_dir is not None:
            lines.append(f"  remove local state {self.state_dir}")
        else:
            lines.append("  no local state on this machine")
        return "\n".join(lines)


class ApplicationReset:
    def __init__(self, bootstrap_servers: str, application_id: str, timeout_s: float = 30.0):
        self.application_id = application_id
        self._bootstrap = bootstrap_servers
        self._timeout = timeout_s
        self._admin = AdminClient({"bootstrap.servers": bootstrap_servers})

    def plan(
        self,
        state_dir: str,
        input_topics: list[str] | None = None,
        to_datetime: datetime | None = None,
    ) -> ResetPlan:
        """What a reset would do; checks that no instance is running."""
        app = self.application_id
        topics = self._topics()
        self._refuse_if_active()
        internal = sorted(
            name
            for name in topics
            if name.startswith(f"{app}-")
            and (name.endswith(INTERNAL_SUFFIXES) or name == f"{app}-{SIGNAL_SUFFIX}")
        )
        inputs = {tp.topic for tp in self._committed() if tp.topic not in internal}
        inputs.update(input_topics or [])
        missing = sorted(t for t in inputs if t not in topics)
        partitions = [
            TopicPartition(t, p) for t in sorted(inputs - set(missing)) for p in range(topics[t])
        ]
        offsets = self._target_offsets(partitions, to_datetime)
        local = Path(state_dir) / app
        return ResetPlan(
            app,
            internal,
            offsets,
            local if local.exists() else None,
            "earliest" if to_datetime is None else to_datetime.isoformat(),
            missing,
        )

    def execute(self, plan: ResetPlan, progress: Callable[[str], None]) -> None:
        """Offsets first, then topics, then local state (Kafka's resetter's order): a reset
        cut short is rerun, and every step is safe to repeat."""
        app = plan.application_id
        progress(f"removing the committed offsets of group {app!r} ...")
        try:
            self._admin.delete_consumer_groups([app], request_timeout=self._timeout)[app].result()
        except KafkaException as exc:  # no such group: nothing committed yet
            progress(f"  (group not deleted: {_reason(exc)})")
        if plan.offsets:
            progress(f"committing {plan.to} offsets on {len(plan.offsets)} input partitions ...")
            self._commit(plan.offsets)
        failures = []
        if plan.internal_topics:
            progress(f"deleting {len(plan.internal_topics)} internal topics ...")
            futures = self._admin.delete_topics(plan.internal_topics, operation_timeout=30)
            for name, future in futures.items():
                try:
                    future.result()
                    progress(f"  deleted {name}")
                except KafkaException as exc:
                    if exc.args and exc.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                        progress(f"  {name} was already gone")
                    else:
                        failures.append(f"{name}: {_reason(exc)}")
        if plan.state_dir is not None:
            progress(f"removing local state {plan.state_dir} ...")
            try:
                shutil.rmtree(plan.state_dir)
            except OSError as exc:
                failures.append(f"{plan.state_dir}: {exc}")
        if failures:
            raise KStreamliteError(
                "the reset did not finish: "
                + "; ".join(failures)
                + ". Fix the cause (the broker must allow topic deletion, delete.topic.enable, "
                "and this user must have the rights) and run the reset again"
            )
        progress(f"reset of {app!r} done: the next run reprocesses its input from {plan.to}")

    # ---- broker calls ----

    def _topics(self) -> dict[str, int]:
        return partition_counts(self._bootstrap, self._timeout)

    def _refuse_if_active(self) -> None:
        app = self.application_id
        try:
            group = self._admin.describe_consumer_groups([app], request_timeout=self._timeout)[
                app
            ].result()
        except KafkaException as exc:
            if _code(exc) == KafkaError.GROUP_ID_NOT_FOUND:
                return  # an unknown group has no members
            raise KStreamliteError(
                f"could not check whether application {app!r} is running ({_reason(exc)}); "
                "the reset needs to know: retry once the broker answers"
            ) from exc
        members = list(getattr(group, "members", None) or [])
        if members:
            hosts = sorted({f"{m.client_id}@{m.host}" for m in members})
            raise KStreamliteError(
                f"application {app!r} is running ({len(members)} members in its consumer group: "
                f"{', '.join(hosts)}); stop every instance before resetting it"
            )

    def _committed(self) -> list[TopicPartition]:
        app = self.application_id
        try:
            result = self._admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(app)], request_timeout=self._timeout
            )[app].result()
        except KafkaException as exc:
            if _code(exc) == KafkaError.GROUP_ID_NOT_FOUND:
                return []
            raise KStreamliteError(
                f"could not read the committed offsets of group {app!r} ({_reason(exc)}); "
                "retry once the broker answers, or name the inputs with --input-topics"
            ) from exc
        return [tp for tp in result.topic_partitions if tp.offset >= 0]

    def _target_offsets(
        self, partitions: list[TopicPartition], to_datetime: datetime | None
    ) -> list[TopicPartition]:
        if not partitions:
            return []
        consumer = Consumer(
            {"bootstrap.servers": self._bootstrap, "group.id": f"{self.application_id}-reset"}
        )
        try:
            return self._lookup(consumer, partitions, to_datetime)
        except KafkaException as exc:
            raise KStreamliteError(
                f"could not look up the input offsets to reset to: {_reason(exc)}"
            ) from exc
        finally:
            consumer.close()

    def _lookup(
        self, consumer: Consumer, partitions: list[TopicPartition], to_datetime: datetime | None
    ) -> list[TopicPartition]:
        if to_datetime is None:
            return [
                TopicPartition(
                    tp.topic,
                    tp.partition,
                    consumer.get_watermark_offsets(tp, timeout=self._timeout)[0],
                )
                for tp in partitions
            ]
        ms = int(to_datetime.timestamp() * 1000)
        found = consumer.offsets_for_times(
            [TopicPartition(tp.topic, tp.partition, ms) for tp in partitions],
            timeout=self._timeout,
        )
        targets = []
        for tp in found:
            low, high = consumer.get_watermark_offsets(tp, timeout=self._timeout)
            offset = high if tp.offset < 0 else tp.offset  # nothing that late: the end
            if not self._is_first_at(consumer, tp, offset, ms, low, high):
                offset = self._scan_for_time(consumer, tp, ms, low, high)
            targets.append(TopicPartition(tp.topic, tp.partition, offset))
        return targets

    def _timestamp_at(self, consumer: Consumer, tp: TopicPartition, offset: int) -> int | None:
        consumer.assign([TopicPartition(tp.topic, tp.partition, offset)])
        for msg in consumer.consume(1, self._timeout):
            if msg.error() is None:
                return int(msg.timestamp()[1])
        return None

    def _is_first_at(
        self, consumer: Consumer, tp: TopicPartition, offset: int, ms: int, low: int, high: int
    ) -> bool:
        """Does the broker's time lookup hold? Some brokers (Tansu) answer every lookup
        with the log start; check the records either side of its answer."""
        if offset < high:
            at = self._timestamp_at(consumer, tp, offset)
            if at is None or at < ms:
                return False
        if offset > low:
            before = self._timestamp_at(consumer, tp, offset - 1)
            if before is None or before >= ms:
                return False
        return True

    def _scan_for_time(
        self, consumer: Consumer, tp: TopicPartition, ms: int, low: int, high: int
    ) -> int:
        """The first offset whose timestamp is at or after ``ms``, by reading the partition."""
        consumer.assign([TopicPartition(tp.topic, tp.partition, low)])
        position = low
        while position < high:
            messages = consumer.consume(10_000, self._timeout)
            if not messages:
                break
            for msg in messages:
                if msg.error() is None:
                    if msg.timestamp()[1] >= ms:
                        return int(msg.offset())
                    position = msg.offset() + 1
        return high

    def _commit(self, offsets: list[TopicPartition]) -> None:
        consumer = Consumer(
            {
                "bootstrap.servers": self._bootstrap,
                "group.id": self.application_id,
                "enable.auto.commit": False,
            }
        )
        try:
            consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            raise KStreamliteError(
                f"could not commit the reset offsets for group {self.application_id!r}: {exc}"
            ) from exc
        finally:
            consumer.close()


def _code(exc: KafkaException) -> int | None:
    error = exc.args[0] if exc.args else None
    return error.code() if isinstance(error, KafkaError) else None


def _reason(exc: KafkaException) -> str:
    error = exc.args[0] if exc.args else exc
    return str(error.str() if isinstance(error, KafkaError) else error)
