"""StreamsBuilder: the entry point of the DSL; every fluent call becomes Topology nodes."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import TopologyError
from ..serdes import Serde
from ..state.builders import KeyValueStoreBuilder
from ..topology import Topology

if TYPE_CHECKING:
    from .global_table import GlobalKTable
    from .kstream import KStream
    from .ktable import KTable
    from .materialized import Materialized


class StreamsBuilder:
    """Build a Topology with the fluent KStream DSL, then call ``build()``."""

    def __init__(self) -> None:
        self._topology = Topology()
        self._index = 0

    def new_name(self, prefix: str) -> str:
        """Kafka Streams' deterministic names: ``KSTREAM-FILTER-0000000001``."""
        name = f"{prefix}{self._index:010d}"
        self._index += 1
        return name

    @property
    def topology(self) -> Topology:
        return self._topology

    def stream(
        self,
        topics: str | list[str] | tuple[str, ...],
        *,
        key_serde: Serde[Any] | None = None,
        value_serde: Serde[Any] | None = None,
        timestamp_extractor: Callable[[Any, Any, int], int] | None = None,
        watermark: Any = None,
        name: str | None = None,
    ) -> KStream:
        """A KStream of one topic or of several (read together, in timestamp order)."""
        from .kstream import KStream

        names = [topics] if isinstance(topics, str) else list(topics)
        if not names:
            raise TopologyError("builder.stream() needs at least one topic")
        if timestamp_extractor is not None and not callable(timestamp_extractor):
            raise TopologyError("timestamp_extractor must be a function (key, value, ts) -> int")
        node = name or self.new_name("KSTREAM-SOURCE-")
        self._topology.add_source(
            node,
            *names,
            key_serde=key_serde,
            value_serde=value_serde,
            timestamp_extractor=timestamp_extractor,
            watermark=watermark,
        )
        return KStream(self, node, key_serde, value_serde)

    def table(
        self,
        topic: str,
        *,
        key_serde: Serde[Any] | None = None,
        value_serde: Serde[Any] | None = None,
        materialized: str | Materialized | None = None,
    ) -> KTable:
        """A table of the topic's latest value per key (a None value deletes the key)."""
        from .ktable import materialize

        source = self.new_name("KSTREAM-SOURCE-")
        self._topology.add_source(
            source, topic, key_serde=key_serde, value_serde=value_serde, table=True
        )
        return materialize(
            self, source, materialized, key_serde, value_serde, f"{topic}-STATE-STORE-"
        )

    def global_table(
        self,
        topic: str,
        *,
        key_serde: Serde[Any] | None = None,
        value_serde: Serde[Any] | None = None,
        materialized: str | Materialized | None = None,
    ) -> GlobalKTable:
        """A table of every partition of ``topic`` on every instance, kept current while
        running and fully loaded before any task processes; join it with key_selector."""
        from .global_table import GlobalKTable
        from .materialized import Materialized

        spec = Materialized.of(materialized)
        store = spec.name or self.new_name(f"{topic}-STATE-STORE-")
        key_serde = spec.key_serde or key_serde
        value_serde = spec.value_serde or value_serde
        # The topic is the changelog: the store is rebuilt from it, never logged itself.
        self._topology.add_global_table(
            topic,
            KeyValueStoreBuilder(
                store,
                key_serde,
                value_serde,
                persistent=spec.persistent,
                logging=False,
                caching=False,
            ),
        )
        return GlobalKTable(self, store, key_serde, value_serde)

    def add_state_store(self, store_builder: KeyValueStoreBuilder) -> StreamsBuilder:
        """Register a store for Processor API processors (``process(..., stores=[name])``)."""
        self._topology.add_state_store(store_builder)
        return self

    def build(self) -> Topology:
        if not self._topology.nodes:
            raise TopologyError("the topology is empty; add a builder.stream(...) first")
        self._topology.subtopologies()  # validates that everything hangs off a source
        return self._topology
