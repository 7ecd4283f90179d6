"""Expressions: type-checked and compiled to Python source once, at compile time.

``Codegen(scope).compile(expr)`` returns the expression's static type and a Python
expression (text) over the variables a ``Scope`` provides (``k``, ``v``, an aggregate
state ``a``...); ``make_function`` turns that text into a real function with
``compile()``. Per record nothing walks a tree: a WHERE clause runs as one Python
function with SQL's NULL rules inlined (``(None if (_t1 := v.get('x')) is None else
_t1 + 1)``), temporaries bound with ``:=`` so nothing is evaluated twice.
"""

from __future__ import annotations

import itertools
import keyword
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from . import ast
from . import types as T
from .errors import SqlError
from .functions import RUNTIME, like_regex

AGGREGATES = (
    "COUNT",
    "SUM",
    "AVG",
    "MIN",
    "MAX",
    "LATEST_BY_OFFSET",
    "EARLIEST_BY_OFFSET",
)
SCALARS = ("ABS", "ROUND", "FLOOR", "CEIL", "UCASE", "LCASE", "CONCAT", "LEN", "COALESCE")


@dataclass(frozen=True)
class Code:
    """A compiled expression: Python source text, SQL type, whether it may be NULL, and
    whether the text is a plain name or literal (cheap and safe to repeat)."""

    text: str
    type: str
    nullable: bool = True
    simple: bool = False


NULL_CODE = Code("None", T.NULL, True, True)


class Scope(Protocol):
    """What names mean where an expression is compiled."""

    def column(self, ref: ast.ColumnRef) -> Code: ...

    def aggregate(self, call: ast.Call, gen: Codegen) -> Code: ...

    def window_bound(self, node: ast.WindowBound) -> Code: ...

    def group_value(self, expr: ast.Expr, gen: Codegen) -> Code | None: ...


def error(message: str, node: Any) -> SqlError:
    pos = node.pos
    return SqlError(message, pos.line, pos.column)


class Codegen:
    """Compiles expressions of one function; ``namespace`` collects the constants the
    generated text refers to (regexes, sets)."""

    def __init__(self, scope: Scope, clause: str) -> None:
        self.scope = scope
        self.clause = clause  # "WHERE", "the SELECT list"... for messages
        self.namespace: dict[str, Any] = {}
        self._temps = itertools.count(1)
        self._consts = itertools.count(1)

    # ---- helpers ----

    def temp(self) -> str:
        return f"_t{next(self._temps)}"

    def const(self, value: Any) -> str:
        name = f"_c{next(self._consts)}"
        self.namespace[name] = value
        return name

    def bind(self, code: Code) -> tuple[str, str]:
        """(text for the first use, text for later uses) of a value used more than once."""
        if code.simple:
            return code.text, code.text
        name = self.temp()
        return f"({name} := {code.text})", name

    def null_guard(self, codes: list[Code], build: Callable[[list[str]], str]) -> str:
        """``build(operand texts)``, or None when any nullable operand is NULL."""
        checks, uses = [], []
        for code in codes:
            if code.nullable:
                first, later = self.bind(code)
                checks.append(f"{first} is None")
                uses.append(later)
            else:
                uses.append(f"({code.text})" if not code.simple else code.text)
        if not checks:
            return f"({build(uses)})"
        return f"(None if {' or '.join(checks)} else {build(uses)})"

    # ---- compiling ----

    def compile(self, expr: ast.Expr) -> Code:
        grouped = self.scope.group_value(expr, self)
        if grouped is not None:
            return grouped
        method = getattr(self, f"_{type(expr).__name__}")
        return method(expr)

    def compile_predicate(self, expr: ast.Expr) -> Code:
        code = self.compile(expr)
        if code.type not in (T.BOOLEAN, T.NULL):
            raise error(
                f"{self.clause} must be a condition (BOOLEAN), but {to_sql(expr)} is "
                f"{T.display(code.type)}; compare it, for example {to_sql(expr)} > 0",
                expr,
            )
        return code

    def _Literal(self, node: ast.Literal) -> Code:
        if node.value is None:
            return NULL_CODE
        return Code(repr(node.value), node.type_name, False, True)

    def _ColumnRef(self, node: ast.ColumnRef) -> Code:
        return self.scope.column(node)

    def _WindowBound(self, node: ast.WindowBound) -> Code:
        return self.scope.window_bound(node)

    def _Unary(self, node: ast.Unary) -> Code:
        operand = self.compile(node.operand)
        if node.op == "-":
            if not T.is_numeric(operand.type):
                raise error(
                    f"type mismatch: -{to_sql(node.operand)} negates a "
                    f"{T.display(operand.type)}; unary minus takes a number",
                    node,
                )
            return Code(
                self.null_guard([operand], lambda x: f"-{x[0]}"), operand.type, operand.nullable
            )
        self._need_boolean(operand, node.operand, "NOT")
        return Code(
            self.null_guard([operand], lambda x: f"not {x[0]}"), T.BOOLEAN, operand.nullable
        )

    def _need_boolean(self, code: Code, node: ast.Expr, op: str) -> None:
        if code.type not in (T.BOOLEAN, T.NULL):
            raise error(
                f"type mismatch: {op} takes BOOLEAN operands, but {to_sql(node)} is "
                f"{T.display(code.type)}",
                node,
            )

    def _Binary(self, node: ast.Binary) -> Code:
        op = node.op
        left, right = self.compile(node.left), self.compile(node.right)
        nullable = left.nullable or right.nullable
        if op in ("AND", "OR"):
            self._need_boolean(left, node.left, op)
            self._need_boolean(right, node.right, op)
            if not nullable:
                return Code(f"({left.text} {op.lower()} {right.text})", T.BOOLEAN, False)
            a_first, a = self.bind(left)
            b_first, b = self.bind(right)
            short, other = ("False", "True") if op == "AND" else ("True", "False")
            text = (
                f"({short} if {a_first} is {short} or {b_first} is {short} else "
                f"(None if {a} is None or {b} is None else {other}))"
            )
            return Code(text, T.BOOLEAN, True)
        if op in ("=", "!=", "<", "<=", ">", ">="):
            if T.common(left.type, right.type) is None:
                raise error(
                    f"type mismatch: {to_sql(node)} compares {T.display(left.type)} with "
                    f"{T.display(right.type)}; CAST one side to the other's type",
                    node,
                )
            py = {"=": "==", "!=": "!="}.get(op, op)
            return Code(
                self.null_guard([left, right], lambda x: f"{x[0]} {py} {x[1]}"),
                T.BOOLEAN,
                nullable,
            )
        # arithmetic
        if op == "+" and T.STRING in (left.type, right.type):
            if left.type not in (T.STRING, T.NULL) or right.type not in (T.STRING, T.NULL):
                raise self._arith_mismatch(node, left, right)
            return Code(
                self.null_guard([left, right], lambda x: f"{x[0]} + {x[1]}"), T.STRING, nullable
            )
        if not (T.is_numeric(left.type) and T.is_numeric(right.type)):
            raise self._arith_mismatch(node, left, right)
        result = T.widest(left.type, right.type)
        if op in ("/", "%"):
            integral = result in (T.INT, T.BIGINT)
            fn = {"/": ("_idiv", "_fdiv"), "%": ("_imod", "_fmod")}[op][0 if integral else 1]
            return Code(
                self.null_guard([left, right], lambda x: f"{fn}({x[0]}, {x[1]})"), result, True
            )
        return Code(
            self.null_guard([left, right], lambda x: f"{x[0]} {op} {x[1]}"), result, nullable
        )

    def _arith_mismatch(self, node: ast.Binary, left: Code, right: Code) -> SqlError:
        hint = "two numbers or two strings" if node.op == "+" else "two numbers"
        return error(
            f"type mismatch: {to_sql(node)} applies {node.op} to {T.display(left.type)} and "
            f"{T.display(right.type)}; {node.op} takes {hint}",
            node,
        )

    def _IsNull(self, node: ast.IsNull) -> Code:
        operand = self.compile(node.operand)
        test = "is not None" if node.negated else "is None"
        return Code(f"({operand.text} {test})", T.BOOLEAN, False)

    def _Between(self, node: ast.Between) -> Code:
        codes = [self.compile(e) for e in (node.operand, node.low, node.high)]
        kind = T.common(T.common(codes[0].type, codes[1].type) or "?", codes[2].type)
        if kind is None or kind == "?":
            raise error(
                f"type mismatch: {to_sql(node)} mixes "
                + ", ".join(T.display(c.type) for c in codes)
                + "; the value and both bounds must be of one type",
                node,
            )
        neg = "not " if node.negated else ""
        text = self.null_guard(codes, lambda x: f"{neg}({x[1]} <= {x[0]} <= {x[2]})")
        return Code(text, T.BOOLEAN, any(c.nullable for c in codes))

    def _InList(self, node: ast.InList) -> Code:
        operand = self.compile(node.operand)
        items = [self.compile(e) for e in node.items]
        for item, item_node in zip(items, node.items, strict=True):
            if T.common(operand.type, item.type) is None:
                raise error(
                    f"type mismatch: {to_sql(node.operand)} is {T.display(operand.type)} but "
                    f"the IN list holds {to_sql(item_node)} of type {T.display(item.type)}",
                    item_node,
                )
        literal = all(isinstance(e, ast.Literal) and e.value is not None for e in node.items)
        if literal:
            values = self.const(frozenset(e.value for e in node.items))  # type: ignore[attr-defined]
            op = "not in" if node.negated else "in"
            return Code(
                self.null_guard([operand], lambda x: f"{x[0]} {op} {values}"),
                T.BOOLEAN,
                operand.nullable,
            )
        tuple_text = "(" + "".join(f"{i.text}, " for i in items) + ")"
        text = f"_in({operand.text}, {tuple_text})"
        if node.negated:
            first, later = self.bind(Code(text, T.BOOLEAN))
            text = f"(None if {first} is None else not {later})"
        return Code(text, T.BOOLEAN, True)

    def _Like(self, node: ast.Like) -> Code:
        operand, pattern = self.compile(node.operand), self.compile(node.pattern)
        for code, part in ((operand, node.operand), (pattern, node.pattern)):
            if code.type not in (T.STRING, T.NULL):
                raise error(
                    f"type mismatch: LIKE takes VARCHAR operands, but {to_sql(part)} is "
                    f"{T.display(code.type)}",
                    part,
                )
        neg = "not " if node.negated else ""
        if isinstance(node.pattern, ast.Literal) and isinstance(node.pattern.value, str):
            matcher = self.const(like_regex(node.pattern.value))
            test = "is None" if node.negated else "is not None"
            text = self.null_guard([operand], lambda x: f"{matcher}({x[0]}) {test}")
            return Code(text, T.BOOLEAN, operand.nullable)
        text = f"_like({operand.text}, {pattern.text})"
        if node.negated:
            first, later = self.bind(Code(text, T.BOOLEAN))
            text = f"(None if {first} is None else {neg}{later})"
        return Code(text, T.BOOLEAN, True)

    def _Case(self, node: ast.Case) -> Code:
        results: list[tuple[str, Code, ast.Expr]] = []
        subject_first = subject = None
        if node.operand is not None:
            subject_code = self.compile(node.operand)
            subject_first, subject = self.bind(
                Code(subject_code.text, subject_code.type, True, subject_code.simple)
            )
        for i, (cond, value) in enumerate(node.whens):
            cond_code = self.compile(cond)
            if node.operand is None:
                self._need_boolean(cond_code, cond, "WHEN")
                test = cond_code.text
            else:
                if T.common(subject_code.type, cond_code.type) is None:
                    raise error(
                        f"type mismatch: CASE {to_sql(node.operand)} is "
                        f"{T.display(subject_code.type)} but WHEN {to_sql(cond)} is "
                        f"{T.display(cond_code.type)}",
                        cond,
                    )
                ref = subject_first if i == 0 else subject
                test = f"({ref} is not None and {subject} == {cond_code.text})"
            results.append((test, self.compile(value), value))
        otherwise = self.compile(node.otherwise) if node.otherwise is not None else NULL_CODE
        kind = otherwise.type
        for _, code, value in results:
            joined = T.common(kind, code.type)
            if joined is None:
                raise error(
                    f"type mismatch: CASE results mix {T.display(kind)} and "
                    f"{T.display(code.type)} (at {to_sql(value)}); make them one type",
                    value,
                )
            kind = joined
        text = otherwise.text
        for test, code, _ in reversed(results):
            text = f"({code.text} if {test} else {text})"
        if node.operand is not None and not results:
            text = subject_first or text
        nullable = otherwise.nullable or any(c.nullable for _, c, _ in results)
        return Code(text, kind, nullable)

    def _Cast(self, node: ast.Cast) -> Code:
        operand = self.compile(node.operand)
        target = node.type_name
        if operand.type == target:
            return Code(operand.text, target, operand.nullable, operand.simple)
        fn = {T.STRING: "_str", T.INT: "_int", T.BIGINT: "_int", T.DOUBLE: "_dbl"}.get(
            target, "_bool"
        )
        if target == T.DOUBLE and operand.type in (T.INT, T.BIGINT):
            return Code(
                self.null_guard([operand], lambda x: f"float({x[0]})"), target, operand.nullable
            )
        return Code(f"{fn}({operand.text})", target, True)

    def _Call(self, node: ast.Call) -> Code:
        name = node.name
        if name in AGGREGATES:
            return self.scope.aggregate(node, self)
        if name not in SCALARS:
            known = ", ".join(sorted(SCALARS + AGGREGATES))
            raise error(f"unknown function {name}; the functions are: {known}", node)
        if node.star:
            raise error(f"{name}(*) is not valid; only COUNT(*) takes *", node)
        args = [self.compile(a) for a in node.args]
        return getattr(self, f"_fn_{name}")(node, args)

    def _arity(self, node: ast.Call, args: list[Code], low: int, high: int | None = None) -> None:
        high = low if high is None else high
        if not low <= len(args) <= high:
            want = str(low) if low == high else f"{low} to {high}"
            raise error(f"{node.name} takes {want} argument(s), got {len(args)}", node)

    def _arg_type(self, node: ast.Call, i: int, code: Code, allowed: tuple[str, ...]) -> None:
        if code.type not in (*allowed, T.NULL):
            raise error(
                f"type mismatch: {node.name} takes "
                + " or ".join(T.display(a) for a in allowed)
                + f", but {to_sql(node.args[i])} is {T.display(code.type)}",
                node.args[i],
            )

    def _apply(self, code: Code, template: str, kind: str) -> Code:
        return Code(self.null_guard([code], lambda x: template.format(x[0])), kind, code.nullable)

    def _fn_ABS(self, node: ast.Call, args: list[Code]) -> Code:
        self._arity(node, args, 1)
        self._arg_type(node, 0, args[0], T.NUMERIC)
        return self._apply(args[0], "abs({})", args[0].type)

    def _fn_ROUND(self, node: ast.Call, args: list[Code]) -> Code:
        self._arity(node, args, 1, 2)
        self._arg_type(node, 0, args[0], T.NUMERIC)
        if len(args) == 1:
            kind = T.BIGINT if args[0].type == T.DOUBLE else args[0].type
            return self._apply(args[0], "round({})", kind)
        self._arg_type(node, 1, args[1], (T.INT, T.BIGINT))
        return Code(
            self.null_guard(args, lambda x: f"round({x[0]}, {x[1]})"),
            args[0].type,
            args[0].nullable or args[1].nullable,
        )

    def _fn_FLOOR(self, node: ast.Call, args: list[Code]) -> Code:
        self._arity(node, args, 1)
        self._arg_type(node, 0, args[0], T.NUMERIC)
        if args[0].type == T.DOUBLE:
            return self._apply(args[0], "_floor({})", T.DOUBLE)
        return args[0]

    def _fn_CEIL(self, node: ast.Call, args: list[Code]) -> Code:
        self._arity(node, args, 1)
        self._arg_type(node, 0, args[0], T.NUMERIC)
        if args[0].type == T.DOUBLE:
            return self._apply(args[0], "_ceil({})", T.DOUBLE)
        return args[0]

    def _fn_UCASE(self, node: ast.Call, args: list[Code]) -> Code:
        self._arity(node, args, 1)
        self._arg_type(node, 0, args[0], (T.STRING,))
        return self._apply(args[0], "{}.upper()", T.STRING)

    def _fn_LCASE(self, node: ast.Call, args: list[Code]) -> Code:
        self._arity(node, args, 1)
        self._arg_type(node, 0, args[0], (T.STRING,))
        return self._apply(args[0], "{}.lower()", T.STRING)

    def _fn_LEN(self, node: ast.Call, args: list[Code]) -> Code:
        self._arity(node, args, 1)
        self._arg_type(node, 0, args[0], (T.STRING,))
        return self._apply(args[0], "len({})", T.INT)

    def _fn_CONCAT(self, node: ast.Call, args: list[Code]) -> Code:
        if not args:
            raise error("CONCAT takes at least one argument", node)
        return Code(f"_concat({', '.join(a.text for a in args)})", T.STRING, True)

    def _fn_COALESCE(self, node: ast.Call, args: list[Code]) -> Code:
        if not args:
            raise error("COALESCE takes at least one argument", node)
        kind = T.NULL
        for i, arg in enumerate(args):
            joined = T.common(kind, arg.type)
            if joined is None:
                raise error(
                    f"type mismatch: COALESCE mixes {T.display(kind)} and "
                    f"{T.display(arg.type)} (at {to_sql(node.args[i])})",
                    node.args[i],
                )
            kind = joined
        text = args[-1].text
        for arg in reversed(args[:-1]):
            if not arg.nullable:
                text = arg.text
                continue
            first, later = self.bind(arg)
            text = f"({later} if {first} is not None else {text})"
        return Code(text, kind, all(a.nullable for a in args))


# ---- turning code into functions ----

_names = itertools.count()


def make_function(
    label: str,
    params: str,
    body: str,
    namespace: dict[str, Any],
    prologue: tuple[str, ...] = (),
) -> Callable[..., Any]:
    """``def <label>(params): prologue; return body`` compiled with the runtime helpers."""
    name = "".join(c if c.isalnum() else "_" for c in label).strip("_") or "sql"
    if not name[0].isalpha() or keyword.iskeyword(name):
        name = "sql_" + name
    name = f"{name}_{next(_names)}"
    lines = [f"def {name}({params}):", *(f"    {line}" for line in prologue)]
    if "\n" in body or body.startswith("return "):
        lines.extend(f"    {line}" for line in body.splitlines())
    else:
        lines.append(f"    return {body}")
    source = "\n".join(lines) + "\n"
    scope: dict[str, Any] = {**RUNTIME, **namespace}
    exec(compile(source, f"<sql {label}>", "exec"), scope)
    fn = scope[name]
    fn.sql_source = source
    return fn  # type: ignore[no-any-return]


# ---- printing expressions back as SQL (for messages) ----


def to_sql(expr: ast.Expr | None) -> str:
    if expr is None:
        return ""
    if isinstance(expr, ast.Literal):
        if expr.value is None:
            return "NULL"
        if isinstance(expr.value, bool):
            return "TRUE" if expr.value else "FALSE"
        if isinstance(expr.value, str):
            return "'" + expr.value.replace("'", "''") + "'"
        return repr(expr.value)
    if isinstance(expr, ast.ColumnRef):
        return expr.text
    if isinstance(expr, ast.WindowBound):
        return expr.which
    if isinstance(expr, ast.Unary):
        return f"-{_paren(expr.operand)}" if expr.op == "-" else f"NOT {_paren(expr.operand)}"
    if isinstance(expr, ast.Binary):
        op = "<>" if expr.op == "!=" else expr.op
        return f"{_paren(expr.left)} {op} {_paren(expr.right)}"
    if isinstance(expr, ast.IsNull):
        return f"{_paren(expr.operand)} IS {'NOT ' if expr.negated else ''}NULL"
    if isinstance(expr, ast.Between):
        neg = "NOT " if expr.negated else ""
        return f"{_paren(expr.operand)} {neg}BETWEEN {_paren(expr.low)} AND {_paren(expr.high)}"
    if isinstance(expr, ast.InList):
        neg = "NOT " if expr.negated else ""
        return f"{_paren(expr.operand)} {neg}IN ({', '.join(to_sql(i) for i in expr.items)})"
    if isinstance(expr, ast.Like):
        neg = "NOT " if expr.negated else ""
        return f"{_paren(expr.operand)} {neg}LIKE {_paren(expr.pattern)}"
    if isinstance(expr, ast.Case):
        parts = ["CASE"]
        if expr.operand is not None:
            parts.append(to_sql(expr.operand))
        for cond, value in expr.whens:
            parts.append(f"WHEN {to_sql(cond)} THEN {to_sql(value)}")
        if expr.otherwise is not None:
            parts.append(f"ELSE {to_sql(expr.otherwise)}")
        parts.append("END")
        return " ".join(parts)
    if isinstance(expr, ast.Cast):
        return f"CAST({to_sql(expr.operand)} AS {T.display(expr.type_name)})"
    if isinstance(expr, ast.Call):
        if expr.star:
            return f"{expr.name}(*)"
        return f"{expr.name}({', '.join(to_sql(a) for a in expr.args)})"
    return "?"  # pragma: no cover


def _paren(expr: ast.Expr) -> str:
    text = to_sql(expr)
    if isinstance(expr, ast.Binary | ast.Between | ast.InList | ast.Like | ast.IsNull):
        return f"({text})"
    return text


def walk(expr: ast.Expr | None) -> list[ast.Expr]:
    """The expression and every sub-expression in it, outermost first."""
    if expr is None:
        return []
    out = [expr]
    for child in children(expr):
        out.extend(walk(child))
    return out


def children(expr: ast.Expr) -> list[ast.Expr]:
    if isinstance(expr, ast.Unary):
        return [expr.operand]
    if isinstance(expr, ast.Binary):
        return [expr.left, expr.right]
    if isinstance(expr, ast.IsNull | ast.Cast):
        return [expr.operand]
    if isinstance(expr, ast.Between):
        return [expr.operand, expr.low, expr.high]
    if isinstance(expr, ast.InList):
        return [expr.operand, *expr.items]
    if isinstance(expr, ast.Like):
        return [expr.operand, expr.pattern]
    if isinstance(expr, ast.Case):
        out = [] if expr.operand is None else [expr.operand]
        for cond, value in expr.whens:
            out += [cond, value]
        if expr.otherwise is not None:
            out.append(expr.otherwise)
        return out
    if isinstance(expr, ast.Call):
        return list(expr.args)
    return []
