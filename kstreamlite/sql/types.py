"""SQL types: the static type of every expression, checked when a script is compiled.

``NULL`` is the type of the literal NULL only; it fits wherever any type is expected.
Numbers widen INT < BIGINT < DOUBLE.
"""

from __future__ import annotations

STRING, INT, BIGINT, DOUBLE, BOOLEAN, NULL = "STRING", "INT", "BIGINT", "DOUBLE", "BOOLEAN", "NULL"

NUMERIC = (INT, BIGINT, DOUBLE)
_RANK = {INT: 0, BIGINT: 1, DOUBLE: 2}

#: How a type is written in messages (VARCHAR, as ksqlDB calls it).
DISPLAY = {
    STRING: "VARCHAR",
    INT: "INT",
    BIGINT: "BIGINT",
    DOUBLE: "DOUBLE",
    BOOLEAN: "BOOLEAN",
    NULL: "NULL",
}


def display(type_name: str) -> str:
    return DISPLAY.get(type_name, type_name)


def is_numeric(type_name: str) -> bool:
    return type_name in NUMERIC or type_name == NULL


def widest(a: str, b: str) -> str:
    """The type two numbers combine to (NULL takes the other's type)."""
    if a == NULL:
        return b
    if b == NULL:
        return a
    return a if _RANK[a] >= _RANK[b] else b


def common(a: str, b: str) -> str | None:
    """The type values of types ``a`` and ``b`` share (CASE branches, COALESCE, IN lists,
    comparison operands), or None if they do not mix."""
    if a == NULL:
        return b
    if b == NULL or a == b:
        return a
    if a in NUMERIC and b in NUMERIC:
        return widest(a, b)
    return None
