"""The parser: tokens to statements, by recursive descent; expressions by precedence
climbing (Pratt). Keywords are case-insensitive and only reserved where an expression
could otherwise read them as a column (see ``RESERVED``)."""

from __future__ import annotations

from typing import Any

from . import ast
from .errors import Position, SqlError
from .lexer import EOF, IDENT, NUMBER, OP, QIDENT, STRING, Token, tokenize

# Words an unquoted column name cannot be (quote it with backticks to use one).
RESERVED = frozenset(
    [
        "SELECT",
        "FROM",
        "WHERE",
        "GROUP",
        "BY",
        "HAVING",
        "WINDOW",
        "PARTITION",
        "EMIT",
        "AS",
        "ON",
        "JOIN",
        "LEFT",
        "FULL",
        "OUTER",
        "INNER",
        "WITHIN",
        "AND",
        "OR",
        "NOT",
        "IS",
        "NULL",
        "TRUE",
        "FALSE",
        "CASE",
        "WHEN",
        "THEN",
        "ELSE",
        "END",
        "BETWEEN",
        "IN",
        "LIKE",
        "CAST",
        "CREATE",
        "WITH",
    ]
)

TYPE_NAMES = {
    "VARCHAR": "STRING",
    "STRING": "STRING",
    "INT": "INT",
    "INTEGER": "INT",
    "BIGINT": "BIGINT",
    "DOUBLE": "DOUBLE",
    "BOOLEAN": "BOOLEAN",
}

TIME_UNITS = {
    "MILLISECOND": 1,
    "MILLISECONDS": 1,
    "SECOND": 1_000,
    "SECONDS": 1_000,
    "MINUTE": 60_000,
    "MINUTES": 60_000,
    "HOUR": 3_600_000,
    "HOURS": 3_600_000,
    "DAY": 86_400_000,
    "DAYS": 86_400_000,
}

_COMPARISONS = {"=": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_PREC_OR, _PREC_AND, _PREC_NOT, _PREC_CMP, _PREC_ADD, _PREC_MUL = 1, 2, 3, 4, 5, 6


def parse(text: str) -> list[ast.Statement]:
    """Every statement of the script, or a SqlError at the first syntax error."""
    return Parser(tokenize(text)).script()


def parse_expression(text: str) -> ast.Expr:
    parser = Parser(tokenize(text))
    expr = parser.expr()
    parser.expect_end()
    return expr


def parse_duration(text: str, pos: Position) -> int:
    """'2 SECONDS' (a WITH property value) -> milliseconds."""
    parser = Parser(tokenize(text))
    try:
        ms = parser.duration()
        parser.expect_end()
    except SqlError:
        raise SqlError(
            f"'{text}' is not a duration: write a number and a unit, such as '2 SECONDS' "
            f"(units: {', '.join(sorted(u for u in TIME_UNITS if u.endswith('S')))})",
            pos.line,
            pos.column,
        ) from None
    return ms


class Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0

    # ---- token helpers ----

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != EOF:
            self.i += 1
        return tok

    def error(self, message: str, tok: Token | None = None) -> SqlError:
        tok = tok or self.tok
        return SqlError(message, tok.pos.line, tok.pos.column)

    def at(self, *words: str) -> bool:
        return self.tok.kind == IDENT and self.tok.word in words

    def at_op(self, *ops: str) -> bool:
        return self.tok.kind == OP and self.tok.text in ops

    def accept(self, *words: str) -> Token | None:
        if self.at(*words):
            return self.advance()
        return None

    def accept_op(self, op: str) -> Token | None:
        if self.at_op(op):
            return self.advance()
        return None

    def expect(self, *words: str) -> Token:
        if self.at(*words):
            return self.advance()
        wanted = " or ".join(words)
        raise self.error(f"expected {wanted}, found {self.tok.describe()}")

    def expect_op(self, op: str, hint: str = "") -> Token:
        if self.at_op(op):
            return self.advance()
        raise self.error(f"expected '{op}'{hint}, found {self.tok.describe()}")

    def expect_end(self) -> None:
        if self.tok.kind != EOF:
            raise self.error(f"unexpected {self.tok.describe()}")

    def name(self, what: str) -> Token:
        """An identifier (a keyword is accepted here only when quoted)."""
        tok = self.tok
        if tok.kind == QIDENT or (tok.kind == IDENT and tok.word not in RESERVED):
            return self.advance()
        raise self.error(f"expected {what}, found {tok.describe()}")

    def any_name(self, what: str) -> Token:
        """An identifier where no keyword can follow (an alias after AS): any word goes."""
        if self.tok.kind in (IDENT, QIDENT):
            return self.advance()
        raise self.error(f"expected {what}, found {self.tok.describe()}")

    @staticmethod
    def source_name(tok: Token) -> str:
        """Stream and table names: unquoted ones are upper-cased (as in ksqlDB)."""
        return tok.text if tok.kind == QIDENT else tok.text.upper()

    # ---- statements ----

    def script(self) -> list[ast.Statement]:
        statements: list[ast.Statement] = []
        while True:
            while self.accept_op(";"):
                pass
            if self.tok.kind == EOF:
                return statements
            statements.append(self.statement())
            if self.tok.kind != EOF and not self.at_op(";"):
                raise self.error(f"expected ';' after the statement, found {self.tok.describe()}")

    def statement(self) -> ast.Statement:
        start = self.tok
        if not self.at("CREATE"):
            raise self.error(f"expected CREATE STREAM or CREATE TABLE, found {self.tok.describe()}")
        self.advance()
        kind = self.expect("STREAM", "TABLE").word
        name_tok = self.name(f"the {kind.lower()}'s name")
        name = self.source_name(name_tok)
        if self.at_op("("):
            columns = self.column_defs()
            props = self.with_props() if self.at("WITH") else ()
            if self.at("AS"):
                raise self.error("a CREATE ... AS SELECT takes no column list; drop it")
            return ast.CreateSource(kind, name, columns, props, start.pos)
        props = self.with_props() if self.at("WITH") else ()
        if not self.at("AS"):
            raise self.error(
                f"expected a column list '(...)' or AS SELECT after {kind} {name}, "
                f"found {self.tok.describe()}"
            )
        self.advance()
        select = self.select()
        return ast.CreateAs(kind, name, props, select, start.pos)

    def column_defs(self) -> tuple[ast.ColumnDef, ...]:
        self.expect_op("(")
        columns = []
        while True:
            tok = self.name("a column name")
            type_tok = self.tok
            if type_tok.kind != IDENT or type_tok.word not in TYPE_NAMES:
                raise self.error(
                    f"expected a column type for {tok.text}, found {type_tok.describe()} "
                    f"(types: VARCHAR/STRING, INT, BIGINT, DOUBLE, BOOLEAN)"
                )
            self.advance()
            key = False
            if self.accept("KEY"):
                key = True
            elif self.at("PRIMARY"):
                self.advance()
                self.expect("KEY")
                key = True
            columns.append(ast.ColumnDef(tok.text, TYPE_NAMES[type_tok.word], key, tok.pos))
            if self.accept_op(","):
                continue
            self.expect_op(")", " or ',' in the column list")
            return tuple(columns)

    def with_props(self) -> tuple[ast.Prop, ...]:
        self.expect("WITH")
        self.expect_op("(")
        props = []
        while True:
            tok = self.any_name("a property name such as KAFKA_TOPIC")
            self.expect_op("=")
            value_tok = self.tok
            value: Any
            if value_tok.kind == STRING:
                value = value_tok.text
            elif value_tok.kind == NUMBER:
                value = _number(value_tok.text)
            else:
                raise self.error(
                    f"expected a quoted value or a number for {tok.text.upper()}, "
                    f"found {value_tok.describe()}"
                )
            self.advance()
            props.append(ast.Prop(tok.text.upper(), value, tok.pos))
            if self.accept_op(","):
                continue
            self.expect_op(")", " or ',' in WITH (...)")
            return tuple(props)

    def select(self) -> ast.Select:
        start = self.expect("SELECT")
        items = [self.select_item()]
        while self.accept_op(","):
            items.append(self.select_item())
        self.expect("FROM")
        source = self.source_ref()
        join = self.join() if self.at("JOIN", "LEFT", "FULL", "INNER") else None
        window = self.window() if self.at("WINDOW") else None
        where = None
        if self.accept("WHERE"):
            where = self.expr()
        group_by: list[ast.Expr] = []
        if self.accept("GROUP"):
            self.expect("BY")
            group_by.append(self.expr())
            while self.accept_op(","):
                group_by.append(self.expr())
        partition_by = None
        if self.accept("PARTITION"):
            self.expect("BY")
            partition_by = self.expr()
        having = None
        if self.accept("HAVING"):
            having = self.expr()
        emit = None
        if self.accept("EMIT"):
            emit = self.expect("CHANGES", "FINAL").word
        if self.tok.kind != EOF and not self.at_op(";"):
            raise self.error(f"unexpected {self.tok.describe()} in the SELECT")
        return ast.Select(
            tuple(items),
            source,
            join,
            window,
            where,
            tuple(group_by),
            partition_by,
            having,
            emit,
            start.pos,
        )

    def select_item(self) -> ast.SelectItem:
        tok = self.tok
        if self.accept_op("*"):
            return ast.SelectItem(None, None, None, tok.pos)
        if (
            tok.kind in (IDENT, QIDENT)
            and self.peek().kind == OP
            and self.peek().text == "."
            and self.peek(2).kind == OP
            and self.peek(2).text == "*"
        ):
            self.advance(), self.advance(), self.advance()
            return ast.SelectItem(None, None, self.source_name(tok), tok.pos)
        expr = self.expr()
        alias = None
        if self.accept("AS"):
            alias = self.any_name("a column alias after AS").text
        elif self.tok.kind == QIDENT or (self.tok.kind == IDENT and self.tok.word not in RESERVED):
            alias = self.advance().text
        return ast.SelectItem(expr, alias, None, tok.pos)

    def source_ref(self) -> ast.SourceRef:
        tok = self.name("a stream or table name")
        alias = None
        if self.accept("AS"):
            alias = self.source_name(self.name("an alias"))
        elif self.tok.kind == QIDENT or (self.tok.kind == IDENT and self.tok.word not in RESERVED):
            alias = self.source_name(self.advance())
        return ast.SourceRef(self.source_name(tok), alias, tok.pos)

    def join(self) -> ast.Join:
        start = self.tok
        kind = "INNER"
        if self.accept("LEFT"):
            kind = "LEFT"
            self.accept("OUTER")
        elif self.accept("FULL"):
            kind = "FULL"
            self.expect("OUTER")
        else:
            self.accept("INNER")
        self.expect("JOIN")
        source = self.source_ref()
        within = None
        if self.accept("WITHIN"):
            within = self.duration()
        self.expect("ON")
        on = self.expr()
        return ast.Join(kind, source, within, on, start.pos)

    def duration(self) -> int:
        tok = self.tok
        if tok.kind != NUMBER or not tok.text.isdigit():
            raise self.error(f"expected a whole number of a time unit, found {tok.describe()}")
        self.advance()
        unit = self.tok
        if unit.kind != IDENT or unit.word not in TIME_UNITS:
            raise self.error(
                f"expected a time unit (MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS) after "
                f"{tok.text}, found {unit.describe()}"
            )
        self.advance()
        return int(tok.text) * TIME_UNITS[unit.word]

    def window(self) -> ast.WindowSpec:
        start = self.expect("WINDOW")
        kind = self.expect("TUMBLING", "HOPPING", "SESSION").word
        self.expect_op("(")
        size = advance = grace = None
        if kind == "SESSION":
            size = self.duration()
        else:
            self.expect("SIZE")
            size = self.duration()
            if kind == "HOPPING":
                self.expect_op(",", " and ADVANCE BY (a hopping window needs both)")
                self.expect("ADVANCE")
                self.expect("BY")
                advance = self.duration()
        if self.accept_op(","):
            self.expect("GRACE")
            self.expect("PERIOD")
            grace = self.duration()
        self.expect_op(")", " to close the WINDOW clause")
        return ast.WindowSpec(kind, size, advance, grace, start.pos)

    # ---- expressions ----

    def expr(self, min_prec: int = 0) -> ast.Expr:
        left = self.prefix()
        while True:
            tok = self.tok
            if tok.kind == IDENT and tok.word == "OR" and min_prec < _PREC_OR:
                self.advance()
                left = ast.Binary("OR", left, self.expr(_PREC_OR), tok.pos)
            elif tok.kind == IDENT and tok.word == "AND" and min_prec < _PREC_AND:
                self.advance()
                left = ast.Binary("AND", left, self.expr(_PREC_AND), tok.pos)
            elif min_prec < _PREC_CMP and (
                (tok.kind == OP and tok.text in _COMPARISONS)
                or (tok.kind == IDENT and tok.word in ("IS", "BETWEEN", "IN", "LIKE", "NOT"))
            ):
                if (
                    tok.kind == IDENT
                    and tok.word == "NOT"
                    and not (
                        self.peek().kind == IDENT and self.peek().word in ("BETWEEN", "IN", "LIKE")
                    )
                ):
                    return left
                left = self.comparison(left)
            elif tok.kind == OP and tok.text in "+-" and min_prec < _PREC_ADD:
                self.advance()
                left = ast.Binary(tok.text, left, self.expr(_PREC_ADD), tok.pos)
            elif tok.kind == OP and tok.text in ("*", "/", "%") and min_prec < _PREC_MUL:
                self.advance()
                left = ast.Binary(tok.text, left, self.expr(_PREC_MUL), tok.pos)
            else:
                return left

    def comparison(self, left: ast.Expr) -> ast.Expr:
        tok = self.advance()
        if tok.kind == OP:
            return ast.Binary(_COMPARISONS[tok.text], left, self.expr(_PREC_CMP), tok.pos)
        word = tok.word
        if word == "IS":
            negated = bool(self.accept("NOT"))
            self.expect("NULL")
            return ast.IsNull(left, negated, tok.pos)
        negated = False
        if word == "NOT":
            negated = True
            word = self.advance().word
        if word == "BETWEEN":
            low = self.expr(_PREC_CMP)
            self.expect("AND")
            high = self.expr(_PREC_CMP)
            return ast.Between(left, low, high, negated, tok.pos)
        if word == "IN":
            self.expect_op("(", " after IN")
            items = [self.expr()]
            while self.accept_op(","):
                items.append(self.expr())
            self.expect_op(")", " or ',' in the IN list")
            return ast.InList(left, tuple(items), negated, tok.pos)
        return ast.Like(left, self.expr(_PREC_CMP), negated, tok.pos)

    def prefix(self) -> ast.Expr:
        tok = self.tok
        if tok.kind == NUMBER:
            self.advance()
            value = _number(tok.text)
            kind = "DOUBLE" if isinstance(value, float) else "INT"
            if kind == "INT" and not -(2**31) <= value < 2**31:
                kind = "BIGINT"
            return ast.Literal(value, kind, tok.pos)
        if tok.kind == STRING:
            self.advance()
            return ast.Literal(tok.text, "STRING", tok.pos)
        if tok.kind == OP:
            if tok.text == "(":
                self.advance()
                inner = self.expr()
                self.expect_op(")", " to close the parenthesis")
                return inner
            if tok.text == "-":
                self.advance()
                operand = self.expr(_PREC_MUL)
                if isinstance(operand, ast.Literal) and operand.type_name in (
                    "INT",
                    "BIGINT",
                    "DOUBLE",
                ):
                    return ast.Literal(-operand.value, operand.type_name, tok.pos)
                return ast.Unary("-", operand, tok.pos)
            if tok.text == "+":
                self.advance()
                return self.expr(_PREC_MUL)
            raise self.error(f"expected an expression, found {tok.describe()}")
        if tok.kind == QIDENT:
            return self.column_ref()
        if tok.kind != IDENT:
            raise self.error(f"expected an expression, found {tok.describe()}")
        word = tok.word
        if word == "NOT":
            self.advance()
            return ast.Unary("NOT", self.expr(_PREC_NOT), tok.pos)
        if word in ("TRUE", "FALSE"):
            self.advance()
            return ast.Literal(word == "TRUE", "BOOLEAN", tok.pos)
        if word == "NULL":
            self.advance()
            return ast.Literal(None, "NULL", tok.pos)
        if word == "CASE":
            return self.case()
        if word == "CAST":
            self.advance()
            self.expect_op("(", " after CAST")
            operand = self.expr()
            self.expect("AS")
            type_tok = self.tok
            if type_tok.kind != IDENT or type_tok.word not in TYPE_NAMES:
                raise self.error(
                    f"expected a type to CAST to, found {type_tok.describe()} "
                    "(types: VARCHAR/STRING, INT, BIGINT, DOUBLE, BOOLEAN)"
                )
            self.advance()
            self.expect_op(")", " to close CAST(...)")
            return ast.Cast(operand, TYPE_NAMES[type_tok.word], tok.pos)
        if word in ("WINDOWSTART", "WINDOWEND") and not self.at_next_op("("):
            self.advance()
            return ast.WindowBound(word, tok.pos)
        if word in RESERVED:
            raise self.error(f"expected an expression, found keyword {word}")
        if self.at_next_op("("):
            return self.call()
        return self.column_ref()

    def at_next_op(self, op: str) -> bool:
        nxt = self.peek()
        return nxt.kind == OP and nxt.text == op

    def column_ref(self) -> ast.ColumnRef:
        first = self.advance()
        if self.at_op(".") and self.peek().kind in (IDENT, QIDENT):
            self.advance()
            second = self.advance()
            return ast.ColumnRef(self.source_name(first), second.text, first.pos)
        return ast.ColumnRef(None, first.text, first.pos)

    def call(self) -> ast.Call:
        tok = self.advance()
        self.expect_op("(")
        if self.at_op("*"):
            self.advance()
            self.expect_op(")", " after *")
            return ast.Call(tok.word, (), True, tok.pos)
        args: list[ast.Expr] = []
        if not self.at_op(")"):
            args.append(self.expr())
            while self.accept_op(","):
                args.append(self.expr())
        self.expect_op(")", f" or ',' in {tok.word}(...)")
        return ast.Call(tok.word, tuple(args), False, tok.pos)

    def case(self) -> ast.Case:
        start = self.expect("CASE")
        operand = None if self.at("WHEN") else self.expr()
        whens = []
        while self.accept("WHEN"):
            cond = self.expr()
            self.expect("THEN")
            whens.append((cond, self.expr()))
        if not whens:
            raise self.error(f"expected WHEN in CASE, found {self.tok.describe()}")
        otherwise = self.expr() if self.accept("ELSE") else None
        self.expect("END")
        return ast.Case(operand, tuple(whens), otherwise, start.pos)


def _number(text: str) -> int | float:
    if any(c in text for c in ".eE"):
        return float(text)
    return int(text)
