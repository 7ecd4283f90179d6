"""``kstreamlite sql run`` on a real broker: a script's persistent queries, a filter and a
windowed EMIT FINAL aggregate, run by the CLI as one application."""

from __future__ import annotations

import orjson
import pytest

from kstreamlite.cli import main as cli

from .kafka_helpers import KafkaHelper, json_value, key_str

pytestmark = pytest.mark.integration

START = 1_700_000_040_000  # a minute boundary

SCRIPT = """
CREATE STREAM readings (sensor_id VARCHAR KEY, temperature DOUBLE, ts BIGINT)
    WITH (KAFKA_TOPIC='{source}', VALUE_FORMAT='JSON', TIMESTAMP='ts');

-- every reading above 40 °C, as it comes
CREATE STREAM hot WITH (KAFKA_TOPIC='{hot}') AS
    SELECT sensor_id, temperature AS celsius FROM readings WHERE temperature > 40 EMIT CHANGES;

-- one final count and mean per sensor and minute
CREATE TABLE per_minute WITH (KAFKA_TOPIC='{minutes}') AS
    SELECT sensor_id, WINDOWSTART AS window_start, COUNT(*) AS n,
           ROUND(AVG(temperature), 2) AS average
    FROM readings WINDOW TUMBLING (SIZE 1 MINUTE)
    GROUP BY sensor_id EMIT FINAL;
"""


def test_sql_run_executes_the_scripts_queries_on_the_broker(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path, capsys
) -> None:
    source, hot, minutes = f"sql-in-{unique}", f"sql-hot-{unique}", f"sql-min-{unique}"
    kafka.create_topics([source, hot, minutes], partitions=2)
    script = tmp_path / "pipeline.sql"
    script.write_text(SCRIPT.format(source=source, hot=hot, minutes=minutes))
    readings = [
        ("s1", 20.0, START + 1_000),
        ("s2", 45.5, START + 2_000),
        ("s1", 41.0, START + 30_000),
        ("s2", 39.0, START + 50_000),
        ("s1", 22.0, START + 61_000),  # the next minute
    ]
    kafka.produce_each(
        source,
        [
            (sensor, orjson.dumps({"sensor_id": sensor, "temperature": celsius, "ts": ts}), None)
            for sensor, celsius, ts in readings
        ],
    )

    argv = ["sql", "run", str(script), "--application-id", f"sql-{unique}"]
    argv += ["--bootstrap-servers", bootstrap_servers, "--state-dir", str(tmp_path / "state")]
    assert cli([*argv, "--bounded", "--no-status"]) == 0
    assert "bounded run: 5 records read" in capsys.readouterr().out

    hot_rows = sorted(
        ((key_str(m), json_value(m)) for m in kafka.read(hot, 2, settle=1.0)),
        key=lambda row: row[0],
    )
    assert hot_rows == [
        ("s1", {"sensor_id": "s1", "celsius": 41.0}),
        ("s2", {"sensor_id": "s2", "celsius": 45.5}),
    ]
    finals = sorted(
        ((key_str(m), json_value(m)) for m in kafka.read(minutes, 3, settle=1.0)),
        key=lambda row: (row[0], row[1]["window_start"]),
    )
    assert finals == [
        ("s1", {"sensor_id": "s1", "window_start": START, "n": 2, "average": 30.5}),
        ("s1", {"sensor_id": "s1", "window_start": START + 60_000, "n": 1, "average": 22.0}),
        ("s2", {"sensor_id": "s2", "window_start": START, "n": 2, "average": 42.25}),
    ]
