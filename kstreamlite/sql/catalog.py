"""The catalog: the streams and tables a script declares, their columns and topics, and
what their WITH properties mean."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..timing import WatermarkStrategy
from . import ast
from . import types as T
from .errors import SqlError
from .parser import parse_duration


@dataclass(frozen=True)
class Column:
    name: str  # as declared: also the JSON field name
    type: str
    key: bool


@dataclass
class Source:
    """A declared stream or table (``CREATE STREAM s (...) WITH (...)``)."""

    name: str
    kind: str  # STREAM or TABLE
    topic: str
    columns: list[Column]
    timestamp: str | None = None  # the value field holding event time (epoch ms)
    watermark: WatermarkStrategy | None = None
    by_name: dict[str, Column] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_name = {c.name.upper(): c for c in self.columns}

    @property
    def key_column(self) -> Column | None:
        return next((c for c in self.columns if c.key), None)

    def find(self, name: str) -> Column | None:
        return self.by_name.get(name.upper())

    def column_list(self) -> str:
        return ", ".join(c.name for c in self.columns)


SOURCE_PROPS = (
    "KAFKA_TOPIC",
    "VALUE_FORMAT",
    "KEY_FORMAT",
    "TIMESTAMP",
    "WATERMARK_DELAY",
    "IDLENESS",
    "PARTITIONS",
    "REPLICAS",
)
OUTPUT_PROPS = ("KAFKA_TOPIC", "VALUE_FORMAT", "KEY_FORMAT", "PARTITIONS", "REPLICAS")


def check_props(props: tuple[ast.Prop, ...], allowed: tuple[str, ...], what: str) -> dict[str, Any]:
    """The properties by name; unknown, duplicate or unsupported ones are errors."""
    out: dict[str, ast.Prop] = {}
    for prop in props:
        if prop.name not in allowed:
            raise SqlError(
                f"unknown WITH property {prop.name} for {what}; the properties are: "
                + ", ".join(allowed),
                prop.pos.line,
                prop.pos.column,
            )
        if prop.name in out:
            raise SqlError(f"WITH property {prop.name} given twice", prop.pos.line, prop.pos.column)
        out[prop.name] = prop
    value_format = out.get("VALUE_FORMAT")
    if value_format is not None and str(value_format.value).upper() != "JSON":
        raise SqlError(
            f"VALUE_FORMAT '{value_format.value}' is not supported: kstreamlite SQL reads and "
            "writes JSON values only; use VALUE_FORMAT='JSON'",
            value_format.pos.line,
            value_format.pos.column,
        )
    key_format = out.get("KEY_FORMAT")
    if key_format is not None and str(key_format.value).upper() not in ("KAFKA", "STRING"):
        raise SqlError(
            f"KEY_FORMAT '{key_format.value}' is not supported: keys are UTF-8 strings "
            "(KEY_FORMAT='KAFKA')",
            key_format.pos.line,
            key_format.pos.column,
        )
    topic = out.get("KAFKA_TOPIC")
    if topic is not None and (not isinstance(topic.value, str) or not topic.value):
        raise SqlError(
            "KAFKA_TOPIC must be a non-empty quoted topic name", topic.pos.line, topic.pos.column
        )
    return out


def _duration(prop: ast.Prop) -> int:
    if isinstance(prop.value, int) and not isinstance(prop.value, bool):
        return prop.value  # a bare number: milliseconds
    return parse_duration(str(prop.value), prop.pos)


def declare(stmt: ast.CreateSource) -> Source:
    """A Source from ``CREATE STREAM|TABLE name (columns) WITH (...)``, checked."""
    what = f"CREATE {stmt.kind} {stmt.name}"
    props = check_props(stmt.props, SOURCE_PROPS, what)
    if "KAFKA_TOPIC" not in props:
        raise SqlError(
            f"{what} needs WITH (KAFKA_TOPIC='topic-name'): the topic it reads",
            stmt.pos.line,
            stmt.pos.column,
        )
    seen: dict[str, ast.ColumnDef] = {}
    keys = []
    for col in stmt.columns:
        if col.name.upper() in seen:
            raise SqlError(
                f"column {col.name} is declared twice in {stmt.name}", col.pos.line, col.pos.column
            )
        seen[col.name.upper()] = col
        if col.key:
            keys.append(col)
            if col.type_name != T.STRING:
                raise SqlError(
                    f"key column {col.name} is {T.display(col.type_name)}, but record keys are "
                    "strings here: declare it VARCHAR",
                    col.pos.line,
                    col.pos.column,
                )
    if len(keys) > 1:
        raise SqlError(
            f"{stmt.name} declares two key columns ({keys[0].name}, {keys[1].name}); "
            "the record key is one string column",
            keys[1].pos.line,
            keys[1].pos.column,
        )
    if stmt.kind == "TABLE" and not keys:
        raise SqlError(
            f"table {stmt.name} needs a PRIMARY KEY column: the record key it is keyed by, "
            "for example (id VARCHAR PRIMARY KEY, ...)",
            stmt.pos.line,
            stmt.pos.column,
        )
    columns = [Column(c.name, c.type_name, c.key) for c in stmt.columns]
    source = Source(stmt.name, stmt.kind, str(props["KAFKA_TOPIC"].value), columns)
    timestamp = props.get("TIMESTAMP")
    if timestamp is not None:
        if stmt.kind == "TABLE":
            raise SqlError(
                "TIMESTAMP is supported on streams only (a table's rows keep their record "
                "timestamps)",
                timestamp.pos.line,
                timestamp.pos.column,
            )
        column = source.find(str(timestamp.value))
        if column is None or column.key:
            raise SqlError(
                f"TIMESTAMP='{timestamp.value}' names no value column of {stmt.name}; its "
                f"columns are: {source.column_list()}",
                timestamp.pos.line,
                timestamp.pos.column,
            )
        if column.type not in (T.BIGINT, T.INT):
            raise SqlError(
                f"TIMESTAMP column {column.name} is {T.display(column.type)}; it must be a "
                "BIGINT of epoch milliseconds",
                timestamp.pos.line,
                timestamp.pos.column,
            )
        source.timestamp = column.name
    delay, idleness = props.get("WATERMARK_DELAY"), props.get("IDLENESS")
    if stmt.kind == "TABLE" and (delay or idleness):
        prop = delay or idleness
        assert prop is not None
        raise SqlError(f"{prop.name} is supported on streams only", prop.pos.line, prop.pos.column)
    if delay is not None or idleness is not None:
        strategy = WatermarkStrategy.monotonous()
        if delay is not None:
            strategy = WatermarkStrategy.bounded_out_of_orderness(_duration(delay))
        if idleness is not None:
            ms = _duration(idleness)
            if ms <= 0:
                raise SqlError("IDLENESS must be positive", idleness.pos.line, idleness.pos.column)
            strategy = strategy.with_idleness(ms)
        source.watermark = strategy
    return source
