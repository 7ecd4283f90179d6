"""Statement kinds, output topics, PARTITION BY, sharing a source, tombstones, describe()."""

from __future__ import annotations

from kstreamlite.sql import to_topology

from .support import READINGS, T0, reading, run


def test_stream_filter_and_projection_with_default_topic_name() -> None:
    script = READINGS + (
        "CREATE STREAM Warm_Ones AS SELECT id, temp * 2 AS t2 FROM readings "
        "WHERE temp > 20 EMIT CHANGES;"
    )
    rows = [("a", reading(temp=25.0)), ("b", reading(temp=15.0)), ("c", None)]
    assert run(script, {"readings": rows}, "warm_ones") == [("a", {"id": "a", "t2": 50.0})]


def test_select_star_of_one_stream_and_tombstones_skipped() -> None:
    script = (
        READINGS + "CREATE STREAM copy WITH (KAFKA_TOPIC='copy-topic') AS SELECT * FROM readings;"
    )
    out = run(script, {"readings": [("a", reading(temp=1.0)), ("b", None)]}, "copy-topic")
    assert out == [
        (
            "a",
            {
                "id": "a",
                "region": None,
                "temp": 1.0,
                "n": None,
                "big": None,
                "ok": None,
                "name": None,
                "ts": T0,
            },
        )
    ]


def test_partition_by_rekeys_the_output() -> None:
    script = READINGS + (
        "CREATE STREAM by_region AS SELECT id, n FROM readings PARTITION BY region;"
        "CREATE STREAM by_n AS SELECT id FROM readings PARTITION BY n + 1;"
    )
    rows = [("a", reading(region="north", n=1))]
    assert run(script, {"readings": rows}, "by_region") == [("north", {"id": "a", "n": 1})]
    assert run(script, {"readings": rows}, "by_n") == [("2", {"id": "a"})]


def test_two_queries_share_one_source_node() -> None:
    script = READINGS + (
        "CREATE STREAM a AS SELECT id FROM readings WHERE n > 1;"
        "CREATE TABLE b AS SELECT id, COUNT(*) AS c FROM readings GROUP BY id;"
    )
    text = to_topology(script).describe()
    assert text.count("Source: READINGS-source (topics: [readings])") == 1
    assert text.count("Source:") == 1
    for name in ("A-where", "A-project", "A-sink (topic: a)", "B-project", "B-sink (topic: b)"):
        assert name in text
    rows = [("x", reading(n=2)), ("x", reading(n=0))]
    assert run(script, {"readings": rows}, "a") == [("x", {"id": "x"})]
    assert run(script, {"readings": rows}, "b") == [
        ("x", {"id": "x", "c": 1}),
        ("x", {"id": "x", "c": 2}),
    ]


def test_create_table_as_select_from_a_table_filters_and_deletes() -> None:
    script = """
        CREATE TABLE users (uid VARCHAR PRIMARY KEY, name VARCHAR, age INT)
            WITH (KAFKA_TOPIC='users');
        CREATE TABLE adults AS SELECT uid, UCASE(name) AS name FROM users WHERE age >= 18;
    """
    rows = [
        ("u1", {"name": "ann", "age": 30}),
        ("u2", {"name": "bob", "age": 10}),
        ("u1", {"name": "ann", "age": 17}),  # stops matching: a tombstone
        ("u3", {"name": "cy", "age": 40}),
        ("u3", None),  # deleted upstream: a tombstone
    ]
    assert run(script, {"users": rows}, "adults") == [
        ("u1", {"uid": "u1", "name": "ANN"}),
        ("u2", None),
        ("u1", None),
        ("u3", {"uid": "u3", "name": "CY"}),
        ("u3", None),
    ]


def test_comments_blank_statements_and_a_missing_final_semicolon() -> None:
    script = (
        "-- a comment\n;;" + READINGS + "\n-- between\nCREATE STREAM x AS SELECT id FROM readings"
    )
    assert run(script, {"readings": [("a", reading())]}, "x") == [("a", {"id": "a"})]


def test_timestamp_column_is_event_time() -> None:
    script = READINGS + (
        "CREATE TABLE t AS SELECT id, WINDOWSTART AS ws, COUNT(*) AS c FROM readings "
        "WINDOW TUMBLING (SIZE 1 HOUR) GROUP BY id;"
    )
    out = run(script, {"readings": [("a", reading(T0 + 5), 99)]}, "t")
    assert out == [("a", {"id": "a", "ws": T0, "c": 1})]


def test_watermark_properties_close_windows_with_idleness() -> None:
    script = """
        CREATE STREAM r (id VARCHAR KEY, ts BIGINT) WITH (KAFKA_TOPIC='r', TIMESTAMP='ts',
            WATERMARK_DELAY='5 SECONDS', IDLENESS='10 SECONDS');
        CREATE TABLE t AS SELECT id, COUNT(*) AS c FROM r
            WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY id EMIT FINAL;
    """
    from .support import driver

    with driver(script) as d:
        inp = d.create_input_topic("r")
        out = d.create_output_topic("t")
        inp.pipe_input("a", {"ts": T0})
        inp.pipe_input("b", {"ts": T0 + 60_000 + 4_999})  # watermark 1 ms short of the close
        assert out.is_empty()
        inp.pipe_input("b", {"ts": T0 + 60_000 + 5_000})
        assert out.read_key_values_to_list() == [("a", {"id": "a", "c": 1})]
        d.advance_wall_clock_time(9_999)
        assert out.is_empty()
        # Idle after 10 s: from then on the watermark follows the wall clock, past the close.
        d.advance_wall_clock_time(60_000)
        assert out.read_key_values_to_list() == [("b", {"id": "b", "c": 2})]
