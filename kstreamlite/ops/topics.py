"""The topics an application touches, with what the broker says of each."""

from __future__ import annotations

from confluent_kafka.admin import AdminClient

from ..runtime.internal_topics import partition_counts as broker_partition_counts
from ..topology import Topology


def application_topics(topology: Topology, application_id: str) -> list[tuple[str, str]]:
    """(role, topic) for every topic of the application, in the order a reader scans:
    sources, sinks, then internal topics."""
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()

    def add(role: str, topic: str) -> None:
        if topic not in seen:
            seen.add(topic)
            rows.append((role, topic))

    for topic in topology.source_topics():
        add("source", topic)
    for topic in topology.global_topics:
        add("global table", topic)
    for topic in topology.sink_topics():
        add("sink", topic)
    for suffix in topology.repartition_topics:
        add("repartition", f"{application_id}-{suffix}")
    for builder in topology.store_builders.values():
        suffix = builder.changelog_suffix
        if suffix is not None:
            add("changelog", f"{application_id}-{suffix}")
    return rows


def partition_counts(bootstrap_servers: str, timeout_s: float = 15.0) -> dict[str, int]:
    """The broker's topics for the command-line tools, whose address is a flag."""
    return broker_partition_counts(
        AdminClient({"bootstrap.servers": bootstrap_servers}),
        bootstrap_servers,
        timeout_s,
        setting="--bootstrap-servers (or KSTREAMLITE_BOOTSTRAP_SERVERS)",
    )


def topics_table(topology: Topology, application_id: str, counts: dict[str, int] | None) -> str:
    """A plain-text table: role, topic, partitions (or why there are none)."""
    rows = [("ROLE", "TOPIC", "PARTITIONS")]
    for role, topic in application_topics(topology, application_id):
        if counts is None:
            shown = "?"
        elif topic in counts:
            shown = str(counts[topic])
        elif role in ("repartition", "changelog"):
            shown = "not yet created (made at start)"
        else:
            shown = "MISSING"
        rows.append((role, topic, shown))
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    return "\n".join(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]}" for r in rows)
