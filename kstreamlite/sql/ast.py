"""The syntax tree of a SQL script: statements and expressions, each knowing where it
starts in the text (``pos``, left out of equality so that ``GROUP BY x`` and a select
item ``x`` compare equal)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import NOWHERE, Position

# ---- expressions ----


class Expr:
    pos: Position


@dataclass(eq=True, frozen=True)
class Literal(Expr):
    value: Any
    type_name: str  # STRING, INT, BIGINT, DOUBLE, BOOLEAN or NULL
    pos: Position = field(default=NOWHERE, compare=False, repr=False)


@dataclass(eq=True, frozen=True)
class ColumnRef(Expr):
    qualifier: str | None  # as written (a source name or alias), or None
    name: str  # as written
    pos: Position = field(default=NOWHERE, compare=False, repr=False)

    @property
    def text(self) -> str:
        return f"{self.qualifier}.{self.name}" if self.qualifier else self.name


@dataclass(eq=True, frozen=True)
class Unary(Expr):
    op: str  # "-" or "NOT"
    operand: Expr
    pos: Position = field(default=NOWHERE, compare=False, repr=False)


@dataclass(eq=True, frozen=True)
class Binary(Expr):
    op: str  # + - * / % = != < <= > >= AND OR  ("<>" is read as "!=")
    left: Expr
    right: Expr
    pos: Position = field(default=NOWHERE, compare=False, repr=False)


@dataclass(eq=True, frozen=True)
class IsNull(Expr):
    operand: Expr
    negated: bool
    pos: Position = field(default=NOWHERE, compare=False, repr=False)


@dataclass(eq=True, frozen=True)
class Between(Expr):
    operand: Expr
    low: Expr
    high: Expr
    negated: bool
    pos: Position = field(default=NOWHERE, compare=False, repr=False)


@dataclass(eq=True, frozen=True)
class InList(Expr):
    operand: Expr
    items: tuple[Expr, ...]
    negated: bool
    pos: Position = field(default=NOWHERE, compare=False, repr=False)


@dataclass(eq=True, frozen=True)
class Like(Expr):
    operand: Expr
    pattern: Expr
    negated: bool
    pos: Position = field(default=NOWHERE, compare=False, repr=False)


@dataclass(eq=True, frozen=True)
class Case(Expr):
    operand: Expr | None  # CASE x WHEN 1 THEN ... (simple form) or None (searched form)
    whens: tuple[tuple[Expr, Expr], ...]
    otherwise: Expr | None
    pos: Position = field(default=NOWHERE, compare=False, repr=False)


@dataclass(eq=True, frozen=True)
class Cast(Expr):
    operand: Expr
    type_name: str
    pos: Position = field(default=NOWHERE, compare=False, repr=False)


@dataclass(eq=True, frozen=True)
class Call(Expr):
    name: str  # upper case
    args: tuple[Expr, ...]
    star: bool = False  # COUNT(*)
    pos: Position = field(default=NOWHERE, compare=False, repr=False)


@dataclass(eq=True, frozen=True)
class WindowBound(Expr):
    which: str  # WINDOWSTART or WINDOWEND
    pos: Position = field(default=NOWHERE, compare=False, repr=False)


# ---- statements ----


@dataclass(frozen=True)
class Prop:
    """A WITH property: the value is a str or a number."""

    name: str  # upper case
    value: Any
    pos: Position


@dataclass(frozen=True)
class ColumnDef:
    name: str  # as written
    type_name: str
    key: bool
    pos: Position


@dataclass(frozen=True)
class CreateSource:
    """CREATE STREAM|TABLE name (columns) WITH (...)."""

    kind: str  # STREAM or TABLE
    name: str  # upper case
    columns: tuple[ColumnDef, ...]
    props: tuple[Prop, ...]
    pos: Position


@dataclass(frozen=True)
class SelectItem:
    expr: Expr | None  # None for * or alias.*
    alias: str | None
    star_qualifier: str | None
    pos: Position


@dataclass(frozen=True)
class SourceRef:
    name: str  # upper case
    alias: str | None  # upper case
    pos: Position

    @property
    def label(self) -> str:
        return self.alias or self.name


@dataclass(frozen=True)
class Join:
    kind: str  # INNER, LEFT or FULL
    source: SourceRef
    within_ms: int | None
    on: Expr
    pos: Position


@dataclass(frozen=True)
class WindowSpec:
    kind: str  # TUMBLING, HOPPING or SESSION
    size_ms: int  # the gap, for sessions
    advance_ms: int | None
    grace_ms: int | None
    pos: Position


@dataclass(frozen=True)
class Select:
    items: tuple[SelectItem, ...]
    source: SourceRef
    join: Join | None
    window: WindowSpec | None
    where: Expr | None
    group_by: tuple[Expr, ...]
    partition_by: Expr | None
    having: Expr | None
    emit: str | None  # CHANGES, FINAL or None
    pos: Position


@dataclass(frozen=True)
class CreateAs:
    """CREATE STREAM|TABLE name [WITH (...)] AS SELECT ..."""

    kind: str
    name: str  # upper case
    props: tuple[Prop, ...]
    select: Select
    pos: Position


Statement = CreateSource | CreateAs
