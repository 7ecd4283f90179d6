"""Start-up checks and internal topics: the broker answers, source topics exist,
co-partitioned topics agree on partition counts, repartition topics are created."""

from __future__ import annotations

import logging
import time
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from ..errors import BrokerUnavailableError, MissingSourceTopicError, TopologyError
from ..topology import SinkDef, SourceDef, Topology

log = logging.getLogger("kstreamlite.topics")


def partition_counts(
    admin: AdminClient,
    bootstrap: str,
    timeout_s: float,
    setting: str = "bootstrap_servers (or KSTREAMLITE_BOOTSTRAP_SERVERS)",
) -> dict[str, int]:
    """Every topic on the broker with its partition count; an unreachable broker raises
    BrokerUnavailableError naming ``setting``, where the address came from."""
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise BrokerUnavailableError(
            f"no Kafka broker answered at {bootstrap!r} within {timeout_s:.0f} s "
            f"({exc.args[0] if exc.args else exc}); check {setting} and that the broker "
            "is running"
        ) from exc
    return {
        name: len(t.partitions)
        for name, t in metadata.topics.items()
        if t.error is None or t.error.code() == KafkaError.NO_ERROR
    }


class TopicManager:
    def __init__(
        self,
        admin: AdminClient,
        bootstrap: str,
        application_id: str,
        replication_factor: int,
        timeout_s: float,
    ) -> None:
        self._admin = admin
        self._bootstrap = bootstrap
        self._app = application_id
        self._replication = replication_factor
        self._timeout = timeout_s

    def actual(self, internal_name: str) -> str:
        return f"{self._app}-{internal_name}"

    def partition_counts(self) -> dict[str, int]:
        """Every topic on the broker with its partition count; fails clearly if unreachable."""
        return partition_counts(self._admin, self._bootstrap, self._timeout)

    def prepare(self, topology: Topology) -> dict[str, int]:
        """Validate sources, create repartition topics; return partition count per topic read."""
        counts = self.partition_counts()
        missing = [
            t for t in [*topology.source_topics(), *topology.global_topics] if t not in counts
        ]
        if missing:
            raise MissingSourceTopicError(
                f"source topic(s) {', '.join(repr(t) for t in missing)} do not exist on "
                f"{self._bootstrap}; create them before starting the application "
                f"(kstreamlite does not auto-create input topics)"
            )
        wanted = self._repartition_counts(topology, counts)
        self._create(wanted, counts)
        resolved = {t: counts[t] for t in topology.source_topics()}
        resolved.update({self.actual(s): n for s, n in wanted.items()})
        self._check_copartitioning(topology, resolved)
        changelogs = self._changelog_counts(topology, resolved)
        configs = {b.changelog_suffix: b.changelog_config for b in topology.store_builders.values()}
        self._create(changelogs, counts, configs)
        resolved.update({self.actual(s): n for s, n in changelogs.items()})
        return resolved

    def ensure(self, suffix: str, partitions: int) -> str:
        """An internal topic of the application beyond the topology's own; its name."""
        self._create({suffix: partitions}, self.partition_counts())
        return self.actual(suffix)

    def _changelog_counts(self, topology: Topology, counts: dict[str, int]) -> dict[str, int]:
        """One changelog partition per task: as many as the store's sub-topology has inputs."""
        result = {}
        for sub in topology.subtopologies():
            inputs = [
                counts[self.actual(t) if t in topology.repartition_topics else t]
                for t in sub.source_topics
            ]
            for name in sub.nodes:
                node = topology.node(name)
                for store in getattr(node, "stores", ()):
                    suffix = topology.store_builders[store].changelog_suffix
                    if suffix is not None:
                        result[suffix] = max(inputs)
        return result

    def _repartition_counts(self, topology: Topology, counts: dict[str, int]) -> dict[str, int]:
        """A repartition topic gets ``num_partitions`` or its writers' max input count."""
        subs = topology.subtopologies()
        sub_of_node = {n: s for s in subs for n in s.nodes}
        declared = topology.repartition_topics
        result: dict[str, int] = {}
        for _ in range(len(declared) + 1):
            for suffix, spec in declared.items():
                if suffix in result:
                    continue
                if spec.num_partitions is not None:
                    result[suffix] = spec.num_partitions
                    continue
                if spec.copartition_node is not None:
                    others = [
                        result.get(t) if t in declared else counts.get(t)
                        for t in sub_of_node[spec.copartition_node].source_topics
                        if t != suffix
                    ]
                    if others and all(c is not None for c in others):
                        result[suffix] = max(c for c in others if c is not None)
                    continue
                writers = [
                    n
                    for n in topology.nodes.values()
                    if isinstance(n, SinkDef) and n.internal and n.topic == suffix
                ]
                inputs: list[int | None] = []
                for writer in writers:
                    for topic in sub_of_node[writer.name].source_topics:
                        if topic in declared:
                            inputs.append(result.get(topic))
                        else:
                            inputs.append(counts.get(topic))
                if inputs and all(c is not None for c in inputs):
                    result[suffix] = max(c for c in inputs if c is not None)
        unresolved = set(declared) - set(result)
        if unresolved:
            raise TopologyError(
                f"cannot derive partition counts of repartition topics {sorted(unresolved)}; "
                "pass num_partitions= to repartition()"
            )
        return result

    def _create(
        self,
        wanted: dict[str, int],
        counts: dict[str, int],
        configs: dict[Any, dict[str, str]] | None = None,
    ) -> None:
        """Create the missing topics of ``wanted``; ``configs`` per topic suffix."""
        new = []
        for suffix, partitions in wanted.items():
            name = self.actual(suffix)
            if name in counts:
                if counts[name] != partitions:
                    raise TopologyError(
                        f"internal topic {name!r} exists with {counts[name]} partitions but "
                        f"the topology needs {partitions}; reset the application "
                        "(delete its internal topics) or set num_partitions to match"
                    )
                continue
            new.append(
                NewTopic(
                    name,
                    num_partitions=partitions,
                    replication_factor=self._replication,
                    config=dict((configs or {}).get(suffix, {})),
                )
            )
        if not new:
            return
        futures = self._admin.create_topics(new, operation_timeout=self._timeout)
        for name, future in futures.items():
            try:
                future.result(timeout=self._timeout)
                log.info("created internal topic %s", name)
            except KafkaException as exc:
                error = exc.args[0] if exc.args else None
                exists = KafkaError.TOPIC_ALREADY_EXISTS
                if isinstance(error, KafkaError) and error.code() == exists:
                    continue
                raise TopologyError(f"cannot create internal topic {name!r}: {exc}") from exc
        self._await_visible([t.topic for t in new])

    def _await_visible(self, names: list[str]) -> None:
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if all(n in self.partition_counts() for n in names):
                return
            time.sleep(0.1)
        raise TopologyError(f"internal topics {names} did not appear within {self._timeout} s")

    def _check_copartitioning(self, topology: Topology, counts: dict[str, Any]) -> None:
        for sub in topology.subtopologies():
            actual = []
            for name in sub.nodes:
                node = topology.node(name)
                if isinstance(node, SourceDef):
                    actual += [self.actual(t) if node.internal else t for t in node.topics]
            distinct = {counts[t] for t in actual}
            if len(distinct) > 1:
                listing = ", ".join(f"{t!r} has {counts[t]}" for t in actual)
                raise TopologyError(
                    f"topics read together in sub-topology {sub.id} must have the same number "
                    f"of partitions (co-partitioning): {listing}; repartition one of them"
                )
