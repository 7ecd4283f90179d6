"""Every expression form and scalar function, evaluated on a real record through a
CREATE STREAM ... AS SELECT, with SQL's NULL rules."""

from __future__ import annotations

from typing import Any

import pytest

from .support import READINGS, T0, run

ROW = {
    "region": "north",
    "temp": 21.5,
    "n": 7,
    "big": 10_000_000_000,
    "ok": True,
    "name": "It's",
    "ts": T0,
}


def evaluate(expr: str, row: dict[str, Any] | None = None, key: str = "k1") -> Any:
    script = READINGS + f"CREATE STREAM out AS SELECT {expr} AS r FROM readings;"
    out = run(script, {"readings": [(key, ROW if row is None else row)]}, "out")
    assert len(out) == 1
    return out[0][1]["r"]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("1", 1),
        ("-2.5", -2.5),
        ("'a''b'", "a'b"),
        ("TRUE", True),
        ("FALSE", False),
        ("NULL", None),
        ("id", "k1"),
        ("readings.region", "north"),
        ("temp + 1", 22.5),
        ("n - 10", -3),
        ("n * 2", 14),
        ("n / 2", 3),  # INT / INT is integer division
        ("-n / 2", -3),  # truncated toward zero, as Java
        ("n % 4", 3),
        ("-n % 4", -3),
        ("n / 2.0", 3.5),
        ("temp / 0", None),
        ("n / 0", None),
        ("-n", -7),
        ("-(n + 1)", -8),
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("big + 1", 10_000_000_001),
        ("region + '-' + name", "north-It's"),
        ("n = 7", True),
        ("n != 7", False),
        ("n <> 7", False),
        ("n < 8", True),
        ("n <= 7", True),
        ("n > 7", False),
        ("n >= 7.0", True),
        ("region = 'north'", True),
        ("region < 'south'", True),
        ("ok AND n > 1", True),
        ("ok AND n > 10", False),
        ("NOT ok OR n = 7", True),
        ("NOT ok", False),
        ("missing IS NULL", True),
        ("region IS NULL", False),
        ("region IS NOT NULL", True),
        ("n BETWEEN 1 AND 7", True),
        ("n BETWEEN 8 AND 9", False),
        ("n NOT BETWEEN 8 AND 9", True),
        ("region IN ('south', 'north')", True),
        ("region IN ('south', 'east')", False),
        ("region NOT IN ('south', 'east')", True),
        ("n IN (1, n, 3)", True),
        ("region LIKE 'no%'", True),
        ("region LIKE 'n_rth'", True),
        ("region LIKE 'n_th'", False),
        ("region NOT LIKE '%th'", False),
        ("region LIKE 'n%' AND name LIKE '%''%'", True),
        ("CASE WHEN n > 5 THEN 'big' WHEN n > 2 THEN 'mid' ELSE 'small' END", "big"),
        ("CASE WHEN n > 50 THEN 'big' END", None),
        ("CASE region WHEN 'south' THEN 1 WHEN 'north' THEN 2 ELSE 3 END", 2),
        ("CASE n WHEN 1 THEN 1.5 ELSE 2 END", 2),
        ("CAST(n AS VARCHAR)", "7"),
        ("CAST(ok AS STRING)", "true"),
        ("CAST(temp AS INT)", 21),
        ("CAST(n AS DOUBLE)", 7.0),
        ("CAST('42' AS BIGINT)", 42),
        ("CAST('x' AS INT)", None),
        ("CAST('TRUE' AS BOOLEAN)", True),
        ("ABS(-n)", 7),
        ("ABS(-2.5)", 2.5),
        ("ROUND(temp)", 22),  # Python's round: half to even
        ("ROUND(2.675, 2)", 2.67),  # the double below 2.675
        ("ROUND(temp / 3, 2)", 7.17),
        ("FLOOR(temp)", 21.0),
        ("CEIL(temp)", 22.0),
        ("FLOOR(n)", 7),
        ("UCASE(region)", "NORTH"),
        ("LCASE('AbC')", "abc"),
        ("LEN(name)", 4),
        ("CONCAT(region, '/', n, '/', ok)", "north/7/true"),
        ("CONCAT(region, missing)", "north"),
        ("COALESCE(missing, region)", "north"),
        ("COALESCE(missing, NULL)", None),
        ("COALESCE(n, 0) + 1", 8),
    ],
)
def test_expression(expr: str, expected: Any) -> None:
    script_expr = expr.replace("missing", "CAST(NULL AS VARCHAR)")
    value = evaluate(script_expr)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("n + 1", None),
        ("n > 1", None),
        ("n = n", None),
        ("n IS NULL", True),
        ("n BETWEEN 1 AND 2", None),
        ("n IN (1, 2)", None),
        ("name LIKE 'a%'", None),
        ("NOT ok", None),
        ("ok AND FALSE", False),  # NULL AND FALSE is FALSE
        ("ok AND TRUE", None),
        ("ok OR TRUE", True),  # NULL OR TRUE is TRUE
        ("ok OR FALSE", None),
        ("CASE WHEN ok THEN 1 ELSE 2 END", 2),  # a NULL condition is not true
        ("ABS(n)", None),
        ("ROUND(temp, 1)", None),
        ("UCASE(name)", None),
        ("LEN(name)", None),
        ("COALESCE(n, big, 5)", 5),
        ("CAST(n AS VARCHAR)", None),
    ],
)
def test_null_semantics(expr: str, expected: Any) -> None:
    assert evaluate(expr, {"ts": T0}) == expected


def test_in_list_with_null_and_no_match_is_null() -> None:
    assert evaluate("n IN (1, CAST(NULL AS INT))") is None
    assert evaluate("n IN (7, CAST(NULL AS INT))") is True


def test_where_null_is_false() -> None:
    script = READINGS + "CREATE STREAM out AS SELECT id FROM readings WHERE n > 1;"
    out = run(script, {"readings": [("a", {"ts": T0}), ("b", {"n": 2, "ts": T0})]}, "out")
    assert out == [("b", {"id": "b"})]


def test_keywords_are_case_insensitive_and_names_keep_their_case() -> None:
    script = READINGS + (
        "create stream Out as select Region As myRegion, UCASE(region) from READINGS "
        "where REGION like 'n%' emit changes;"
    )
    out = run(script, {"readings": [("a", dict(ROW))]}, "out")
    assert out == [("a", {"myRegion": "north", "KSQL_COL_1": "NORTH"})]
