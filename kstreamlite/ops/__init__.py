"""Operations: the HTTP endpoint of one instance (``/metrics``, ``/health``, the status
page) and the application reset tool."""

from .server import StatusServer
from .status import layout_graph, status_snapshot

__all__ = ["StatusServer", "layout_graph", "status_snapshot"]
