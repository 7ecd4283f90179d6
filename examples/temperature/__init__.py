"""The fire-alert example: the mean temperature per sensor over tumbling one-minute windows
of event time, one final result per window, and an alert on ``fire-alerts`` for every
window whose mean is above 40 °C. See README.md in this directory; run it with
``python -m examples.temperature``."""

from .app import build_topology
from .generator import generate, readings, sensors
from .reference import expected_alerts

__all__ = ["build_topology", "expected_alerts", "generate", "readings", "sensors"]
