"""The bounded-run tests' topology (windowed_sensors.topology) as the CLI test loads it,
``tests.integration.bounded_app:build``, with its topics from BOUNDED_APP_SOURCE and
BOUNDED_APP_SINK."""

from __future__ import annotations

import os

from kstreamlite.topology import Topology

from .windowed_sensors import topology


def build() -> Topology:
    return topology(os.environ["BOUNDED_APP_SOURCE"], os.environ["BOUNDED_APP_SINK"])
