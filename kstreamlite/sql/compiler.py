"""``to_topology``: a whole script, parsed and planned (every error found) before one
StreamsBuilder builds every query into one Topology.

Each declared source is read by one ``builder.stream``/``builder.table`` however many
queries use it; operators are named after their statement (``FIRE_ALERTS-having``).
"""

from __future__ import annotations

from typing import Any

from .. import serdes
from ..dsl import StreamsBuilder
from ..dsl.kstream import KStream
from ..dsl.ktable import KTable
from ..topology import Topology
from ..windows import JoinWindows, Suppressed
from . import ast
from .catalog import Source, declare
from .errors import SqlError
from .expressions import make_function
from .parser import parse
from .planner import AggregateQuery, FromPlan, Plan, Planner, StreamQuery, TableQuery


def to_topology(sql_text: str) -> Topology:
    """Compile a script of ``;``-separated CREATE STREAM/TABLE statements into one
    Topology. Raises SqlError (with ``line`` and ``column``) at the first error; nothing
    is built unless the whole script is valid."""
    try:
        plans, sources = plan_script(sql_text)
    except SqlError as exc:
        if exc.line and not exc.source_line:
            raise SqlError(exc.message, exc.line, exc.column, sql_text) from None
        raise
    return Builder(sources).build(plans)


def plan_script(sql_text: str) -> tuple[list[Plan], dict[str, Source]]:
    statements = parse(sql_text)
    if not statements:
        raise SqlError("the script has no statements; write CREATE STREAM ... ; CREATE ... AS")
    sources: dict[str, Source] = {}
    topics: dict[str, str] = {}
    names: dict[str, ast.Statement] = {}
    planner = Planner(sources)
    plans: list[Plan] = []
    sinks: dict[str, str] = {}
    for stmt in statements:
        if stmt.name in names:
            first = names[stmt.name].pos
            raise SqlError(
                f"{stmt.name} is already defined (line {first.line}); give this statement "
                "another name",
                stmt.pos.line,
                stmt.pos.column,
            )
        names[stmt.name] = stmt
        if isinstance(stmt, ast.CreateSource):
            source = declare(stmt)
            if source.topic in topics:
                raise SqlError(
                    f"topic '{source.topic}' is already declared as {topics[source.topic]}; "
                    "read it through that one",
                    stmt.pos.line,
                    stmt.pos.column,
                )
            topics[source.topic] = source.name
            sources[source.name] = source
            continue
        plan = planner.plan(stmt)
        planner.planned[stmt.name] = stmt
        if plan.topic in sinks:
            raise SqlError(
                f"topic '{plan.topic}' is already written by {sinks[plan.topic]}; give "
                f"{stmt.name} its own WITH (KAFKA_TOPIC=...)",
                stmt.pos.line,
                stmt.pos.column,
            )
        if plan.topic in topics:
            raise SqlError(
                f"{stmt.name} would write topic '{plan.topic}', which source "
                f"{topics[plan.topic]} reads; give it another WITH (KAFKA_TOPIC=...)",
                stmt.pos.line,
                stmt.pos.column,
            )
        sinks[plan.topic] = stmt.name
        plans.append(plan)
    if not plans:
        raise SqlError(
            "the script declares sources but has no query; add CREATE STREAM|TABLE ... AS "
            "SELECT ..."
        )
    return plans, sources


def _not_null(k: Any, a: Any) -> bool:
    return a is not None


class Builder:
    """Turns plans into DSL calls on one StreamsBuilder, one KStream/KTable per source."""

    def __init__(self, sources: dict[str, Source]) -> None:
        self.sources = sources
        self.builder = StreamsBuilder()
        self.streams: dict[str, KStream] = {}
        self.tables: dict[str, KTable] = {}

    def build(self, plans: list[Plan]) -> Topology:
        for plan in plans:
            if isinstance(plan, StreamQuery):
                self._stream_query(plan)
            elif isinstance(plan, TableQuery):
                self._table_query(plan)
            else:
                self._aggregate_query(plan)
        return self.builder.build()

    # ---- sources ----

    def stream(self, source: Source) -> KStream:
        stream = self.streams.get(source.name)
        if stream is None:
            extractor = None
            if source.timestamp is not None:
                extractor = make_function(
                    f"{source.name}_timestamp",
                    "k, v, ts",
                    f"int(v[{source.timestamp!r}]) if v is not None else ts",
                    {},
                )
            stream = self.builder.stream(
                source.topic,
                key_serde=serdes.STRING,
                value_serde=serdes.JSON,
                timestamp_extractor=extractor,
                watermark=source.watermark,
                name=f"{source.name}-source",
            )
            self.streams[source.name] = stream
        return stream

    def table(self, source: Source) -> KTable:
        table = self.tables.get(source.name)
        if table is None:
            table = self.builder.table(
                source.topic,
                key_serde=serdes.STRING,
                value_serde=serdes.JSON,
                materialized=f"{source.name}-store",
            )
            self.tables[source.name] = table
        return table

    def rows(self, plan: FromPlan, q: str) -> KStream:
        """The FROM clause as a stream of rows (joined: values ``(left, right)``)."""
        left = self.stream(plan.left)
        join = plan.join
        if join is None:
            return left
        if join.left_rekey is not None:
            left = left.map(join.left_rekey, name=f"{q}-left-rekey").repartition(
                name=f"{q}-left", key_serde=serdes.STRING, value_serde=serdes.JSON
            )
        if join.right.kind == "TABLE":
            table = self.table(join.right)
            method = left.left_join if join.kind == "LEFT" else left.join
            return method(table, _pair, name=f"{q}-join")
        right = self.stream(join.right)
        if join.right_rekey is not None:
            right = right.map(join.right_rekey, name=f"{q}-right-rekey").repartition(
                name=f"{q}-right", key_serde=serdes.STRING, value_serde=serdes.JSON
            )
        assert join.within_ms is not None
        windows = JoinWindows.of(join.within_ms)
        if join.kind == "FULL":
            return left.outer_join(right, _pair, windows, name=f"{q}-join")
        method = left.left_join if join.kind == "LEFT" else left.join
        return method(right, _pair, windows, name=f"{q}-join")

    # ---- queries ----

    def _stream_query(self, plan: StreamQuery) -> None:
        q = plan.name
        rows = self.rows(plan.source, q)
        if plan.where is not None:
            rows = rows.filter(plan.where, name=f"{q}-where")
        rows.map(plan.project, name=f"{q}-project").to(
            plan.topic, key_serde=serdes.STRING, value_serde=serdes.JSON, name=f"{q}-sink"
        )

    def _table_query(self, plan: TableQuery) -> None:
        q = plan.name
        self.table(plan.source).to_stream(name=f"{q}-changes").map(
            plan.project, name=f"{q}-project"
        ).to(plan.topic, key_serde=serdes.STRING, value_serde=serdes.JSON, name=f"{q}-sink")

    def _aggregate_query(self, plan: AggregateQuery) -> None:
        q = plan.name
        rows = self.rows(plan.source, q)
        if plan.where is not None:
            rows = rows.filter(plan.where, name=f"{q}-where")
        if plan.rekey is not None:
            rows = rows.map(plan.rekey, name=f"{q}-group-key")
        grouped = rows.group_by_key(
            key_serde=serdes.STRING, value_serde=serdes.JSON, name=f"{q}-groupby"
        )
        store = f"{q}-aggregate-store"
        table: KTable
        if plan.windows is None:
            table = grouped.aggregate(plan.initializer, plan.aggregator, materialized=store)
        else:
            windowed = grouped.windowed_by(plan.windows)
            if plan.merger is not None:
                table = windowed.aggregate(
                    plan.initializer, plan.aggregator, plan.merger, materialized=store
                )
            else:
                table = windowed.aggregate(plan.initializer, plan.aggregator, materialized=store)
        if plan.final:
            table = table.suppress(Suppressed.until_window_closes(name=f"{q}-suppress"))
        out = table.to_stream(name=f"{q}-to-stream")
        if plan.session and not plan.final:
            # A session merged into another comes as a null update: no row, nothing out.
            out = out.filter(_not_null, name=f"{q}-live-sessions")
        if plan.having is not None:
            out = out.filter(plan.having, name=f"{q}-having")
        out.map(plan.project, name=f"{q}-project").to(
            plan.topic, key_serde=serdes.STRING, value_serde=serdes.JSON, name=f"{q}-sink"
        )


def _pair(left: Any, right: Any) -> list[Any]:
    return [left, right]
