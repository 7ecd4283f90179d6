"""KGroupedStream and KTable: aggregations over a grouped stream and the table they make."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import serdes
from ..processor._aggregate import StreamAggregate
from ..serdes import Serde
from .ktable import KTable, add_materialized_processor
from .materialized import Materialized

if TYPE_CHECKING:
    from .builder import StreamsBuilder
    from .kstream import KStream
    from .windowed import WindowedKStream


class KGroupedStream:
    """Records grouped by key, ready to aggregate. Repartitions first if the key changed."""

    def __init__(
        self,
        stream: KStream,
        key_serde: Serde[Any] | None,
        value_serde: Serde[Any] | None,
        name: str | None,
    ) -> None:
        self._stream = stream
        self._builder: StreamsBuilder = stream._builder
        self.key_serde = key_serde
        self.value_serde = value_serde
        self._name = name

    def count(self, *, materialized: str | Materialized | None = None) -> KTable:
        """Records per key; values are LONG unless ``materialized`` says otherwise."""
        spec = Materialized.of(materialized)
        value_serde = spec.value_serde or serdes.LONG
        return self._build(
            spec, value_serde, lambda store: StreamAggregate(store, _zero, _plus_one)
        )

    def reduce(
        self,
        reducer: Callable[[Any, Any], Any],
        *,
        materialized: str | Materialized | None = None,
    ) -> KTable:
        """``reducer(aggregate, value)``; the first value of a key is its first aggregate."""
        _require(reducer, "reducer")
        spec = Materialized.of(materialized)
        return self._build(
            spec,
            spec.value_serde or self.value_serde,
            lambda store: StreamAggregate(store, None, reducer, reducing=True),
            prefix="KSTREAM-REDUCE-",
        )

    def aggregate(
        self,
        initializer: Callable[[], Any],
        aggregator: Callable[[Any, Any, Any], Any],
        *,
        materialized: str | Materialized | None = None,
    ) -> KTable:
        """``aggregator(key, value, aggregate) -> new aggregate``, starting from ``initializer()``.

        Return a new object rather than mutating the aggregate in place: the old value is
        what downstream tables retract.
        """
        _require(initializer, "initializer")
        _require(aggregator, "aggregator")
        spec = Materialized.of(materialized)
        return self._build(
            spec,
            spec.value_serde,
            lambda store: StreamAggregate(store, initializer, aggregator),
        )

    def windowed_by(self, windows: Any) -> WindowedKStream:
        """Aggregate per key and window: TimeWindows, SlidingWindows or SessionWindows."""
        from .windowed import WindowedKStream

        return WindowedKStream(self, windows)

    def _build(
        self,
        spec: Materialized,
        value_serde: Serde[Any] | None,
        make: Callable[[str], StreamAggregate],
        prefix: str = "KSTREAM-AGGREGATE-",
    ) -> KTable:
        builder = self._builder
        node = builder.new_name(prefix)
        store = spec.name or builder.new_name(f"{prefix}STATE-STORE-")
        key_serde = spec.key_serde or self.key_serde
        source = self._stream
        if source.repartition_required:
            source = source.repartition(
                name=self._name or store, key_serde=key_serde, value_serde=self.value_serde
            )
        add_materialized_processor(
            builder, node, source.node_name, store, spec, key_serde, value_serde, make
        )
        return KTable(builder, node, store, key_serde, value_serde)


def _zero() -> int:
    return 0


def _plus_one(key: Any, value: Any, count: int) -> int:
    return count + 1


def _require(fn: Any, what: str) -> None:
    from .kstream import _require_callable

    _require_callable(fn, what)
