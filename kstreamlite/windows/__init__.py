"""Window specifications and suppression (``kstreamlite.windows``)."""

from .specs import JoinWindows, SessionWindows, SlidingWindows, TimeWindows
from .suppressed import Suppressed

__all__ = ["JoinWindows", "SessionWindows", "SlidingWindows", "Suppressed", "TimeWindows"]
