"""The fluent DSL; it compiles to a Topology and nothing at runtime imports it."""

from .builder import StreamsBuilder
from .global_table import GlobalKTable
from .grouped import KGroupedStream
from .kstream import BranchedKStream, KStream
from .ktable import KGroupedTable, KTable
from .materialized import Materialized

__all__ = [
    "BranchedKStream",
    "GlobalKTable",
    "KGroupedStream",
    "KGroupedTable",
    "KStream",
    "KTable",
    "Materialized",
    "StreamsBuilder",
]
