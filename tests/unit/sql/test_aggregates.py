"""GROUP BY queries: every aggregate, HAVING, re-keying, and each window kind with EMIT
CHANGES and EMIT FINAL."""

from __future__ import annotations

from .support import READINGS, T0, reading, run

MIN = 60_000


def test_every_aggregate_in_one_state() -> None:
    script = (
        READINGS
        + """
        CREATE TABLE stats AS SELECT id, COUNT(*) AS c, COUNT(temp) AS ct, SUM(n) AS s,
            SUM(temp) AS st, AVG(temp) AS a, MIN(temp) AS lo, MAX(name) AS hi,
            LATEST_BY_OFFSET(name) AS last, EARLIEST_BY_OFFSET(name) AS first
        FROM readings GROUP BY id EMIT CHANGES;
    """
    )
    rows = [
        ("a", reading(temp=10.0, n=1, name="b")),
        ("a", reading(n=2, name="c")),  # temp NULL: COUNT(temp), AVG, MIN skip it
        ("a", reading(temp=4.0, n=3)),  # name NULL: LATEST keeps "c"
    ]
    out = run(script, {"readings": rows}, "stats")
    assert out[-1] == (
        "a",
        {
            "id": "a",
            "c": 3,
            "ct": 2,
            "s": 6,
            "st": 14.0,
            "a": 7.0,
            "lo": 4.0,
            "hi": "c",
            "last": "c",
            "first": "b",
        },
    )
    assert [v["c"] for _, v in out] == [1, 2, 3]  # EMIT CHANGES: every update


def test_group_by_a_value_column_repartitions_and_keys_by_it() -> None:
    script = (
        READINGS
        + """
        CREATE TABLE per_region AS SELECT region, COUNT(*) AS c, MAX(id) AS last_id
        FROM readings WHERE temp > 0 GROUP BY region;
    """
    )
    rows = [
        ("a", reading(region="n", temp=1.0)),
        ("b", reading(region="s", temp=1.0)),
        ("c", reading(region="n", temp=-1.0)),  # filtered out
        ("d", reading(region="n", temp=2.0)),
    ]
    out = run(script, {"readings": rows}, "per_region")
    assert out == [
        ("n", {"region": "n", "c": 1, "last_id": "a"}),
        ("s", {"region": "s", "c": 1, "last_id": "b"}),
        ("n", {"region": "n", "c": 2, "last_id": "d"}),
    ]


def test_multi_column_group_by_key_and_typed_group_values() -> None:
    script = (
        READINGS
        + """
        CREATE TABLE g AS SELECT region, n, n * 10 AS n10, SUM(temp) AS total
        FROM readings GROUP BY region, n;
    """
    )
    rows = [("a", reading(region="x", n=1, temp=1.5)), ("b", reading(region="x", n=1, temp=2.0))]
    out = run(script, {"readings": rows}, "g")
    assert out[-1] == ("x|+|1", {"region": "x", "n": 1, "n10": 10, "total": 3.5})


def test_group_by_expression_and_aggregate_of_expression() -> None:
    script = (
        READINGS
        + """
        CREATE TABLE g AS SELECT UCASE(region) AS r, SUM(n * 2) AS s, COUNT(*) + 1 AS c1
        FROM readings GROUP BY UCASE(region);
    """
    )
    rows = [("a", reading(region="x", n=1)), ("b", reading(region="X", n=2))]
    assert run(script, {"readings": rows}, "g")[-1] == ("X", {"r": "X", "s": 6, "c1": 3})


def test_having_with_emit_changes_sends_a_tombstone_for_a_failing_update() -> None:
    script = (
        READINGS
        + """
        CREATE TABLE hot AS SELECT id, AVG(temp) AS a FROM readings
        GROUP BY id HAVING AVG(temp) > 10 EMIT CHANGES;
    """
    )
    rows = [("a", reading(temp=20.0)), ("a", reading(temp=0.0)), ("a", reading(temp=40.0))]
    assert run(script, {"readings": rows}, "hot") == [
        ("a", {"id": "a", "a": 20.0}),
        ("a", None),
        ("a", {"id": "a", "a": 20.0}),
    ]


def test_aggregate_uses_the_source_key_after_re_keying() -> None:
    script = (
        READINGS
        + """
        CREATE TABLE g AS SELECT region, LATEST_BY_OFFSET(id) AS last_id, COUNT(id) AS c
        FROM readings GROUP BY region;
    """
    )
    rows = [("k1", reading(region="x")), ("k2", reading(region="x"))]
    assert run(script, {"readings": rows}, "g")[-1] == (
        "x",
        {"region": "x", "last_id": "k2", "c": 2},
    )


def test_tumbling_emit_changes_with_window_bounds() -> None:
    script = (
        READINGS
        + """
        CREATE TABLE t AS SELECT id, WINDOWSTART AS ws, WINDOWEND, COUNT(*) AS c
        FROM readings WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY id EMIT CHANGES;
    """
    )
    rows = [("a", reading(T0 + 1)), ("a", reading(T0 + 2)), ("a", reading(T0 + MIN))]
    assert run(script, {"readings": rows}, "t") == [
        ("a", {"id": "a", "ws": T0, "WINDOWEND": T0 + MIN, "c": 1}),
        ("a", {"id": "a", "ws": T0, "WINDOWEND": T0 + MIN, "c": 2}),
        ("a", {"id": "a", "ws": T0 + MIN, "WINDOWEND": T0 + 2 * MIN, "c": 1}),
    ]


def test_tumbling_emit_final_once_per_window_with_grace() -> None:
    script = (
        READINGS
        + """
        CREATE TABLE t AS SELECT id, WINDOWSTART AS ws, COUNT(*) AS c FROM readings
        WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 10 SECONDS) GROUP BY id EMIT FINAL;
    """
    )
    rows = [
        ("a", reading(T0 + 1)),
        ("a", reading(T0 + MIN + 9_999)),  # the first window is still within its grace
        ("a", reading(T0 + 2)),
        ("b", reading(T0 + MIN + 10_000)),  # closes [T0, T0 + 1 min)
        ("a", reading(T0 + 3)),  # late: dropped
    ]
    assert run(script, {"readings": rows}, "t") == [("a", {"id": "a", "ws": T0, "c": 2})]
    flushed = run(script, {"readings": rows}, "t", flush=True)
    assert sorted((k, v["ws"], v["c"]) for k, v in flushed) == [
        ("a", T0, 2),
        ("a", T0 + MIN, 1),
        ("b", T0 + MIN, 1),
    ]


def test_hopping_windows_count_each_record_in_every_window_holding_it() -> None:
    script = (
        READINGS
        + """
        CREATE TABLE h AS SELECT id, WINDOWSTART AS ws, COUNT(*) AS c FROM readings
        WINDOW HOPPING (SIZE 2 MINUTES, ADVANCE BY 1 MINUTE) GROUP BY id EMIT FINAL;
    """
    )
    rows = [("a", reading(T0 + 1)), ("a", reading(T0 + MIN + 1))]
    out = run(script, {"readings": rows}, "h", flush=True)
    assert sorted((v["ws"], v["c"]) for _, v in out) == [
        (T0 - MIN, 1),
        (T0, 2),
        (T0 + MIN, 1),
    ]


def test_hopping_emit_changes() -> None:
    script = (
        READINGS
        + """
        CREATE TABLE h AS SELECT id, WINDOWSTART AS ws, COUNT(*) AS c FROM readings
        WINDOW HOPPING (SIZE 2 MINUTES, ADVANCE BY 1 MINUTE) GROUP BY id;
    """
    )
    out = run(script, {"readings": [("a", reading(T0 + 1))]}, "h")
    assert sorted(v["ws"] for _, v in out) == [T0 - MIN, T0]


def test_session_windows_merge_with_emit_changes() -> None:
    script = (
        READINGS
        + """
        CREATE TABLE s AS SELECT id, WINDOWSTART AS ws, WINDOWEND AS we, COUNT(*) AS c,
            SUM(n) AS total, MAX(n) AS top
        FROM readings WINDOW SESSION (30 SECONDS, GRACE PERIOD 1 MINUTE) GROUP BY id EMIT CHANGES;
    """
    )
    rows = [
        ("a", reading(T0, n=1)),
        ("a", reading(T0 + 50_000, n=2)),  # a second session
        ("a", reading(T0 + 25_000, n=5)),  # within the gap of both: merged into one
    ]
    out = run(script, {"readings": rows}, "s")
    assert [v["ws"] for _, v in out[:2]] == [T0, T0 + 50_000]
    assert out[-1] == ("a", {"id": "a", "ws": T0, "we": T0 + 50_000, "c": 3, "total": 8, "top": 5})
    assert len(out) == 3  # merged-away sessions send nothing


def test_session_windows_emit_final() -> None:
    script = (
        READINGS
        + """
        CREATE TABLE s AS SELECT id, WINDOWSTART AS ws, WINDOWEND AS we, COUNT(*) AS c
        FROM readings WINDOW SESSION (30 SECONDS, GRACE PERIOD 0 SECONDS)
        GROUP BY id HAVING COUNT(*) > 1 EMIT FINAL;
    """
    )
    rows = [
        ("a", reading(T0)),
        ("a", reading(T0 + 10_000)),
        ("b", reading(T0 + 5_000)),  # a session of one: fails HAVING
        ("c", reading(T0 + 100_000)),  # closes the sessions above
    ]
    assert run(script, {"readings": rows}, "s") == [
        ("a", {"id": "a", "ws": T0, "we": T0 + 10_000, "c": 2})
    ]
