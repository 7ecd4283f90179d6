"""The fluent DSL; it compiles to a Topology and nothing at runtime imports it."""

from .builder import StreamsBuilder
from .grouped import KGroupedStream, KTable
from .kstream import BranchedKStream, KStream
from .materialized import Materialized

__all__ = [
    "BranchedKStream",
    "KGroupedStream",
    "KStream",
    "KTable",
    "Materialized",
    "StreamsBuilder",
]
