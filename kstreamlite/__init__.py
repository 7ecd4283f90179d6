"""kstreamlite: Kafka Streams-style stream processing for Python."""

from .config import StreamsConfig
from .dsl import Materialized, StreamsBuilder
from .records import KeyValue, Record, Window, Windowed
from .runtime.bounded import BoundedRunSummary
from .runtime.state import State
from .runtime.streams import KafkaStreams
from .runtime.uncaught import StreamThreadExceptionResponse
from .topology import Topology

__all__ = [
    "BoundedRunSummary",
    "KafkaStreams",
    "KeyValue",
    "Materialized",
    "Record",
    "State",
    "StreamThreadExceptionResponse",
    "StreamsBuilder",
    "StreamsConfig",
    "Topology",
    "Window",
    "Windowed",
]

__version__ = "0.1.0"
