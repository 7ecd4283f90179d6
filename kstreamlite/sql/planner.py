"""Planning: each CREATE ... AS SELECT checked and turned into a plan of ready functions
(generated and compiled here, once), before anything is built. A plan says which DSL
operators the query becomes; ``compiler.py`` builds them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..windows import SessionWindows, TimeWindows
from . import ast
from . import types as T
from .aggregates import AggregateScope, AggregateState
from .catalog import OUTPUT_PROPS, Source, check_props
from .errors import SqlError
from .expressions import Code, Codegen, error, make_function, to_sql, walk
from .scopes import RowScope, Side, single

Fn = Any  # a generated function


@dataclass
class JoinPlan:
    kind: str  # INNER, LEFT or FULL
    right: Source
    within_ms: int | None
    left_rekey: Fn | None  # (k, v) -> (join key, value carrying the old key), or None
    right_rekey: Fn | None
    left_key_column: str | None  # for naming only


@dataclass
class FromPlan:
    """Where rows come from: one source, or two joined."""

    left: Source
    join: JoinPlan | None = None


@dataclass
class StreamQuery:
    """CREATE STREAM x AS SELECT (no aggregation): filter, then one map to (key, value)."""

    name: str
    topic: str
    source: FromPlan
    where: Fn | None
    project: Fn  # (k, v) -> (key, value dict)


@dataclass
class TableQuery:
    """CREATE TABLE x AS SELECT ... FROM table (no aggregation): one map per change."""

    name: str
    topic: str
    source: Source
    project: Fn  # (k, v) -> (key, value dict | None)


@dataclass
class AggregateQuery:
    name: str
    topic: str
    source: FromPlan
    where: Fn | None
    rekey: Fn | None  # (k, v) -> (group key, row) when the group is not the record key
    windows: TimeWindows | SessionWindows | None
    initializer: Fn
    aggregator: Fn
    merger: Fn | None
    final: bool
    having: Fn | None  # (k, a) -> bool, on the output side
    project: Fn  # (k, a) -> (key, value dict)
    session: bool = False


Plan = StreamQuery | TableQuery | AggregateQuery


@dataclass
class Planner:
    sources: dict[str, Source]
    planned: dict[str, ast.Statement] = field(default_factory=dict)

    # ---- entry ----

    def plan(self, stmt: ast.CreateAs) -> Plan:
        props = check_props(stmt.props, OUTPUT_PROPS, f"CREATE {stmt.kind} {stmt.name} AS")
        topic_prop = props.get("KAFKA_TOPIC")
        topic = str(topic_prop.value) if topic_prop else stmt.name.lower()
        select = stmt.select
        q = stmt.name
        left = self._source(select.source)
        aggregated = bool(select.group_by) or any(
            isinstance(e, ast.Call) and e.name in _AGGS
            for item in select.items
            for e in walk(item.expr)
        )
        if select.where is not None:
            for e in walk(select.where):
                if isinstance(e, ast.Call) and e.name in _AGGS:
                    raise error(
                        f"aggregate function {e.name} is not allowed in WHERE, which filters "
                        "input rows; filter on aggregates with HAVING",
                        e,
                    )
        if stmt.kind == "STREAM":
            if aggregated:
                node = select.group_by[0] if select.group_by else select
                raise SqlError(
                    f"CREATE STREAM {q} AS SELECT aggregates; an aggregation is a table: "
                    f"write CREATE TABLE {q} AS SELECT ...",
                    node.pos.line,
                    node.pos.column,
                )
            self._no(select.window, "WINDOW", "an aggregation (CREATE TABLE ... GROUP BY)")
            self._no(select.having, "HAVING", "an aggregation (CREATE TABLE ... GROUP BY)")
            if select.emit == "FINAL":
                raise SqlError(
                    "EMIT FINAL is for windowed aggregations; a stream query is EMIT CHANGES",
                    select.pos.line,
                    select.pos.column,
                )
            if left.kind == "TABLE":
                raise SqlError(
                    f"CREATE STREAM {q} reads table {left.name}; a query of a table is a "
                    f"table: write CREATE TABLE {q} AS SELECT ...",
                    select.source.pos.line,
                    select.source.pos.column,
                )
            return self._stream_query(q, topic, select, left)
        # CREATE TABLE
        if select.partition_by is not None:
            raise SqlError(
                "PARTITION BY is for CREATE STREAM ... AS; a table is keyed by its GROUP BY",
                select.partition_by.pos.line,
                select.partition_by.pos.column,
            )
        if not aggregated:
            if left.kind != "TABLE" or select.join is not None:
                node = select.source if left.kind != "TABLE" else select.join
                assert node is not None
                raise SqlError(
                    f"CREATE TABLE {q} AS SELECT needs GROUP BY (or a single table in FROM); "
                    f"to filter or join a stream, write CREATE STREAM {q} AS SELECT ...",
                    node.pos.line,
                    node.pos.column,
                )
            self._no(select.window, "WINDOW", "an aggregation (GROUP BY)")
            self._no(select.having, "HAVING", "an aggregation (GROUP BY)")
            if select.emit == "FINAL":
                raise SqlError(
                    "EMIT FINAL is for windowed aggregations",
                    select.pos.line,
                    select.pos.column,
                )
            return self._table_query(q, topic, select, left)
        if left.kind == "TABLE":
            raise SqlError(
                f"aggregating table {left.name} is not supported; aggregate a stream",
                select.source.pos.line,
                select.source.pos.column,
            )
        if not select.group_by:
            raise SqlError(
                "an aggregate query needs GROUP BY (for a single overall result, group by a "
                "constant key column)",
                select.pos.line,
                select.pos.column,
            )
        return self._aggregate_query(q, topic, select, left)

    @staticmethod
    def _no(node: Any, what: str, use: str) -> None:
        if node is not None:
            raise SqlError(f"{what} is only for {use}", node.pos.line, node.pos.column)

    def _source(self, ref: ast.SourceRef) -> Source:
        source = self.sources.get(ref.name)
        if source is None:
            if ref.name in self.planned:
                raise SqlError(
                    f"{ref.name} is the result of another query; reading it is not supported "
                    "yet: declare its topic as a source with CREATE STREAM ... WITH "
                    "(KAFKA_TOPIC=...) in a separate script",
                    ref.pos.line,
                    ref.pos.column,
                )
            known = ", ".join(sorted(self.sources)) or "none yet"
            raise SqlError(
                f"unknown stream or table {ref.name}; declare it first with CREATE STREAM "
                f"{ref.name} (...) WITH (KAFKA_TOPIC=...) (declared: {known})",
                ref.pos.line,
                ref.pos.column,
            )
        return source

    # ---- FROM and JOIN ----

    def _rows(self, select: ast.Select, left: Source, clause: str) -> tuple[RowScope, FromPlan]:
        """The row scope of the FROM clause (joined rows: ``v`` is [left, right])."""
        if select.join is None:
            return single(left, select.source.label, clause), FromPlan(left)
        join = select.join
        right = self._source(join.source)
        left_label, right_label = select.source.label, join.source.label
        if left_label == right_label:
            raise SqlError(
                f"both sides of the join are called {left_label}; give one an alias "
                f"(FROM {left.name} AS a JOIN {right.name} AS b)",
                join.source.pos.line,
                join.source.pos.column,
            )
        if right.kind == "TABLE":
            if join.kind == "FULL":
                raise SqlError(
                    "FULL OUTER JOIN of a stream and a table is not supported; use JOIN or "
                    "LEFT JOIN (a stream-stream join can be FULL OUTER ... WITHIN)",
                    join.pos.line,
                    join.pos.column,
                )
            if join.within_ms is not None:
                raise SqlError(
                    "WITHIN is for stream-stream joins; a stream-table join matches the "
                    "table's current row: drop WITHIN",
                    join.pos.line,
                    join.pos.column,
                )
        elif join.within_ms is None:
            raise SqlError(
                f"a stream-stream join needs WITHIN: how far apart in time two records may "
                f"be to join, for example JOIN {right.name} WITHIN 1 HOURS ON ...",
                join.pos.line,
                join.pos.column,
            )
        # Resolve ON: one column of each side, compared with =.
        on = join.on
        if not (
            isinstance(on, ast.Binary)
            and on.op == "="
            and isinstance(on.left, ast.ColumnRef)
            and isinstance(on.right, ast.ColumnRef)
        ):
            raise SqlError(
                f"the join condition must be one column of each side compared with =, such "
                f"as {left_label}.id = {right_label}.id; got {to_sql(on)}",
                on.pos.line,
                on.pos.column,
            )
        probe = RowScope([Side(left_label, left, "", ""), Side(right_label, right, "", "")], "ON")
        (side_a, col_a), (side_b, col_b) = probe.resolve(on.left), probe.resolve(on.right)
        if side_a.label == side_b.label:
            raise SqlError(
                f"the join condition {to_sql(on)} compares two columns of {side_a.label}; "
                "compare a column of each side",
                on.pos.line,
                on.pos.column,
            )
        if side_a.label != left_label:
            col_a, col_b = col_b, col_a
        if T.common(col_a.type, col_b.type) is None:
            raise SqlError(
                f"type mismatch: the join condition {to_sql(on)} compares "
                f"{T.display(col_a.type)} with {T.display(col_b.type)}",
                on.pos.line,
                on.pos.column,
            )
        if right.kind == "TABLE" and not col_b.key:
            raise SqlError(
                f"a stream-table join must match the table's PRIMARY KEY "
                f"{right_label}.{right.key_column.name if right.key_column else '?'}, not "
                f"{right_label}.{col_b.name}",
                on.pos.line,
                on.pos.column,
            )
        left_rekey = None if col_a.key else _rekey_fn(left, col_a.name, f"{left_label}-rekey")
        right_rekey = None if col_b.key else _rekey_fn(right, col_b.name, f"{right_label}-rekey")
        # The joined row: v = [left value, right value]; a side that was re-keyed keeps
        # its own key in its value dict; otherwise its key is the join key k.
        left_null = join.kind == "FULL"
        right_null = join.kind in ("LEFT", "FULL")
        sides, prologue = [], []
        for i, (label, source, rekeyed, nullable) in enumerate(
            (
                (left_label, left, left_rekey is not None, left_null),
                (right_label, right, right_rekey is not None, right_null),
            )
        ):
            var = f"_s{i}"
            prologue.append(f"{var} = v[{i}] or _EMPTY" if nullable else f"{var} = v[{i}]")
            key_col = source.key_column
            if rekeyed and key_col is not None:
                key = f"{var}.get({key_col.name!r})"
            elif nullable:
                key = f"(k if v[{i}] is not None else None)"
            else:
                key = "k"
            sides.append(Side(label, source, var, key, nullable))
        scope = RowScope(sides, clause, tuple(prologue))
        plan = FromPlan(
            left,
            JoinPlan(
                join.kind,
                right,
                join.within_ms,
                left_rekey,
                right_rekey,
                col_a.name,
            ),
        )
        return scope, plan

    # ---- CREATE STREAM AS ----

    def _where(self, select: ast.Select, scope: RowScope, q: str) -> Fn | None:
        """The WHERE filter; on a single stream it also skips tombstones (null values)."""
        if select.where is None:
            return None
        gen = Codegen(scope, "WHERE")
        code = gen.compile_predicate(select.where)
        guard = "v is not None and " if select.join is None else ""
        return _function(f"{q}_where", "k, v", f"{guard}{_truth(code)}", gen, scope.prologue)

    def _stream_query(self, q: str, topic: str, select: ast.Select, left: Source) -> StreamQuery:
        scope, from_plan = self._rows(select, left, "WHERE")
        where = self._where(select, scope, q)
        select_scope = RowScope(scope.sides, "the SELECT list", scope.prologue)
        gen = Codegen(select_scope, "the SELECT list")
        fields = self._projection(select, select_scope, gen)
        key_text = "k"
        if select.partition_by is not None:
            pgen = Codegen(RowScope(scope.sides, "PARTITION BY", scope.prologue), "PARTITION BY")
            pcode = pgen.compile(select.partition_by)
            gen.namespace.update(pgen.namespace)
            key_text = "k" if pcode.text == "k" else f"_key({pcode.text})"
        body = f"({key_text}, {_dict(fields)})"
        if select.join is None and where is None:
            # A stream's tombstones (null values) carry no row: they are skipped.
            where = make_function(f"{q}_not_null", "k, v", "v is not None", {})
        project = _function(f"{q}_project", "k, v", body, gen, scope.prologue)
        return StreamQuery(q, topic, from_plan, where, project)

    def _projection(
        self, select: ast.Select, scope: RowScope, gen: Codegen
    ) -> list[tuple[str, str]]:
        """(output field name, code) per select item; ``*`` expands to every column."""
        fields: list[tuple[str, str]] = []
        names: dict[str, ast.SelectItem] = {}
        multi = len(scope.sides) > 1
        for n, item in enumerate(select.items):
            if item.expr is None:
                sides = scope.sides
                if item.star_qualifier is not None:
                    sides = [s for s in sides if s.label == item.star_qualifier]
                    if not sides:
                        raise SqlError(
                            f"unknown source {item.star_qualifier} in {item.star_qualifier}.*",
                            item.pos.line,
                            item.pos.column,
                        )
                for side in sides:
                    for column in side.source.columns:
                        name = f"{side.label}_{column.name}" if multi else column.name
                        self._add_field(names, name, item)
                        fields.append((name, scope.column_code(side, column).text))
                continue
            code = gen.compile(item.expr)
            name = item.alias or _default_name(item.expr, n)
            self._add_field(names, name, item)
            fields.append((name, code.text))
        return fields

    @staticmethod
    def _add_field(names: dict[str, ast.SelectItem], name: str, item: ast.SelectItem) -> None:
        if name in names:
            raise SqlError(
                f"the SELECT list has two columns named {name}; give one an alias with AS",
                item.pos.line,
                item.pos.column,
            )
        names[name] = item

    # ---- CREATE TABLE AS (projection of a table) ----

    def _table_query(self, q: str, topic: str, select: ast.Select, table: Source) -> TableQuery:
        scope = single(table, select.source.label, "WHERE")
        cond = "True"
        gen = Codegen(RowScope(scope.sides, "the SELECT list"), "the SELECT list")
        if select.where is not None:
            wgen = Codegen(scope, "WHERE")
            cond = _truth(wgen.compile_predicate(select.where))
            gen.namespace.update(wgen.namespace)
        fields = self._projection(select, RowScope(scope.sides, "the SELECT list"), gen)
        body = f"(k, {_dict(fields)} if v is not None and {cond} else None)"
        return TableQuery(q, topic, table, _function(f"{q}_project", "k, v", body, gen, ()))

    # ---- CREATE TABLE AS ... GROUP BY ----

    def _aggregate_query(
        self, q: str, topic: str, select: ast.Select, left: Source
    ) -> AggregateQuery:
        scope, from_plan = self._rows(select, left, "WHERE")
        where = self._where(select, scope, q)
        # GROUP BY on the rows as they come.
        ggen = Codegen(RowScope(scope.sides, "GROUP BY", scope.prologue), "GROUP BY")
        group_codes = [ggen.compile(e) for e in select.group_by]
        for code, expr in zip(group_codes, select.group_by, strict=True):
            if isinstance(expr, ast.Literal):
                raise SqlError(
                    f"GROUP BY {to_sql(expr)} groups by a constant; group by a column or an "
                    "expression of columns",
                    expr.pos.line,
                    expr.pos.column,
                )
            del code
        by_key = len(group_codes) == 1 and group_codes[0].text == "k"
        rekey = None
        post = scope
        if not by_key:
            if len(group_codes) == 1:
                key_text = f"_key({group_codes[0].text})"
            else:
                key_text = "_mkey(" + ", ".join(c.text for c in group_codes) + ")"
            # The row after re-keying carries the record key it had.
            if select.join is None:
                key_col = left.key_column
                value = f"{{**v, {key_col.name!r}: k}}" if key_col is not None else "v"
                post = single(left, select.source.label, "WHERE", carried_key=True)
            else:
                value = "[v[0], v[1], k]"
                post = RowScope(
                    [
                        Side(
                            s.label,
                            s.source,
                            s.var,
                            s.key.replace("k", "v[2]", 1)
                            if s.key.startswith(("k", "(k"))
                            else s.key,
                            s.nullable,
                        )
                        for s in scope.sides
                    ],
                    "WHERE",
                    scope.prologue,
                )
            rekey = _function(
                f"{q}_group_key", "k, v", f"({key_text}, {value})", ggen, scope.prologue
            )
        state = AggregateState(RowScope(post.sides, "an aggregate's argument", post.prologue))
        windowed = select.window is not None
        # The output side: group values come from the key when it is the one string,
        # else from a state slot (filled by the aggregator).
        row_gen = Codegen(RowScope(post.sides, "GROUP BY", post.prologue), "GROUP BY")
        outputs: list[tuple[str, Code]] = []
        group_key_text = "k.key" if windowed else "k"
        for i, expr in enumerate(select.group_by):
            post_code = row_gen.compile(expr)
            if len(select.group_by) == 1 and group_codes[i].type == T.STRING:
                out = Code(group_key_text, T.STRING, False)
            else:
                state.row_gen.namespace.update(row_gen.namespace)
                slot = state.group_slot(
                    Code(post_code.text, post_code.type, post_code.nullable, post_code.simple)
                )
                out = Code(f"a[{slot}]", post_code.type, post_code.nullable)
            canonical = Codegen(scope, "GROUP BY").compile(expr).text
            outputs.append((canonical, out))
        agg_scope = AggregateScope(
            state, outputs, select.group_by, windowed, "the SELECT list", scope
        )
        gen = Codegen(agg_scope, "the SELECT list")
        for item in select.items:
            if item.expr is None:
                raise SqlError(
                    "SELECT * is not allowed in an aggregate query; list the GROUP BY columns "
                    "and aggregates",
                    item.pos.line,
                    item.pos.column,
                )
        fields = self._projection(select, RowScope([], "the SELECT list"), gen)
        having = None
        if select.having is not None:
            hscope = AggregateScope(state, outputs, select.group_by, windowed, "HAVING", scope)
            hgen = Codegen(hscope, "HAVING")
            hcode = hgen.compile_predicate(select.having)
            having = _function(f"{q}_having", "k, a", _truth(hcode), hgen, ())
            gen.namespace.update(hgen.namespace)
        if not state.slots:
            state.add_slot(0, lambda s: f"{s} + 1", lambda a, b: f"{a} + {b}")
        final = select.emit == "FINAL"
        if final and not windowed:
            raise SqlError(
                "EMIT FINAL needs a windowed aggregation (WINDOW TUMBLING/HOPPING/SESSION): "
                "only a window has a final result; use EMIT CHANGES",
                select.pos.line,
                select.pos.column,
            )
        value = _dict(fields)
        if having is not None and not final:
            # EMIT CHANGES: an update failing HAVING deletes the key (a tombstone), as ksqlDB.
            value = f"{value} if {_truth(hcode)} else None"
            gen.namespace.update(hgen.namespace)
        project = _function(f"{q}_project", "k, a", f"({group_key_text}, {value})", gen, ())
        init_value = state.initializer_value()
        namespace = dict(state.row_gen.namespace)
        namespace["_EMPTY"] = {}
        aggregator = make_function(f"{q}_aggregate", "k, v, a", state.aggregator_body(), namespace)
        merger = None
        session = bool(select.window and select.window.kind == "SESSION")
        if session:
            merger = make_function(f"{q}_merge", "k, a, b", state.merger_body(), {})
        windows = _windows(select.window) if select.window else None
        return AggregateQuery(
            q,
            topic,
            from_plan,
            where,
            rekey,
            windows,
            lambda: list(init_value),
            aggregator,
            merger,
            final,
            having if final else None,
            project,
            session,
        )


_AGGS = ("COUNT", "SUM", "AVG", "MIN", "MAX", "LATEST_BY_OFFSET", "EARLIEST_BY_OFFSET")


def _windows(spec: ast.WindowSpec) -> TimeWindows | SessionWindows:
    grace = spec.grace_ms or 0
    if spec.kind == "SESSION":
        if spec.size_ms <= 0:
            raise SqlError("the session gap must be positive", spec.pos.line, spec.pos.column)
        return SessionWindows.with_gap(spec.size_ms, grace)
    if spec.size_ms <= 0:
        raise SqlError("the window SIZE must be positive", spec.pos.line, spec.pos.column)
    windows = TimeWindows.of(spec.size_ms, grace)
    if spec.kind == "HOPPING":
        assert spec.advance_ms is not None
        if not 0 < spec.advance_ms <= spec.size_ms:
            raise SqlError(
                f"ADVANCE BY ({spec.advance_ms} ms) must be positive and at most the SIZE "
                f"({spec.size_ms} ms)",
                spec.pos.line,
                spec.pos.column,
            )
        windows = windows.advance_by(spec.advance_ms)
    return windows


def _rekey_fn(source: Source, column: str, label: str) -> Fn:
    """(k, v) -> (the column's value as the key, v carrying its old key)."""
    key_col = source.key_column
    value = f"{{**v, {key_col.name!r}: k}}" if key_col is not None else "v"
    return make_function(label, "k, v", f"(_key(v.get({column!r})), {value})", {})


def _truth(code: Code) -> str:
    return code.text


def _dict(fields: list[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{name!r}: {text}" for name, text in fields) + "}"


def _default_name(expr: ast.Expr, n: int) -> str:
    if isinstance(expr, ast.ColumnRef):
        return expr.name
    if isinstance(expr, ast.WindowBound):
        return expr.which
    return f"KSQL_COL_{n}"


def _function(label: str, params: str, body: str, gen: Codegen, prologue: tuple[str, ...]) -> Fn:
    namespace = dict(gen.namespace)
    namespace["_EMPTY"] = {}
    return make_function(label, params, body, namespace, prologue)
