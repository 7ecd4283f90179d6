"""Windowed grouped streams: ``grouped.windowed_by(TimeWindows | SlidingWindows |
SessionWindows)`` then ``count``, ``reduce`` or ``aggregate``; results are a KTable keyed
by ``Windowed(key, Window(start, end))``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import serdes
from .._time import to_millis
from ..errors import TopologyError
from ..processor._node import NodeProcessor
from ..processor._window import (
    SessionWindowAggregate,
    SlidingWindowAggregate,
    TimeWindowAggregate,
)
from ..records import Windowed
from ..serdes import Serde
from ..state.builders import SessionStoreBuilder, WindowStoreBuilder
from ..windows.specs import SessionWindows, SlidingWindows, TimeWindows
from .ktable import KTable
from .materialized import Materialized

if TYPE_CHECKING:
    from .grouped import KGroupedStream

Windows = TimeWindows | SlidingWindows | SessionWindows


def windowed_key_serde(inner: Serde[Any] | None) -> Serde[Any]:
    return serdes.around(inner, serdes.windowed, "windowed(default)")


class WindowedKStream:
    """A grouped stream cut into windows, ready to aggregate per key and window."""

    def __init__(self, grouped: KGroupedStream, windows: Windows) -> None:
        if not isinstance(windows, (TimeWindows, SlidingWindows, SessionWindows)):
            raise TopologyError(
                "windowed_by() takes TimeWindows, SlidingWindows or SessionWindows, "
                f"not {type(windows).__name__}"
            )
        self._grouped = grouped
        self.windows = windows

    def count(self, *, materialized: str | Materialized | None = None) -> KTable:
        spec = Materialized.of(materialized)
        if isinstance(self.windows, SessionWindows):
            return self._session(spec, spec.value_serde or serdes.LONG, _zero, _plus_one, _add)
        return self._build(spec, spec.value_serde or serdes.LONG, _zero, _plus_one, False)

    def reduce(
        self, reducer: Callable[[Any, Any], Any], *, materialized: str | Materialized | None = None
    ) -> KTable:
        _require(reducer, "reducer")
        spec = Materialized.of(materialized)
        value_serde = spec.value_serde or self._grouped.value_serde
        if isinstance(self.windows, SessionWindows):
            # A reduce is an aggregate whose first value is the first aggregate.
            return self._session(
                spec,
                value_serde,
                _none,
                lambda key, value, agg: value if agg is None else reducer(agg, value),
                lambda key, a, b: b if a is None else (a if b is None else reducer(a, b)),
            )
        return self._build(spec, value_serde, None, reducer, True)

    def aggregate(
        self,
        initializer: Callable[[], Any],
        aggregator: Callable[[Any, Any, Any], Any],
        merger: Callable[[Any, Any, Any], Any] | None = None,
        *,
        materialized: str | Materialized | None = None,
    ) -> KTable:
        """``aggregator(key, value, agg)`` from ``initializer()``; session windows also need
        ``merger(key, agg1, agg2)`` to combine two sessions a record joins together."""
        _require(initializer, "initializer")
        _require(aggregator, "aggregator")
        spec = Materialized.of(materialized)
        if isinstance(self.windows, SessionWindows):
            if merger is None:
                raise TopologyError(
                    "session-windowed aggregate() needs merger(key, agg1, agg2): sessions "
                    "that a record bridges are merged into one"
                )
            _require(merger, "merger")
            return self._session(spec, spec.value_serde, initializer, aggregator, merger)
        return self._build(spec, spec.value_serde, initializer, aggregator, False)

    # ---- building ----

    def _source(self, store: str) -> str:
        grouped = self._grouped
        source = grouped._stream
        if source.repartition_required:
            source = source.repartition(
                name=grouped._name or store,
                key_serde=grouped.key_serde,
                value_serde=grouped.value_serde,
            )
        return source.node_name

    def _build(
        self,
        spec: Materialized,
        value_serde: Serde[Any] | None,
        initializer: Callable[[], Any] | None,
        aggregator: Callable[..., Any],
        reducing: bool,
    ) -> KTable:
        builder = self._grouped._builder
        windows = self.windows
        prefix = "KSTREAM-REDUCE-" if reducing else "KSTREAM-AGGREGATE-"
        node = builder.new_name(prefix)
        store = spec.name or builder.new_name(f"{prefix}STATE-STORE-")
        key_serde = spec.key_serde or self._grouped.key_serde
        parent = self._source(store)
        assert not isinstance(windows, SessionWindows)
        size = windows.size_ms if isinstance(windows, TimeWindows) else windows.time_difference_ms
        retention = _retention(spec, windows.retention_ms, size)
        topology = builder.topology
        topology.add_state_store(
            WindowStoreBuilder(
                store,
                key_serde,
                value_serde,
                persistent=spec.persistent,
                logging=spec.logging,
                caching=spec.caching,
                retention_ms=retention,
                window_size_ms=size,
            )
        )
        stores = [store]
        make: Callable[[], NodeProcessor]
        if isinstance(windows, TimeWindows):
            time_windows = windows

            def make() -> NodeProcessor:
                return TimeWindowAggregate(
                    store, time_windows, initializer, aggregator, reducing=reducing
                )

            close_after = _closes_at(windows.grace_ms, inclusive_end=False)
        else:
            assert isinstance(windows, SlidingWindows)
            sliding = windows
            records = f"{store}-records"
            topology.add_state_store(
                WindowStoreBuilder(
                    records,
                    key_serde,
                    serdes.around(self._grouped.value_serde, serdes.list_of, "list(default)"),
                    persistent=spec.persistent,
                    logging=spec.logging,
                    caching=False,
                    retention_ms=retention,
                    window_size_ms=size,
                )
            )
            stores.append(records)

            def make() -> NodeProcessor:
                return SlidingWindowAggregate(
                    store, records, sliding, initializer, aggregator, reducing=reducing
                )

            close_after = _closes_at(windows.grace_ms, inclusive_end=True)
        topology.add_processor(node, make, parent, stores=stores)
        return KTable(
            builder,
            node,
            store,
            windowed_key_serde(key_serde),
            value_serde,
            close_after=close_after,
        )

    def _session(
        self,
        spec: Materialized,
        value_serde: Serde[Any] | None,
        initializer: Callable[[], Any],
        aggregator: Callable[..., Any],
        merger: Callable[..., Any],
    ) -> KTable:
        builder = self._grouped._builder
        windows = self.windows
        assert isinstance(windows, SessionWindows)
        node = builder.new_name("KSTREAM-SESSION-AGGREGATE-")
        store = spec.name or builder.new_name("KSTREAM-SESSION-AGGREGATE-STATE-STORE-")
        key_serde = spec.key_serde or self._grouped.key_serde
        parent = self._source(store)
        builder.topology.add_state_store(
            SessionStoreBuilder(
                store,
                key_serde,
                value_serde,
                persistent=spec.persistent,
                logging=spec.logging,
                caching=spec.caching,
                retention_ms=_retention(spec, windows.retention_ms, 1),
            )
        )
        session_windows = windows

        def make() -> NodeProcessor:
            return SessionWindowAggregate(store, session_windows, initializer, aggregator, merger)

        builder.topology.add_processor(node, make, parent, stores=[store])
        return KTable(
            builder,
            node,
            store,
            windowed_key_serde(key_serde),
            value_serde,
            close_after=_closes_at(windows.grace_ms, inclusive_end=True),
        )


def _retention(spec: Materialized, default: int, minimum: int) -> int:
    if spec.retention is None:
        return max(default, minimum)
    retention = to_millis(spec.retention, "retention")
    if retention < default:
        raise TopologyError(
            f"retention ({retention} ms) must be at least the window size plus grace "
            f"({default} ms), or windows would be dropped before they close"
        )
    return retention


def _closes_at(grace: int, *, inclusive_end: bool) -> Callable[[Windowed], int]:
    """When a window's final result is due: the watermark reaching ``end + grace`` (one
    more for windows whose end is inclusive, as sessions are)."""
    extra = grace + (1 if inclusive_end else 0)

    def close(windowed: Windowed) -> int:
        return int(windowed.window.end) + extra

    return close


def _zero() -> int:
    return 0


def _none() -> None:
    return None


def _plus_one(key: Any, value: Any, count: int) -> int:
    return count + 1


def _add(key: Any, a: int, b: int) -> int:
    return a + b


def _require(fn: Any, what: str) -> None:
    from .kstream import _require_callable

    _require_callable(fn, what)
