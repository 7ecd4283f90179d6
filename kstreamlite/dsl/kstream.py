"""KStream: a record stream and its stateless operators (each adds one node to the Topology)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..errors import TopologyError
from ..processor import _operators as ops
from ..processor.api import ProcessNode
from ..serdes import Serde

if TYPE_CHECKING:
    from ..processor._node import NodeProcessor
    from ..topology import Partitioner
    from ..windows.specs import JoinWindows
    from .builder import StreamsBuilder
    from .grouped import KGroupedStream
    from .ktable import KTable
    from .materialized import Materialized


def _require_callable(fn: Any, what: str) -> None:
    if not callable(fn):
        raise TopologyError(f"{what} must be a function, got {type(fn).__name__}")


class KStream:
    """An unbounded stream of key-value records.

    >>> stream.filter(lambda k, v: v["amount"] > 100).map_values(lambda v: v["amount"]).to("big")
    """

    def __init__(
        self,
        builder: StreamsBuilder,
        node: str,
        key_serde: Serde[Any] | None = None,
        value_serde: Serde[Any] | None = None,
        repartition_required: bool = False,
    ) -> None:
        self._builder = builder
        self._node = node
        self.key_serde = key_serde
        self.value_serde = value_serde
        self.repartition_required = repartition_required

    @property
    def node_name(self) -> str:
        return self._node

    def _then(
        self,
        prefix: str,
        name: str | None,
        factory: Callable[[], NodeProcessor],
        *,
        key_changed: bool = False,
        value_changed: bool = False,
    ) -> KStream:
        node = name or self._builder.new_name(prefix)
        self._builder.topology.add_processor(node, factory, self._node)
        return KStream(
            self._builder,
            node,
            None if key_changed else self.key_serde,
            None if value_changed else self.value_serde,
            self.repartition_required or key_changed,
        )

    # ---- stateless operators ----

    def filter(self, predicate: Callable[[Any, Any], Any], *, name: str | None = None) -> KStream:
        """Keep records for which ``predicate(key, value)`` is true."""
        _require_callable(predicate, "filter predicate")
        return self._then("KSTREAM-FILTER-", name, lambda: ops.Filter(predicate))

    def filter_not(
        self, predicate: Callable[[Any, Any], Any], *, name: str | None = None
    ) -> KStream:
        """Drop records for which ``predicate(key, value)`` is true."""
        _require_callable(predicate, "filter_not predicate")
        return self._then("KSTREAM-FILTER-", name, lambda: ops.FilterNot(predicate))

    def map(self, fn: Callable[[Any, Any], tuple[Any, Any]], *, name: str | None = None) -> KStream:
        """Replace each record by ``fn(key, value) -> (new_key, new_value)``."""
        _require_callable(fn, "map function")
        return self._then(
            "KSTREAM-MAP-", name, lambda: ops.Map(fn), key_changed=True, value_changed=True
        )

    def map_values(self, fn: Callable[[Any], Any], *, name: str | None = None) -> KStream:
        """Replace each value by ``fn(value)``; the key (and partitioning) stays."""
        _require_callable(fn, "map_values function")
        return self._then("KSTREAM-MAPVALUES-", name, lambda: ops.MapValues(fn), value_changed=True)

    def flat_map(
        self, fn: Callable[[Any, Any], Iterable[tuple[Any, Any]]], *, name: str | None = None
    ) -> KStream:
        """Replace each record by the ``(key, value)`` pairs ``fn(key, value)`` yields."""
        _require_callable(fn, "flat_map function")
        return self._then(
            "KSTREAM-FLATMAP-", name, lambda: ops.FlatMap(fn), key_changed=True, value_changed=True
        )

    def flat_map_values(
        self, fn: Callable[[Any], Iterable[Any]], *, name: str | None = None
    ) -> KStream:
        """Replace each record by one record per value ``fn(value)`` yields, same key."""
        _require_callable(fn, "flat_map_values function")
        return self._then(
            "KSTREAM-FLATMAPVALUES-", name, lambda: ops.FlatMapValues(fn), value_changed=True
        )

    def select_key(self, fn: Callable[[Any, Any], Any], *, name: str | None = None) -> KStream:
        """Set each record's key to ``fn(key, value)``."""
        _require_callable(fn, "select_key function")
        return self._then("KSTREAM-KEY-SELECT-", name, lambda: ops.SelectKey(fn), key_changed=True)

    def peek(self, fn: Callable[[Any, Any], Any], *, name: str | None = None) -> KStream:
        """Call ``fn(key, value)`` for its side effect and pass the record on."""
        _require_callable(fn, "peek function")
        return self._then("KSTREAM-PEEK-", name, lambda: ops.Peek(fn))

    def foreach(self, fn: Callable[[Any, Any], Any], *, name: str | None = None) -> None:
        """Call ``fn(key, value)`` for every record; ends the stream."""
        _require_callable(fn, "foreach function")
        self._then("KSTREAM-FOREACH-", name, lambda: ops.Peek(fn))

    def split(self, prefix: str = "") -> BranchedKStream:
        """Route each record to the first matching ``branch``; see BranchedKStream."""
        return BranchedKStream(self, prefix)

    def merge(self, other: KStream, *, name: str | None = None) -> KStream:
        """Interleave two streams of the same builder into one."""
        if not isinstance(other, KStream) or other._builder is not self._builder:
            raise TopologyError("merge() takes a KStream from the same StreamsBuilder")
        node = name or self._builder.new_name("KSTREAM-MERGE-")
        self._builder.topology.add_processor(node, ops.PassThrough, self._node, other._node)
        same_key = self.key_serde if self.key_serde is other.key_serde else None
        same_value = self.value_serde if self.value_serde is other.value_serde else None
        return KStream(
            self._builder,
            node,
            same_key,
            same_value,
            self.repartition_required or other.repartition_required,
        )

    def to(
        self,
        topic: str | Callable[[Any, Any], str],
        *,
        key_serde: Serde[Any] | None = None,
        value_serde: Serde[Any] | None = None,
        partitioner: Partitioner | None = None,
        name: str | None = None,
    ) -> None:
        """Write to a topic, or to the topic ``topic(key, value)`` names per record.

        ``partitioner(topic, key, value, num_partitions) -> partition | None`` overrides
        Kafka's default (murmur2 of the key bytes, as the Java client does).
        """
        if partitioner is not None:
            _require_callable(partitioner, "partitioner")
        node = name or self._builder.new_name("KSTREAM-SINK-")
        self._builder.topology.add_sink(
            node,
            topic,
            self._node,
            key_serde=key_serde or self.key_serde,
            value_serde=value_serde or self.value_serde,
            partitioner=partitioner,
        )

    def repartition(
        self,
        *,
        name: str | None = None,
        num_partitions: int | None = None,
        key_serde: Serde[Any] | None = None,
        value_serde: Serde[Any] | None = None,
    ) -> KStream:
        """Send the stream through ``<application_id>-<name>-repartition`` so records are
        partitioned by their current key; downstream is a new sub-topology."""
        base = name or self._builder.new_name("KSTREAM-REPARTITION-")
        key_serde = key_serde or self.key_serde
        value_serde = value_serde or self.value_serde
        source = self._builder.topology.add_repartition(
            base,
            self._node,
            key_serde=key_serde,
            value_serde=value_serde,
            num_partitions=num_partitions,
        )
        return KStream(self._builder, source, key_serde, value_serde)

    # ---- grouping ----

    def group_by_key(
        self,
        *,
        key_serde: Serde[Any] | None = None,
        value_serde: Serde[Any] | None = None,
        name: str | None = None,
    ) -> KGroupedStream:
        """Group by the current key (repartitioning first if an earlier step changed it)."""
        from .grouped import KGroupedStream

        return KGroupedStream(
            self, key_serde or self.key_serde, value_serde or self.value_serde, name
        )

    def group_by(
        self,
        key_selector: Callable[[Any, Any], Any],
        *,
        key_serde: Serde[Any] | None = None,
        value_serde: Serde[Any] | None = None,
        name: str | None = None,
    ) -> KGroupedStream:
        """Group by ``key_selector(key, value)``; records are repartitioned by the new key."""
        from .grouped import KGroupedStream

        _require_callable(key_selector, "group_by key selector")
        selected = self.select_key(key_selector)
        return KGroupedStream(selected, key_serde, value_serde or self.value_serde, name)

    # ---- joins ----

    def join(
        self,
        other: Any,
        joiner: Callable[[Any, Any], Any],
        windows: JoinWindows | None = None,
        *,
        key_selector: Callable[[Any, Any], Any] | None = None,
        name: str | None = None,
    ) -> KStream:
        """Inner join with a KStream (``windows=JoinWindows`` required), a KTable (by key),
        or a GlobalKTable (``key_selector(key, value)`` finds the row); ``joiner(v1, v2)``."""
        from .joins import INNER, join_stream

        return join_stream(self, other, joiner, windows, key_selector, name, INNER)

    def left_join(
        self,
        other: Any,
        joiner: Callable[[Any, Any], Any],
        windows: JoinWindows | None = None,
        *,
        key_selector: Callable[[Any, Any], Any] | None = None,
        name: str | None = None,
    ) -> KStream:
        """Like join(), but every record of this stream yields a result: ``joiner(v, None)``
        when nothing matches (for a stream-stream join, once its window has closed)."""
        from .joins import LEFT, join_stream

        return join_stream(self, other, joiner, windows, key_selector, name, LEFT)

    def outer_join(
        self,
        other: KStream,
        joiner: Callable[[Any, Any], Any],
        windows: JoinWindows | None = None,
        *,
        name: str | None = None,
    ) -> KStream:
        """Stream-stream only: unmatched records of either side yield ``joiner(v, None)``
        or ``joiner(None, v)`` once their window has closed."""
        from .joins import OUTER, join_stream

        return join_stream(self, other, joiner, windows, None, name, OUTER)

    def to_table(self, *, materialized: str | Materialized | None = None) -> KTable:
        """This stream as a table: each record upserts its key (a None value deletes it)."""
        from .ktable import materialize

        return materialize(
            self._builder,
            self._node,
            materialized,
            self.key_serde,
            self.value_serde,
            "KSTREAM-TOTABLE-STATE-STORE-",
        )

    # ---- Processor API ----

    def process(
        self,
        processor_factory: Callable[[], Any],
        *,
        stores: Iterable[str] = (),
        name: str | None = None,
    ) -> KStream:
        """Run a user Processor per task; the result is the stream of what it forwards."""
        _require_callable(processor_factory, "processor_factory")
        store_names = list(stores)
        node = name or self._builder.new_name("KSTREAM-PROCESSOR-")
        self._builder.topology.add_processor(
            node, lambda: ProcessNode(processor_factory), self._node, stores=store_names
        )
        return KStream(self._builder, node, None, None, True)


class BranchedKStream:
    """``stream.split(prefix).branch(pred, name=...)...default_branch()`` -> dict of KStreams.

    Branches are numbered from 1 when unnamed; the default branch is ``prefix + "0"``.
    """

    def __init__(self, stream: KStream, prefix: str) -> None:
        self._stream = stream
        self._prefix = prefix
        builder = stream._builder
        self._split_node = prefix or builder.new_name("KSTREAM-BRANCH-")
        self._predicates: list[Callable[[Any, Any], Any]] = []
        self._branch_nodes: list[str] = []
        self._default_node: str | None = None
        self._result: dict[str, KStream] = {}
        self._done = False
        predicates, branch_nodes = self._predicates, self._branch_nodes
        builder.topology.add_processor(
            self._split_node,
            lambda: ops.Split(list(predicates), list(branch_nodes), self._default_node),
            stream._node,
        )

    def branch(
        self, predicate: Callable[[Any, Any], Any], *, name: str | None = None
    ) -> BranchedKStream:
        if self._done:
            raise TopologyError("split(): branch() after default_branch()/no_default_branch()")
        _require_callable(predicate, "branch predicate")
        self._predicates.append(predicate)
        self._branch_nodes.append(self._add_branch(name or str(len(self._predicates))))
        return self

    def default_branch(self, *, name: str | None = None) -> dict[str, KStream]:
        self._finish()
        self._default_node = self._add_branch(name or "0")
        return dict(self._result)

    def no_default_branch(self) -> dict[str, KStream]:
        self._finish()
        return dict(self._result)

    def _finish(self) -> None:
        if self._done:
            raise TopologyError("split(): the branches are already finished")
        self._done = True

    def _add_branch(self, branch_name: str) -> str:
        key = self._prefix + branch_name
        if key in self._result:
            raise TopologyError(f"split(): two branches are named {key!r}")
        node = self._split_node + "-" + branch_name if not self._prefix else key
        stream = self._stream
        stream._builder.topology.add_processor(node, ops.PassThrough, self._split_node)
        self._result[key] = KStream(
            stream._builder,
            node,
            stream.key_serde,
            stream.value_serde,
            stream.repartition_required,
        )
        return node
