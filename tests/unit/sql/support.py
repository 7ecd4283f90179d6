"""Running SQL scripts on the TopologyTestDriver: shared by the SQL tests."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kstreamlite import StreamsConfig, serdes
from kstreamlite.sql import to_topology
from kstreamlite.testing import TopologyTestDriver

T0 = 1_735_689_600_000  # a whole minute

READINGS = """
CREATE STREAM readings (id VARCHAR KEY, region VARCHAR, temp DOUBLE, n INT, big BIGINT,
                        ok BOOLEAN, name VARCHAR, ts BIGINT)
    WITH (KAFKA_TOPIC='readings', VALUE_FORMAT='JSON', TIMESTAMP='ts');
"""


def driver(script: str, **config: Any) -> TopologyTestDriver:
    return TopologyTestDriver(
        to_topology(script), config=StreamsConfig(application_id="sql-test", **config)
    )


def run(
    script: str,
    inputs: dict[str, Iterable[tuple[Any, ...]]],
    output: str,
    *,
    flush: bool = False,
) -> list[tuple[Any, Any]]:
    """Pipe ``(key, value[, timestamp])`` records topic by topic, in the order given as
    ``(topic, key, value, ts)`` when ``inputs`` has the key ``"*"``; read ``output``."""
    with driver(script) as d:
        topics = {}
        if "*" in inputs:
            for topic, key, value, *ts in inputs["*"]:
                if topic not in topics:
                    topics[topic] = d.create_input_topic(topic, serdes.STRING, serdes.JSON)
                topics[topic].pipe_input(key, value, timestamp=ts[0] if ts else None)
        else:
            for topic, records in inputs.items():
                inp = d.create_input_topic(topic, serdes.STRING, serdes.JSON)
                for key, value, *ts in records:
                    inp.pipe_input(key, value, timestamp=ts[0] if ts else None)
        if flush:
            d.flush_to_end()
        out = d.create_output_topic(output, serdes.STRING, serdes.JSON)
        return [tuple(kv) for kv in out.read_key_values_to_list()]


def reading(ts: int = T0, **fields: Any) -> dict[str, Any]:
    return {"ts": ts, **fields}
