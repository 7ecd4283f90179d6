"""Scopes: what a column name means, in Python, where an expression is compiled.

A *row* is what flows from the FROM clause: for one source the pair ``(k, v)`` (record
key, JSON value dict); for a join, ``v`` is the list ``[left, right]`` of the two sides'
value dicts (either may be None in an outer join) and ``k`` the join key. A side whose
key had to change before a join or a GROUP BY carries its original key inside its
value dict, under the key column's name.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import ast
from . import types as T
from .catalog import Column, Source
from .errors import SqlError
from .expressions import Code, Codegen, error, to_sql


@dataclass
class Side:
    """One source of the FROM clause as seen by the generated code."""

    label: str  # the alias, or the source's name
    source: Source
    var: str  # Python expression of its value dict ("v", "_s0"...)
    key: str  # Python expression of its key column's value
    nullable: bool = False  # an outer side: may be absent (then its columns are NULL)


class RowScope:
    """Columns of the FROM clause's rows. Aggregates are errors here (WHERE, GROUP BY,
    PARTITION BY, and aggregate arguments are all compiled in a RowScope)."""

    def __init__(self, sides: list[Side], clause: str, prologue: tuple[str, ...] = ()) -> None:
        self.sides = sides
        self.clause = clause
        self.prologue = prologue

    def resolve(self, ref: ast.ColumnRef) -> tuple[Side, Column]:
        if ref.qualifier is not None:
            side = next((s for s in self.sides if s.label == ref.qualifier), None)
            if side is None:
                labels = " and ".join(s.label for s in self.sides)
                raise error(
                    f"unknown source {ref.qualifier} in {ref.text}; this query reads {labels}",
                    ref,
                )
            column = side.source.find(ref.name)
            if column is None:
                raise error(
                    f"unknown column {ref.name} in {side.label}; its columns are: "
                    f"{side.source.column_list()}",
                    ref,
                )
            return side, column
        found = [(s, c) for s in self.sides if (c := s.source.find(ref.name)) is not None]
        if not found:
            if len(self.sides) == 1:
                side = self.sides[0]
                raise error(
                    f"unknown column {ref.name} in {side.label}; its columns are: "
                    f"{side.source.column_list()}",
                    ref,
                )
            known = "; ".join(f"{s.label}: {s.source.column_list()}" for s in self.sides)
            raise error(f"unknown column {ref.name}; the columns are {known}", ref)
        if len(found) > 1:
            a, b = found[0][0].label, found[1][0].label
            raise error(
                f"column {ref.name} is ambiguous: both {a} and {b} have it; write "
                f"{a}.{ref.name} or {b}.{ref.name}",
                ref,
            )
        return found[0]

    def column(self, ref: ast.ColumnRef) -> Code:
        side, column = self.resolve(ref)
        return self.column_code(side, column)

    @staticmethod
    def column_code(side: Side, column: Column) -> Code:
        if column.key:
            return Code(side.key, column.type, True, side.key == "k")
        return Code(f"{side.var}.get({column.name!r})", column.type, True)

    def aggregate(self, call: ast.Call, gen: Codegen) -> Code:
        raise error(
            f"aggregate function {call.name} is not allowed in {self.clause}; aggregates go "
            "in the SELECT list or HAVING of a GROUP BY query",
            call,
        )

    def window_bound(self, node: ast.WindowBound) -> Code:
        raise error(
            f"{node.which} is not allowed in {self.clause}; it is the window bound of a "
            "windowed aggregate, usable in its SELECT list and HAVING",
            node,
        )

    def group_value(self, expr: ast.Expr, gen: Codegen) -> Code | None:
        return None


def single(source: Source, label: str, clause: str, *, carried_key: bool = False) -> RowScope:
    """Rows of one source: ``(k, v)``; with ``carried_key`` the key column's value is read
    from the value dict (the record key having been replaced)."""
    key = source.key_column
    key_code = f"v.get({key.name!r})" if (carried_key and key is not None) else "k"
    return RowScope([Side(label, source, "v", key_code)], clause)


def row_sql(ref: ast.Expr) -> str:
    return to_sql(ref)


def check_type(code: Code, expected: tuple[str, ...], expr: ast.Expr, what: str) -> None:
    if code.type not in (*expected, T.NULL):
        raise SqlError(
            f"type mismatch: {what} must be "
            + " or ".join(T.display(e) for e in expected)
            + f", but {to_sql(expr)} is {T.display(code.type)}",
            expr.pos.line,
            expr.pos.column,
        )
