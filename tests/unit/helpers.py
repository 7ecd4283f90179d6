"""Small builders shared by the unit tests (not a test module)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kstreamlite import StreamsBuilder, StreamsConfig
from kstreamlite.testing import TopologyTestDriver

APP_ID = "t"


def build(define: Callable[[StreamsBuilder], Any]) -> Any:
    """Run ``define`` on a fresh builder and return the built Topology."""
    builder = StreamsBuilder()
    define(builder)
    return builder.build()


def driver_for(define: Callable[[StreamsBuilder], Any], **config: Any) -> TopologyTestDriver:
    """A TopologyTestDriver over the topology ``define`` builds, application_id ``t``."""
    return TopologyTestDriver(build(define), config=StreamsConfig(application_id=APP_ID, **config))
