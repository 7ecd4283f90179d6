"""Stock-price alerts: a price update that moved by the threshold (5 %) or more from the
lowest or highest price of its symbol in the last 60 s of event time makes an alert. See
README.md in this directory; run it with ``python -m examples.stock_alerts``."""

from .app import build_topology
from .generator import generate
from .reference import expected_alerts

__all__ = ["build_topology", "expected_alerts", "generate"]
