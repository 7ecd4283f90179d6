"""A topology for the CLI tests, importable as ``tests.integration.ops_app:build``: counts
per key of ``OPS_TEST_INPUT`` into ``OPS_TEST_OUTPUT`` (names from the environment, so
each test has its own topics)."""

from __future__ import annotations

import os

from kstreamlite import StreamsBuilder, Topology


def build() -> Topology:
    builder = StreamsBuilder()
    (
        builder.stream(os.environ["OPS_TEST_INPUT"])
        .group_by_key()
        .count(materialized="ops-counts")
        .to_stream()
        .to(os.environ["OPS_TEST_OUTPUT"])
    )
    return builder.build()
