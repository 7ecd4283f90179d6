"""How the DSL's joins become topology nodes and stores (KStream.join, KTable.join).

Every join but the global-table one needs both inputs in one task, so its processors
share stores, which puts them in one sub-topology; the runtime then checks that the
topics read together have equal partition counts (co-partitioning). A stream whose key
was changed is repartitioned first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import serdes
from ..errors import TopologyError
from ..processor import _operators as ops
from ..processor._join import (
    INNER,
    LEFT,
    OUTER,
    StreamGlobalJoin,
    StreamStreamJoin,
    StreamTableJoin,
    TableMaterialize,
    TableTableJoin,
)
from ..state.builders import KeyValueStoreBuilder, SuppressBufferBuilder, WindowStoreBuilder
from ..state.windowed import window_key_serde
from ..windows.specs import JoinWindows

if TYPE_CHECKING:
    from .global_table import GlobalKTable
    from .kstream import KStream
    from .ktable import KTable

Joiner = Callable[[Any, Any], Any]


def _require_joiner(joiner: Any) -> None:
    if not callable(joiner):
        raise TopologyError(f"the joiner must be a function (v1, v2), got {type(joiner).__name__}")


def join_stream(
    stream: KStream,
    other: Any,
    joiner: Joiner,
    windows: JoinWindows | None,
    key_selector: Callable[[Any, Any], Any] | None,
    name: str | None,
    mode: str,
) -> KStream:
    """KStream.join / left_join / outer_join, by the kind of ``other``."""
    from .global_table import GlobalKTable
    from .kstream import KStream
    from .ktable import KTable

    _require_joiner(joiner)
    if isinstance(other, KStream):
        if not isinstance(windows, JoinWindows):
            raise TopologyError(
                "a stream-stream join needs windows=JoinWindows.of(...): how far apart in "
                "time two records may be to join"
            )
        return _stream_stream(stream, other, joiner, windows, name, mode)
    if mode == OUTER:
        raise TopologyError(
            "outer_join() joins two KStreams (or two KTables); a stream-table join is "
            "join() or left_join()"
        )
    if windows is not None:
        raise TopologyError("windows= is only for stream-stream joins; drop it here")
    if isinstance(other, GlobalKTable):
        if key_selector is None or not callable(key_selector):
            raise TopologyError(
                "a stream-global table join needs key_selector=lambda key, value: table_key"
            )
        return _stream_global(stream, other, joiner, key_selector, name, mode)
    if isinstance(other, KTable):
        if key_selector is not None:
            raise TopologyError(
                "key_selector= is only for global table joins; for a KTable, re-key the "
                "stream first (select_key), which repartitions it by the table's key"
            )
        return _stream_table(stream, other, joiner, name, mode)
    raise TopologyError(
        f"join() takes a KStream, KTable or GlobalKTable, not {type(other).__name__}"
    )


def _by_key(stream: KStream) -> KStream:
    return stream.repartition() if stream.repartition_required else stream


def table_store(table: KTable) -> str:
    """The store holding ``table``'s rows, materializing a derived table if it has none."""
    if table._store is not None:
        return table._store
    builder = table._builder
    node = builder.new_name("KTABLE-MATERIALIZE-")
    store = f"{node}-store"
    builder.topology.add_state_store(
        KeyValueStoreBuilder(store, table.key_serde, table.value_serde, caching=False)
    )
    builder.topology.add_processor(
        node, lambda: TableMaterialize(store), table._node, stores=[store]
    )
    table._node, table._store = node, store
    return store


def _stream_table(
    stream: KStream, table: KTable, joiner: Joiner, name: str | None, mode: str
) -> KStream:
    from .kstream import KStream

    builder = stream._builder
    if table._builder is not builder:
        raise TopologyError("join() takes a KTable from the same StreamsBuilder")
    store = table_store(table)
    source = _by_key(stream)
    node = name or builder.new_name("KSTREAM-JOIN-")
    left = mode == LEFT
    builder.topology.add_processor(
        node, lambda: StreamTableJoin(store, joiner, left), source.node_name, stores=[store]
    )
    return KStream(builder, node, source.key_serde, None)


def _stream_global(
    stream: KStream,
    table: GlobalKTable,
    joiner: Joiner,
    key_selector: Callable[[Any, Any], Any],
    name: str | None,
    mode: str,
) -> KStream:
    from .kstream import KStream

    builder = stream._builder
    if table._builder is not builder:
        raise TopologyError("join() takes a GlobalKTable from the same StreamsBuilder")
    node = name or builder.new_name("KSTREAM-JOIN-")
    store, left = table.store_name, mode == LEFT
    builder.topology.add_processor(
        node, lambda: StreamGlobalJoin(store, key_selector, joiner, left), stream.node_name
    )
    return KStream(builder, node, stream.key_serde, None, stream.repartition_required)


def _stream_stream(
    stream: KStream,
    other: KStream,
    joiner: Joiner,
    windows: JoinWindows,
    name: str | None,
    mode: str,
) -> KStream:
    from .kstream import KStream

    builder = stream._builder
    if other._builder is not builder:
        raise TopologyError("join() takes a KStream from the same StreamsBuilder")
    left_source, right_source = _by_key(stream), _by_key(other)
    this = f"{name}-this" if name else builder.new_name("KSTREAM-JOINTHIS-")
    that = f"{name}-other" if name else builder.new_name("KSTREAM-JOINOTHER-")
    this_store, that_store = f"{this}-store", f"{that}-store"
    wait = windows.before_ms + windows.after_ms + windows.grace_ms
    if wait < 0:
        raise TopologyError(f"join windows {windows} leave no time for records to meet")
    key_serde = left_source.key_serde or right_source.key_serde
    topology = builder.topology
    for store, value_serde in (
        (this_store, left_source.value_serde),
        (that_store, right_source.value_serde),
    ):
        topology.add_state_store(
            WindowStoreBuilder(
                store,
                key_serde,
                serdes.around(value_serde, serdes.list_of, "list(default)"),
                caching=False,
                retention_ms=wait + 1,
                window_size_ms=1,
            )
        )
    # Left and outer joins hold unmatched records back until their window has closed.
    this_pending = f"{this}-pending-store" if mode in (LEFT, OUTER) else None
    that_pending = f"{that}-pending-store" if mode == OUTER else None
    pending_key = serdes.around(key_serde, window_key_serde, "window-key(default)")
    for pending in (this_pending, that_pending):
        if pending is not None:
            topology.add_state_store(SuppressBufferBuilder(pending, pending_key, serdes.BYTES))
    stores = [s for s in (this_store, that_store, this_pending, that_pending) if s is not None]

    def side(is_left: bool) -> Callable[[], StreamStreamJoin]:
        mine, theirs = (this_store, that_store) if is_left else (that_store, this_store)
        pending, other_pending = (
            (this_pending, that_pending) if is_left else (that_pending, this_pending)
        )
        return lambda: StreamStreamJoin(
            windows=windows,
            is_left=is_left,
            window_store=mine,
            other_store=theirs,
            pending=pending,
            other_pending=other_pending,
            joiner=joiner,
        )

    topology.add_processor(this, side(True), left_source.node_name, stores=stores)
    topology.add_processor(that, side(False), right_source.node_name, stores=stores)
    merge = f"{name}-merge" if name else builder.new_name("KSTREAM-MERGE-")
    topology.add_processor(merge, ops.PassThrough, this, that)
    return KStream(builder, merge, key_serde, None)


def join_tables(
    table: KTable, other: KTable, joiner: Joiner, name: str | None, mode: str
) -> KTable:
    """KTable.join / left_join / outer_join (same keys): both sides trigger."""
    from .ktable import KTable

    _require_joiner(joiner)
    if not isinstance(other, KTable) or other._builder is not table._builder:
        raise TopologyError("KTable joins take a KTable from the same StreamsBuilder")
    builder = table._builder
    this_store, that_store = table_store(table), table_store(other)
    this = f"{name}-this" if name else builder.new_name("KTABLE-JOINTHIS-")
    that = f"{name}-other" if name else builder.new_name("KTABLE-JOINOTHER-")
    topology = builder.topology
    topology.add_processor(
        this,
        lambda: TableTableJoin(that_store, joiner, mode, True),
        table._node,
        stores=[that_store],
    )
    topology.add_processor(
        that,
        lambda: TableTableJoin(this_store, joiner, mode, False),
        other._node,
        stores=[this_store],
    )
    merge = f"{name}-merge" if name else builder.new_name("KTABLE-MERGE-")
    topology.add_processor(merge, ops.PassThrough, this, that)
    return KTable(builder, merge, None, table.key_serde, None)


__all__ = ["INNER", "LEFT", "OUTER", "join_stream", "join_tables", "table_store"]
