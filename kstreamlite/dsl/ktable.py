"""KTable and KGroupedTable: a changelog stream seen as a table, and its re-aggregation."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import serdes
from ..errors import TopologyError
from ..processor._aggregate import ToStream
from ..processor._node import NodeProcessor
from ..processor._table import (
    ChangeSerde,
    TableAggregate,
    TableFilter,
    TableMapValues,
    TableRegroup,
    TableSource,
)
from ..processor._window import Suppress
from ..serdes import Serde
from ..state.builders import KeyValueStoreBuilder, SuppressBufferBuilder
from ..windows.suppressed import Suppressed
from .materialized import Materialized

if TYPE_CHECKING:
    from .builder import StreamsBuilder
    from .kstream import KStream


def add_materialized_processor(
    builder: StreamsBuilder,
    node: str,
    parent: str,
    store: str,
    spec: Materialized,
    key_serde: Serde[Any] | None,
    value_serde: Serde[Any] | None,
    make: Callable[[str], NodeProcessor],
) -> None:
    """A processor that owns a key-value store built from ``spec``."""
    topology = builder.topology
    topology.add_state_store(
        KeyValueStoreBuilder(
            store,
            key_serde,
            value_serde,
            persistent=spec.persistent,
            logging=spec.logging,
            caching=spec.caching,
        )
    )
    topology.add_processor(node, lambda: make(store), parent, stores=[store])


def materialize(
    builder: StreamsBuilder,
    parent: str,
    materialized: str | Materialized | None,
    key_serde: Serde[Any] | None,
    value_serde: Serde[Any] | None,
    store_prefix: str,
) -> KTable:
    """A table from a stream of upserts (builder.table(), KStream.to_table())."""
    spec = Materialized.of(materialized)
    node = builder.new_name("KTABLE-SOURCE-")
    store = spec.name or builder.new_name(store_prefix)
    key_serde = spec.key_serde or key_serde
    value_serde = spec.value_serde or value_serde
    add_materialized_processor(
        builder, node, parent, store, spec, key_serde, value_serde, TableSource
    )
    return KTable(builder, node, store, key_serde, value_serde)


class KTable:
    """The latest value per key; every change flows downstream, ``None`` for a delete.

    >>> users = builder.table("users")
    >>> users.group_by(lambda uid, u: (u["region"], u)).count().to_stream().to("per-region")
    """

    def __init__(
        self,
        builder: StreamsBuilder,
        node: str,
        store: str | None,
        key_serde: Serde[Any] | None,
        value_serde: Serde[Any] | None,
        *,
        close_after: Callable[[Any], int] | None = None,
    ) -> None:
        self._builder = builder
        self._node = node
        self._store = store
        self.key_serde = key_serde
        self.value_serde = value_serde
        # For a windowed table: when a window's final result is due (watermark reached).
        self._close_after = close_after

    @property
    def queryable_store_name(self) -> str | None:
        """The store to read with ``app.store(name)`` or ``driver.get_key_value_store(name)``;
        None for a table derived without materialization (filter, map_values)."""
        return self._store

    def _derive(
        self,
        prefix: str,
        name: str | None,
        factory: Callable[[], NodeProcessor],
        value_serde: Serde[Any] | None,
    ) -> KTable:
        node = name or self._builder.new_name(prefix)
        self._builder.topology.add_processor(node, factory, self._node)
        return KTable(
            self._builder, node, None, self.key_serde, value_serde, close_after=self._close_after
        )

    def suppress(self, suppressed: Suppressed, *, name: str | None = None) -> KTable:
        """Hold updates back: one final result per window (``until_window_closes``), or
        the latest per key after a time limit (``until_time_limit``). The buffer is
        changelogged, so what it holds survives restarts and failover."""
        if not isinstance(suppressed, Suppressed):
            raise TopologyError(f"suppress() takes a Suppressed, not {type(suppressed).__name__}")
        if suppressed.final and self._close_after is None:
            raise TopologyError(
                "Suppressed.until_window_closes() needs a windowed table (the result of "
                "windowed_by(...).count/reduce/aggregate); use until_time_limit() here"
            )
        builder = self._builder
        given = name or suppressed.name
        node = given or builder.new_name("KTABLE-SUPPRESS-")
        store = f"{given}-store" if given else builder.new_name("KTABLE-SUPPRESS-STATE-STORE-")
        builder.topology.add_state_store(
            SuppressBufferBuilder(store, self.key_serde, self.value_serde)
        )
        close_after = self._close_after
        final = suppressed.final
        limit, max_records = suppressed.time_limit_ms, suppressed.max_records

        def make() -> NodeProcessor:
            return Suppress(
                store,
                final=final,
                close_after=close_after,
                time_limit_ms=limit,
                max_records=max_records,
            )

        builder.topology.add_processor(node, make, self._node, stores=[store])
        return KTable(
            builder, node, None, self.key_serde, self.value_serde, close_after=close_after
        )

    def filter(self, predicate: Callable[[Any, Any], Any], *, name: str | None = None) -> KTable:
        """Rows for which ``predicate(key, value)`` holds; a row that stops matching is deleted."""
        return self._derive(
            "KTABLE-FILTER-", name, lambda: TableFilter(predicate), self.value_serde
        )

    def filter_not(
        self, predicate: Callable[[Any, Any], Any], *, name: str | None = None
    ) -> KTable:
        return self._derive(
            "KTABLE-FILTER-", name, lambda: TableFilter(predicate, negate=True), self.value_serde
        )

    def map_values(self, fn: Callable[[Any], Any], *, name: str | None = None) -> KTable:
        return self._derive("KTABLE-MAPVALUES-", name, lambda: TableMapValues(fn), None)

    def to_stream(self, *, name: str | None = None) -> KStream:
        """The stream of this table's changes: new values, ``None`` for deletes."""
        from .kstream import KStream

        node = name or self._builder.new_name("KTABLE-TOSTREAM-")
        self._builder.topology.add_processor(node, ToStream, self._node)
        return KStream(self._builder, node, self.key_serde, self.value_serde)

    # ---- joins ----

    def join(
        self,
        other: KTable,
        joiner: Callable[[Any, Any], Any],
        *,
        foreign_key_extractor: Callable[[Any], Any] | None = None,
        name: str | None = None,
    ) -> KTable:
        """Rows present on both sides, ``joiner(v1, v2)``; updates and deletes of either
        side propagate. With ``foreign_key_extractor(value)``, each row joins the row of
        ``other`` whose key it names (a foreign-key join)."""
        return self._join(other, joiner, foreign_key_extractor, name, "inner")

    def left_join(
        self,
        other: KTable,
        joiner: Callable[[Any, Any], Any],
        *,
        foreign_key_extractor: Callable[[Any], Any] | None = None,
        name: str | None = None,
    ) -> KTable:
        """Every row of this table, joined with ``other``'s row or ``None``."""
        return self._join(other, joiner, foreign_key_extractor, name, "left")

    def outer_join(
        self, other: KTable, joiner: Callable[[Any, Any], Any], *, name: str | None = None
    ) -> KTable:
        """Rows present on either side; the missing side is ``None``."""
        return self._join(other, joiner, None, name, "outer")

    def _join(
        self,
        other: KTable,
        joiner: Callable[[Any, Any], Any],
        foreign_key_extractor: Callable[[Any], Any] | None,
        name: str | None,
        mode: str,
    ) -> KTable:
        if foreign_key_extractor is not None:
            from .foreign_key import join_foreign_key

            return join_foreign_key(self, other, joiner, foreign_key_extractor, name, mode)
        from .joins import join_tables

        return join_tables(self, other, joiner, name, mode)

    def group_by(
        self,
        selector: Callable[[Any, Any], tuple[Any, Any]],
        *,
        key_serde: Serde[Any] | None = None,
        value_serde: Serde[Any] | None = None,
        name: str | None = None,
    ) -> KGroupedTable:
        """Re-key rows with ``selector(key, value) -> (group, value)`` for re-aggregation."""
        node = self._builder.new_name("KTABLE-SELECT-")
        self._builder.topology.add_processor(node, lambda: TableRegroup(selector), self._node)
        return KGroupedTable(self._builder, node, key_serde, value_serde, name)


class KGroupedTable:
    """Rows grouped anew; aggregations subtract a row's old value and add its new one."""

    def __init__(
        self,
        builder: StreamsBuilder,
        node: str,
        key_serde: Serde[Any] | None,
        value_serde: Serde[Any] | None,
        name: str | None,
    ) -> None:
        self._builder = builder
        self._node = node
        self.key_serde = key_serde
        self.value_serde = value_serde
        self._name = name

    def count(self, *, materialized: str | Materialized | None = None) -> KTable:
        spec = Materialized.of(materialized)
        return self._build(
            spec, spec.value_serde or serdes.LONG, _zero, _count_add, _count_subtract
        )

    def reduce(
        self,
        adder: Callable[[Any, Any], Any],
        subtractor: Callable[[Any, Any], Any],
        *,
        materialized: str | Materialized | None = None,
    ) -> KTable:
        """``adder(aggregate, value)``, ``subtractor(aggregate, value)``; the first value of a
        group is its first aggregate."""
        spec = Materialized.of(materialized)
        return self._build(
            spec,
            spec.value_serde or self.value_serde,
            None,
            lambda key, value, agg: adder(agg, value),
            lambda key, value, agg: subtractor(agg, value),
            prefix="KTABLE-REDUCE-",
        )

    def aggregate(
        self,
        initializer: Callable[[], Any],
        adder: Callable[[Any, Any, Any], Any],
        subtractor: Callable[[Any, Any, Any], Any],
        *,
        materialized: str | Materialized | None = None,
    ) -> KTable:
        """``adder(key, value, agg)`` for rows joining a group, ``subtractor`` for rows leaving."""
        spec = Materialized.of(materialized)
        return self._build(spec, spec.value_serde, initializer, adder, subtractor)

    def _build(
        self,
        spec: Materialized,
        value_serde: Serde[Any] | None,
        initializer: Callable[[], Any] | None,
        adder: Callable[[Any, Any, Any], Any],
        subtractor: Callable[[Any, Any, Any], Any],
        prefix: str = "KTABLE-AGGREGATE-",
    ) -> KTable:
        builder = self._builder
        node = builder.new_name(prefix)
        store = spec.name or builder.new_name(f"{prefix}STATE-STORE-")
        key_serde = spec.key_serde or self.key_serde
        source = builder.topology.add_repartition(
            self._name or store,
            self._node,
            key_serde=key_serde,
            value_serde=ChangeSerde(self.value_serde),
        )
        add_materialized_processor(
            builder,
            node,
            source,
            store,
            spec,
            key_serde,
            value_serde,
            lambda s: TableAggregate(s, initializer, adder, subtractor),
        )
        return KTable(builder, node, store, key_serde, value_serde)


def _zero() -> int:
    return 0


def _count_add(key: Any, value: Any, count: int) -> int:
    return count + 1


def _count_subtract(key: Any, value: Any, count: int) -> int:
    return count - 1
