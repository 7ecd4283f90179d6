"""The fluent DSL; it compiles to a Topology and nothing at runtime imports it."""

from .builder import StreamsBuilder
from .kstream import BranchedKStream, KStream
from .materialized import Materialized

__all__ = ["BranchedKStream", "KStream", "Materialized", "StreamsBuilder"]
