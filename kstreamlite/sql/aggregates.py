"""Aggregation: every aggregate of a query folded into ONE state list, updated by one
generated function per record (and merged by another for session windows).

The state is a JSON list with a slot per distinct aggregate call (AVG takes two: sum and
count) and per GROUP BY value that the output needs but the record key cannot give back.
The output side reads the slots: ``AVG(x)`` becomes ``(a[0] / a[1] if a[1] else None)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import ast
from . import types as T
from .errors import SqlError
from .expressions import Code, Codegen, error, to_sql, walk
from .scopes import RowScope


@dataclass
class Slot:
    init: Any
    update: str  # Python expression of the new slot value, over a[i] and the argument temp
    merge: str  # over a[i] and b[i]


@dataclass
class AggregateState:
    """The slots of one query's state; ``row_gen`` compiles the arguments (row side)."""

    row_scope: RowScope
    row_gen: Codegen = field(init=False)
    slots: list[Slot] = field(default_factory=list)
    arg_lines: list[str] = field(default_factory=list)  # "_x1 = <arg code>"
    calls: dict[tuple[str, str], Code] = field(default_factory=dict)
    _args: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.row_gen = Codegen(self.row_scope, "an aggregate's argument")

    def _arg(self, code: Code) -> str:
        """A local holding the argument's value per record (computed once per text)."""
        if code.simple:
            return code.text
        name = self._args.get(code.text)
        if name is None:
            name = f"_x{len(self._args) + 1}"
            self._args[code.text] = name
            self.arg_lines.append(f"{name} = {code.text}")
        return name

    def add_slot(
        self, init: Any, update: Callable[[str], str], merge: Callable[[str, str], str]
    ) -> int:
        """``update(slot)``: the slot's new value (``slot`` is ``a[i]``); ``merge(a, b)``:
        the value of two sessions' slots merged."""
        i = len(self.slots)
        self.slots.append(Slot(init, update(f"a[{i}]"), merge(f"a[{i}]", f"b[{i}]")))
        return i

    def group_slot(self, code: Code) -> int:
        x = self._arg(code)
        return self.add_slot(None, lambda s: x, _latest)

    def call(self, call: ast.Call) -> Code:
        """The output-side code of an aggregate call, allocating its slots once."""
        for inner in (e for arg in call.args for e in walk(arg)):
            if isinstance(inner, ast.Call) and inner.name in _KINDS:
                raise error(
                    f"aggregate {inner.name} inside aggregate {call.name} is not allowed",
                    inner,
                )
        name = call.name
        if call.star:
            if name != "COUNT":
                raise error(f"{name}(*) is not valid; only COUNT(*) takes *", call)
            key = (name, "*")
            if key not in self.calls:
                i = self.add_slot(0, lambda s: f"{s} + 1", _add)
                self.calls[key] = Code(f"a[{i}]", T.BIGINT, False)
            return self.calls[key]
        if len(call.args) != 1:
            raise error(f"{name} takes one argument, got {len(call.args)}", call)
        arg = self.row_gen.compile(call.args[0])
        key = (name, arg.text)
        if key in self.calls:
            return self.calls[key]
        x = self._arg(arg)
        kind = arg.type

        def counted(s: str) -> str:
            return f"({s} + 1 if {x} is not None else {s})" if arg.nullable else f"{s} + 1"

        if name == "COUNT":
            code = Code(f"a[{self.add_slot(0, counted, _add)}]", T.BIGINT, False)
        elif name in ("SUM", "AVG"):
            if kind not in T.NUMERIC:
                raise error(
                    f"type mismatch: {name} takes a number, but {to_sql(call.args[0])} is "
                    f"{T.display(kind)}",
                    call.args[0],
                )

            def summed(s: str) -> str:
                return f"({s} + {x} if {x} is not None else {s})" if arg.nullable else f"{s} + {x}"

            total = self.add_slot(0.0 if kind == T.DOUBLE else 0, summed, _add)
            if name == "SUM":
                code = Code(f"a[{total}]", kind, False)
            else:
                count = self.add_slot(0, counted, _add)
                code = Code(f"(a[{total}] / a[{count}] if a[{count}] else None)", T.DOUBLE, True)
        elif name in ("MIN", "MAX"):
            if kind not in (*T.NUMERIC, T.STRING):
                raise error(
                    f"type mismatch: {name} takes a number or VARCHAR, but "
                    f"{to_sql(call.args[0])} is {T.display(kind)}",
                    call.args[0],
                )
            op = "<" if name == "MIN" else ">"
            i = self.add_slot(
                None,
                lambda s: (
                    f"({s} if {x} is None or ({s} is not None and not {x} {op} {s}) else {x})"
                ),
                lambda a, b: (
                    f"({a} if {b} is None or ({a} is not None and not {b} {op} {a}) else {b})"
                ),
            )
            code = Code(f"a[{i}]", kind, True)
        elif name == "LATEST_BY_OFFSET":
            i = self.add_slot(None, lambda s: f"({x} if {x} is not None else {s})", _latest)
            code = Code(f"a[{i}]", kind, True)
        else:  # EARLIEST_BY_OFFSET
            i = self.add_slot(None, lambda s: f"({s} if {s} is not None else {x})", _earliest)
            code = Code(f"a[{i}]", kind, True)
        self.calls[key] = code
        return code

    # ---- the generated functions ----

    def initializer_value(self) -> list[Any]:
        return [s.init for s in self.slots]

    def aggregator_body(self) -> str:
        lines = [*self.row_scope.prologue, *self.arg_lines]
        lines.append("return [" + ", ".join(s.update for s in self.slots) + "]")
        return "\n".join(lines)

    def merger_body(self) -> str:
        return "return [" + ", ".join(s.merge for s in self.slots) + "]"


def _add(a: str, b: str) -> str:
    return f"{a} + {b}"


def _latest(a: str, b: str) -> str:
    return f"({b} if {b} is not None else {a})"


def _earliest(a: str, b: str) -> str:
    return f"({a} if {a} is not None else {b})"


_KINDS = ("COUNT", "SUM", "AVG", "MIN", "MAX", "LATEST_BY_OFFSET", "EARLIEST_BY_OFFSET")


class AggregateScope:
    """The output side of a GROUP BY query: SELECT items and HAVING over ``(k, a)``, the
    key (``Windowed`` when windowed) and the state list."""

    def __init__(
        self,
        state: AggregateState,
        group_codes: list[tuple[str, Code]],
        group_exprs: tuple[ast.Expr, ...],
        windowed: bool,
        clause: str,
        match_scope: RowScope,
    ) -> None:
        self.state = state
        self.match_scope = match_scope  # where GROUP BY expressions were compiled
        self.group_codes = group_codes  # (row-side code text, output-side code)
        self.group_exprs = group_exprs
        self.windowed = windowed
        self.clause = clause

    def group_value(self, expr: ast.Expr, gen: Codegen) -> Code | None:
        if any(
            isinstance(e, ast.WindowBound) or (isinstance(e, ast.Call) and e.name in _KINDS)
            for e in walk(expr)
        ):
            return None
        try:
            text = Codegen(self.match_scope, self.clause).compile(expr).text
        except SqlError:
            return None
        for row_text, code in self.group_codes:
            if row_text == text:
                return code
        return None

    def column(self, ref: ast.ColumnRef) -> Code:
        self.match_scope.resolve(ref)  # an unknown column is reported as such
        grouped = ", ".join(to_sql(e) for e in self.group_exprs)
        raise error(
            f"column {ref.text} in {self.clause} is neither in GROUP BY ({grouped}) nor inside "
            f"an aggregate function; add it to GROUP BY or aggregate it, for example "
            f"LATEST_BY_OFFSET({ref.text})",
            ref,
        )

    def aggregate(self, call: ast.Call, gen: Codegen) -> Code:
        code = self.state.call(call)
        gen.namespace.update(self.state.row_gen.namespace)
        return code

    def window_bound(self, node: ast.WindowBound) -> Code:
        if not self.windowed:
            raise error(
                f"{node.which} needs a windowed query: add WINDOW TUMBLING (...), "
                "HOPPING (...) or SESSION (...) after FROM",
                node,
            )
        attr = "start" if node.which == "WINDOWSTART" else "end"
        return Code(f"k.window.{attr}", T.BIGINT, False)
