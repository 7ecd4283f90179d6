"""Topology: the graph of named nodes a StreamsBuilder compiles to, split into sub-topologies.

This is the one seam between the DSL and every runtime (KafkaStreams, TopologyTestDriver):
it holds node *definitions* only; each task instantiates its own processors from them.
It never talks to Kafka.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import TopologyError
from .serdes import Serde
from .state.builders import KeyValueStoreBuilder

if TYPE_CHECKING:
    from .processor._node import NodeProcessor

TimestampExtractor = Callable[[Any, Any, int], int]
TopicExtractor = Callable[[Any, Any], str]
Partitioner = Callable[[str, Any, Any, int], "int | None"]


@dataclass(eq=False)
class NodeDef:
    """A named node of the graph; ``order`` is its creation index (describe() and task order)."""

    name: str
    order: int
    parents: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)


@dataclass(eq=False)
class SourceDef(NodeDef):
    topics: list[str] = field(default_factory=list)
    key_serde: Serde[Any] | None = None
    value_serde: Serde[Any] | None = None
    timestamp_extractor: TimestampExtractor | None = None
    watermark: Any = None
    internal: bool = False
    table: bool = False  # read as a table: not part of the task's watermark


@dataclass(eq=False)
class ProcessorDef(NodeDef):
    factory: Callable[[], NodeProcessor] | None = None
    stores: list[str] = field(default_factory=list)


@dataclass(eq=False)
class SinkDef(NodeDef):
    topic: str | None = None
    topic_extractor: TopicExtractor | None = None
    key_serde: Serde[Any] | None = None
    value_serde: Serde[Any] | None = None
    partitioner: Partitioner | None = None
    internal: bool = False


@dataclass(frozen=True)
class RepartitionTopic:
    """An internal topic; its real name is ``<application_id>-<suffix>``."""

    suffix: str
    num_partitions: int | None = None
    # Take the partition count of the sub-topology holding this node (its other inputs)
    # rather than the writers': a foreign-key join's topics must match what they join.
    copartition_node: str | None = None


@dataclass(frozen=True)
class GlobalTableDef:
    """A global table: every instance reads all partitions of ``topic`` into ``store``."""

    topic: str
    store: KeyValueStoreBuilder


@dataclass
class SubTopology:
    """A connected part of the graph; it becomes one task per input partition."""

    id: int
    nodes: list[str]
    source_topics: list[str]  # as named in the topology (internal ones by suffix)


class Topology:
    """A graph of sources, processors and sinks; build one with StreamsBuilder or by hand."""

    def __init__(self) -> None:
        self._nodes: dict[str, NodeDef] = {}
        self._topic_to_source: dict[str, str] = {}
        self._repartition_topics: dict[str, RepartitionTopic] = {}
        self._stores: dict[str, KeyValueStoreBuilder] = {}
        self._global_tables: dict[str, GlobalTableDef] = {}  # by store name
        self._counter = 0

    # ---- construction (the low-level Processor API, also what the DSL calls) ----

    def add_source(
        self,
        name: str,
        *topics: str,
        key_serde: Serde[Any] | None = None,
        value_serde: Serde[Any] | None = None,
        timestamp_extractor: TimestampExtractor | None = None,
        watermark: Any = None,
        internal: bool = False,
        table: bool = False,
    ) -> Topology:
        if not topics:
            raise TopologyError(f"source {name!r} needs at least one topic")
        for topic in topics:
            if not isinstance(topic, str) or not topic:
                raise TopologyError(f"source {name!r}: topic names must be non-empty strings")
            if topic in self.global_topics:
                raise TopologyError(f"topic {topic!r} is already read by a global table")
            if topic in self._topic_to_source:
                raise TopologyError(
                    f"topic {topic!r} is already read by source {self._topic_to_source[topic]!r}; "
                    "read it once and reuse the stream (or merge streams)"
                )
        self._add(
            SourceDef(
                name=name,
                order=self._next_order(),
                topics=list(topics),
                key_serde=key_serde,
                value_serde=value_serde,
                timestamp_extractor=timestamp_extractor,
                watermark=watermark,
                internal=internal,
                table=table,
            ),
            (),
        )
        for topic in topics:
            self._topic_to_source[topic] = name
        return self

    def add_processor(
        self,
        name: str,
        factory: Callable[[], NodeProcessor],
        *parents: str,
        stores: Iterable[str] = (),
    ) -> Topology:
        if not parents:
            raise TopologyError(f"processor {name!r} needs at least one parent node")
        self._add(
            ProcessorDef(name=name, order=self._next_order(), factory=factory, stores=list(stores)),
            parents,
        )
        return self

    def add_sink(
        self,
        name: str,
        topic: str | TopicExtractor,
        *parents: str,
        key_serde: Serde[Any] | None = None,
        value_serde: Serde[Any] | None = None,
        partitioner: Partitioner | None = None,
        internal: bool = False,
    ) -> Topology:
        if not parents:
            raise TopologyError(f"sink {name!r} needs at least one parent node")
        if isinstance(topic, str):
            if not topic:
                raise TopologyError(f"sink {name!r}: the topic name is empty")
            node = SinkDef(name=name, order=self._next_order(), topic=topic)
        elif callable(topic):
            node = SinkDef(name=name, order=self._next_order(), topic_extractor=topic)
        else:
            raise TopologyError(
                f"sink {name!r}: topic must be a topic name or a function (key, value) -> topic"
            )
        node.key_serde, node.value_serde = key_serde, value_serde
        node.partitioner, node.internal = partitioner, internal
        self._add(node, parents)
        return self

    def add_state_store(self, builder: KeyValueStoreBuilder, *processors: str) -> Topology:
        """Register a store and connect it to processors (which may also be added later)."""
        if not isinstance(builder, KeyValueStoreBuilder):
            raise TopologyError(
                f"add_state_store() takes a store builder from kstreamlite.state.Stores, "
                f"not {type(builder).__name__}"
            )
        existing = self._stores.get(builder.name)
        if existing is not None and existing is not builder:
            raise TopologyError(f"a different state store named {builder.name!r} already exists")
        self._stores[builder.name] = builder
        for name in processors:
            self.connect_store(builder.name, name)
        return self

    def add_global_table(self, topic: str, store: KeyValueStoreBuilder) -> Topology:
        """A table every instance holds whole (all partitions), outside any task."""
        if not isinstance(topic, str) or not topic:
            raise TopologyError("a global table needs a non-empty topic name")
        if topic in self._topic_to_source or topic in self.global_topics:
            raise TopologyError(f"topic {topic!r} is already read by this topology")
        if store.name in self._stores or store.name in self._global_tables:
            raise TopologyError(f"a state store named {store.name!r} already exists")
        self._global_tables[store.name] = GlobalTableDef(topic, store)
        return self

    @property
    def global_tables(self) -> dict[str, GlobalTableDef]:
        return dict(self._global_tables)

    @property
    def global_topics(self) -> list[str]:
        return [g.topic for g in self._global_tables.values()]

    def connect_store(self, store: str, processor: str) -> None:
        if store not in self._stores:
            raise TopologyError(
                f"state store {store!r} is not registered; add it with "
                "builder.add_state_store(Stores.key_value_store_builder(...))"
            )
        node = self._nodes.get(processor)
        if not isinstance(node, ProcessorDef):
            raise TopologyError(f"cannot connect store {store!r}: {processor!r} is no processor")
        if store not in node.stores:
            node.stores.append(store)

    @property
    def store_builders(self) -> dict[str, KeyValueStoreBuilder]:
        return dict(self._stores)

    def add_repartition_topic(
        self,
        suffix: str,
        num_partitions: int | None = None,
        copartition_node: str | None = None,
    ) -> None:
        if suffix in self._repartition_topics:
            raise TopologyError(
                f"repartition topic {suffix!r} already exists; give the operation another name"
            )
        if num_partitions is not None and num_partitions < 1:
            raise TopologyError(f"repartition {suffix!r}: num_partitions must be >= 1")
        self._repartition_topics[suffix] = RepartitionTopic(
            suffix, num_partitions, copartition_node
        )

    def add_repartition(
        self,
        base: str,
        parent: str,
        *,
        key_serde: Serde[Any] | None,
        value_serde: Serde[Any] | None,
        num_partitions: int | None = None,
    ) -> str:
        """Route ``parent`` through the internal topic ``<base>-repartition``; returns the
        name of the source node that reads it back (the start of a new sub-topology)."""
        topic = f"{base}-repartition"
        self.add_repartition_topic(topic, num_partitions)
        self.add_sink(
            f"{topic}-sink",
            topic,
            parent,
            key_serde=key_serde,
            value_serde=value_serde,
            internal=True,
        )
        source = f"{topic}-source"
        self.add_source(source, topic, key_serde=key_serde, value_serde=value_serde, internal=True)
        return source

    def _next_order(self) -> int:
        self._counter += 1
        return self._counter

    def _add(self, node: NodeDef, parents: Sequence[str]) -> None:
        if not isinstance(node.name, str) or not node.name:
            raise TopologyError("node names must be non-empty strings")
        if node.name in self._nodes:
            raise TopologyError(
                f"a node named {node.name!r} already exists; names must be unique "
                "(pass another name=)"
            )
        for store in node.stores if isinstance(node, ProcessorDef) else ():
            if store not in self._stores:
                raise TopologyError(
                    f"processor {node.name!r}: state store {store!r} is not registered; "
                    "add it with builder.add_state_store(...) first"
                )
        for parent in parents:
            parent_node = self._nodes.get(parent)
            if parent_node is None:
                raise TopologyError(f"node {node.name!r}: unknown parent node {parent!r}")
            if isinstance(parent_node, SinkDef):
                raise TopologyError(f"node {node.name!r}: sink {parent!r} cannot have children")
        self._nodes[node.name] = node
        for parent in parents:
            node.parents.append(parent)
            self._nodes[parent].children.append(node.name)

    # ---- inspection ----

    def node(self, name: str) -> NodeDef:
        try:
            return self._nodes[name]
        except KeyError:
            raise TopologyError(f"unknown node {name!r}") from None

    @property
    def nodes(self) -> dict[str, NodeDef]:
        return dict(self._nodes)

    @property
    def repartition_topics(self) -> dict[str, RepartitionTopic]:
        return dict(self._repartition_topics)

    def source_topics(self) -> list[str]:
        """User (non-internal) topics the topology reads."""
        return [
            t
            for n in self._nodes.values()
            if isinstance(n, SourceDef) and not n.internal
            for t in n.topics
        ]

    def sink_topics(self) -> list[str]:
        return [
            n.topic
            for n in self._nodes.values()
            if isinstance(n, SinkDef) and not n.internal and n.topic is not None
        ]

    def subtopologies(self) -> list[SubTopology]:
        """Connected components of the node graph, numbered in creation order."""
        parent_of: dict[str, str] = {name: name for name in self._nodes}

        def find(x: str) -> str:
            while parent_of[x] != x:
                parent_of[x] = parent_of[parent_of[x]]
                x = parent_of[x]
            return x

        for node in self._nodes.values():
            for child in node.children:
                parent_of[find(child)] = find(node.name)
        store_owner: dict[str, str] = {}
        for node in self._nodes.values():
            if isinstance(node, ProcessorDef):
                for store in node.stores:
                    if store in store_owner:
                        parent_of[find(node.name)] = find(store_owner[store])
                    else:
                        store_owner[store] = node.name
        groups: dict[str, list[str]] = {}
        for name in self._nodes:  # insertion order = creation order
            groups.setdefault(find(name), []).append(name)
        result = []
        for index, members in enumerate(groups.values()):
            topics = [
                t
                for m in members
                if isinstance(self._nodes[m], SourceDef)
                for t in self._nodes[m].topics  # type: ignore[attr-defined]
            ]
            if not topics:
                raise TopologyError(
                    f"nodes {members} are not connected to any source; every processor must "
                    "descend from builder.stream()/table() or Topology.add_source()"
                )
            result.append(SubTopology(index, members, topics))
        return result

    def describe(self) -> str:
        """Kafka Streams' TopologyDescription layout."""
        lines = ["Topologies:"]
        for sub in self.subtopologies():
            # Kafka's quirk, kept so tools that parse it work: only the first gets 3 spaces.
            indent = "   " if sub.id == 0 else "  "
            lines.append(f"{indent}Sub-topology: {sub.id}")
            for name in sub.nodes:
                node = self._nodes[name]
                if isinstance(node, SourceDef):
                    lines.append(f"    Source: {name} (topics: [{', '.join(node.topics)}])")
                elif isinstance(node, SinkDef):
                    if node.topic is not None:
                        lines.append(f"    Sink: {name} (topic: {node.topic})")
                    else:
                        fn = node.topic_extractor
                        label = getattr(fn, "__qualname__", type(fn).__name__)
                        lines.append(f"    Sink: {name} (extractor class: {label})")
                else:
                    stores = ", ".join(node.stores)  # type: ignore[attr-defined]
                    lines.append(f"    Processor: {name} (stores: [{stores}])")
                if not isinstance(node, SinkDef):
                    lines.append(f"      --> {', '.join(node.children) or 'none'}")
                if node.parents:
                    lines.append(f"      <-- {', '.join(node.parents)}")
            lines.append("")
        for table in self._global_tables.values():
            lines.append(f"  Sub-topology: global-{table.store.name} (will not generate tasks)")
            lines.append(f"    Source: {table.topic} (topics: [{table.topic}])")
            lines.append(f"    Global store: {table.store.name}")
            lines.append("")
        return "\n".join(lines) + "\n"

    def graph(self) -> dict[str, Any]:
        """describe() as data, for the status page: sub-topologies with their nodes, each
        with its kind, topics, stores and children; and the global tables."""
        subs = []
        for sub in self.subtopologies():
            nodes = []
            for name in sub.nodes:
                node = self._nodes[name]
                if isinstance(node, SourceDef):
                    kind, topics = "source", list(node.topics)
                elif isinstance(node, SinkDef):
                    kind = "sink"
                    topics = [node.topic] if node.topic is not None else ["(chosen per record)"]
                else:
                    kind, topics = "processor", []
                nodes.append(
                    {
                        "name": name,
                        "kind": kind,
                        "topics": topics,
                        "stores": list(getattr(node, "stores", ())),
                        "children": [] if kind == "sink" else list(node.children),
                    }
                )
            subs.append({"id": sub.id, "nodes": nodes})
        global_tables = [
            {"store": table.store.name, "topic": table.topic}
            for table in self._global_tables.values()
        ]
        return {"subtopologies": subs, "global_tables": global_tables}

    def __str__(self) -> str:
        return self.describe()
