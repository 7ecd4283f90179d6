"""Errors: SqlError with line and column, the offending line and a caret; each message
names the thing and the fix. Nothing is built when any statement is wrong."""

from __future__ import annotations

import pytest

from kstreamlite.errors import TopologyError
from kstreamlite.sql import SqlError, to_topology

SRC = (
    "CREATE STREAM s (id VARCHAR KEY, name VARCHAR, n INT, x DOUBLE, ts BIGINT) "
    "WITH (KAFKA_TOPIC='s');\n"
)


def fails(script: str) -> SqlError:
    with pytest.raises(SqlError) as info:
        to_topology(script)
    assert isinstance(info.value, TopologyError)
    return info.value


def test_syntax_error_shows_line_column_and_caret() -> None:
    err = fails(SRC + "CREATE STREAM o AS SELECT id FROM s WHERE n > > 1;")
    assert (err.line, err.column) == (2, 47)
    assert str(err) == (
        "line 2, column 47: expected an expression, found '>'\n"
        "    CREATE STREAM o AS SELECT id FROM s WHERE n > > 1;\n"
        "    " + " " * 46 + "^"
    )


def test_missing_semicolon_and_unknown_statement() -> None:
    err = fails(SRC + "CREATE STREAM o AS SELECT id FROM s WHERE n > 1 garbage")
    assert err.line == 2 and "unexpected 'garbage'" in err.message
    err = fails("SELECT 1;")
    assert (err.line, err.column) == (1, 1)
    assert "expected CREATE STREAM or CREATE TABLE" in err.message


def test_unterminated_string() -> None:
    err = fails(SRC + "CREATE STREAM o AS SELECT 'abc FROM s;")
    assert (err.line, err.column) == (2, 27) and "unterminated string" in err.message


@pytest.mark.parametrize(
    ("query", "column", "words"),
    [
        ("SELECT id FROM nope", 16, ["unknown stream or table NOPE", "declared: S"]),
        (
            "SELECT nam FROM s",
            8,
            ["unknown column nam in S", "its columns are: id, name, n, x, ts"],
        ),
        ("SELECT FOO(n) FROM s", 8, ["unknown function FOO", "ABS", "COALESCE"]),
        ("SELECT 'a' + 1 AS r FROM s", 12, ["type mismatch", "'a' + 1", "VARCHAR and INT"]),
        ("SELECT id FROM s WHERE n", 24, ["WHERE must be a condition", "n is INT"]),
        ("SELECT id FROM s WHERE name = 1", 29, ["compares VARCHAR with INT"]),
        ("SELECT UCASE(n) FROM s", 14, ["UCASE takes VARCHAR", "n is INT"]),
        ("SELECT id FROM s WHERE COUNT(*) > 1", 24, ["not allowed in WHERE", "HAVING"]),
        ("SELECT WINDOWSTART AS w FROM s", 8, ["WINDOWSTART is not allowed"]),
        ("SELECT n AS a, x AS a FROM s", 16, ["two columns named a"]),
    ],
)
def test_stream_query_errors(query: str, column: int, words: list[str]) -> None:
    err = fails(SRC + f"CREATE STREAM o AS {query};")
    assert (err.line, err.column) == (2, 19 + column)
    for word in words:
        assert word in err.message
    assert str(err).endswith("\n    " + " " * (err.column - 1) + "^")


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("SELECT SUM(name) AS s FROM s GROUP BY id", ["SUM takes a number", "name is VARCHAR"]),
        (
            "SELECT id, name, COUNT(*) AS c FROM s GROUP BY id",
            ["column name", "neither in GROUP BY (id)", "LATEST_BY_OFFSET(name)"],
        ),
        ("SELECT id, WINDOWSTART AS w, COUNT(*) AS c FROM s GROUP BY id", ["needs a windowed"]),
        ("SELECT id, COUNT(*) AS c FROM s GROUP BY id EMIT FINAL", ["EMIT FINAL needs a windowed"]),
        (
            "SELECT id, COUNT(*) AS c FROM s GROUP BY id HAVING SUM(n)",
            ["HAVING must be a condition"],
        ),
        ("SELECT id, SUM(COUNT(*)) AS c FROM s GROUP BY id", ["inside aggregate SUM"]),
        ("SELECT * FROM s GROUP BY id", ["SELECT * is not allowed in an aggregate"]),
    ],
)
def test_aggregate_errors(query: str, words: list[str]) -> None:
    err = fails(SRC + f"CREATE TABLE o AS {query};")
    assert err.line == 2
    for word in words:
        assert word in err.message


def test_aggregating_stream_query_must_be_a_table() -> None:
    err = fails(SRC + "CREATE STREAM o AS SELECT id, COUNT(*) AS c FROM s GROUP BY id;")
    assert "write CREATE TABLE O AS SELECT" in err.message


def test_duplicate_statement_names() -> None:
    err = fails(SRC + "CREATE STREAM s AS SELECT id FROM s;")
    assert (err.line, err.column) == (2, 1)
    assert "S is already defined (line 1)" in err.message


def test_value_format_other_than_json() -> None:
    err = fails("CREATE STREAM s (id VARCHAR KEY) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='AVRO');")
    assert "VALUE_FORMAT 'AVRO' is not supported" in err.message
    assert (err.line, err.column) == (1, 57)


def test_bad_with_properties() -> None:
    assert "needs WITH (KAFKA_TOPIC=" in fails("CREATE STREAM s (id VARCHAR KEY);").message
    assert (
        "unknown WITH property COLOR"
        in fails("CREATE STREAM s (id VARCHAR) WITH (KAFKA_TOPIC='s', COLOR='red');").message
    )
    assert (
        "is not a duration"
        in fails(
            "CREATE STREAM s (id VARCHAR) WITH (KAFKA_TOPIC='s', WATERMARK_DELAY='soon');"
        ).message
    )
    assert (
        "names no value column"
        in fails("CREATE STREAM s (id VARCHAR) WITH (KAFKA_TOPIC='s', TIMESTAMP='t');").message
    )
    assert (
        "needs a PRIMARY KEY" in fails("CREATE TABLE t (a VARCHAR) WITH (KAFKA_TOPIC='t');").message
    )


def test_join_errors() -> None:
    two = SRC + (
        "CREATE STREAM u (uid VARCHAR KEY, name VARCHAR, ts BIGINT) WITH (KAFKA_TOPIC='u');\n"
        "CREATE TABLE t (tid VARCHAR PRIMARY KEY, v INT) WITH (KAFKA_TOPIC='t');\n"
    )
    err = fails(two + "CREATE STREAM o AS SELECT name FROM s JOIN u WITHIN 1 SECOND ON id = uid;")
    assert err.line == 4
    assert "column name is ambiguous: both S and U have it; write S.name or U.name" in err.message
    assert (
        "needs WITHIN"
        in fails(two + "CREATE STREAM o AS SELECT id FROM s JOIN u ON id = uid;").message
    )
    assert (
        "PRIMARY KEY T.tid"
        in fails(two + "CREATE STREAM o AS SELECT id FROM s JOIN t ON s.n = t.v;").message
    )
    assert (
        "WITHIN is for stream-stream"
        in fails(
            two + "CREATE STREAM o AS SELECT id FROM s JOIN t WITHIN 1 SECOND ON name = tid;"
        ).message
    )


def test_the_first_error_stops_everything() -> None:
    # The second statement is fine, the third is not: no topology, the error of the third.
    err = fails(SRC + "CREATE STREAM a AS SELECT id FROM s;\nCREATE STREAM b AS SELECT zz FROM s;")
    assert err.line == 3
