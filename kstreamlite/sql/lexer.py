"""The lexer: SQL text to tokens, each with its line and column.

Identifiers and keywords are both ``IDENT`` tokens (the parser decides by context, so a
column may be called ``timestamp`` or ``count``); ``word`` is their upper-cased text.
Backtick-quoted identifiers (```my col```) are ``QIDENT`` and never keywords. Strings are
single-quoted with ``''`` for a quote; ``--`` starts a comment to the end of the line.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import Position, SqlError

IDENT, QIDENT, NUMBER, STRING, OP, EOF = "IDENT", "QIDENT", "NUMBER", "STRING", "OP", "EOF"

# Longest first, so "<=" is not read as "<" then "=".
_OPERATORS = (
    "<>",
    "!=",
    "<=",
    ">=",
    "=",
    "<",
    ">",
    "+",
    "-",
    "*",
    "/",
    "%",
    "(",
    ")",
    ",",
    ";",
    ".",
)


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str  # as written (the unquoted text for strings and quoted identifiers)
    pos: Position

    @property
    def word(self) -> str:
        """The upper-cased text of an unquoted identifier (keywords compare with this)."""
        return self.text.upper() if self.kind == IDENT else ""

    def describe(self) -> str:
        if self.kind == EOF:
            return "the end of the script"
        if self.kind == STRING:
            return f"string '{self.text}'"
        if self.kind == QIDENT:
            return f"`{self.text}`"
        return f"'{self.text}'"


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    line, line_start = 1, 0
    while i < n:
        c = text[i]
        if c == "\n":
            i += 1
            line, line_start = line + 1, i
            continue
        if c.isspace():
            i += 1
            continue
        pos = Position(line, i - line_start + 1)
        if c == "-" and text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if c.isalpha() or c == "_":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            tokens.append(Token(IDENT, text[i:j], pos))
            i = j
            continue
        if c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit()):
            j = i
            while j < n and text[j].isdigit():
                j += 1
            if j < n and text[j] == "." and (j + 1 >= n or text[j + 1].isdigit()):
                j += 1
                while j < n and text[j].isdigit():
                    j += 1
            if j < n and text[j] in "eE":
                k = j + 1
                if k < n and text[k] in "+-":
                    k += 1
                if k < n and text[k].isdigit():
                    j = k
                    while j < n and text[j].isdigit():
                        j += 1
            if j < n and (text[j].isalpha() or text[j] == "_"):
                raise SqlError(
                    f"malformed number '{text[i : j + 1]}': a number cannot run into a name",
                    pos.line,
                    pos.column,
                )
            tokens.append(Token(NUMBER, text[i:j], pos))
            i = j
            continue
        if c == "'":
            j, parts = i + 1, []
            while True:
                end = text.find("'", j)
                if end < 0:
                    raise SqlError(
                        "unterminated string: close it with ' (write '' for a quote inside)",
                        pos.line,
                        pos.column,
                    )
                parts.append(text[j:end])
                if text.startswith("''", end):
                    parts.append("'")
                    j = end + 2
                    continue
                break
            value = "".join(parts)
            newlines = text.count("\n", i, end)
            if newlines:
                line += newlines
                line_start = text.rfind("\n", i, end) + 1
            tokens.append(Token(STRING, value, pos))
            i = end + 1
            continue
        if c == "`":
            end = text.find("`", i + 1)
            if end < 0 or "\n" in text[i:end]:
                raise SqlError("unterminated quoted identifier: close it with `", *_at(pos))
            if end == i + 1:
                raise SqlError("empty quoted identifier ``", *_at(pos))
            tokens.append(Token(QIDENT, text[i + 1 : end], pos))
            i = end + 1
            continue
        for op in _OPERATORS:
            if text.startswith(op, i):
                tokens.append(Token(OP, op, pos))
                i += len(op)
                break
        else:
            raise SqlError(f"unexpected character {c!r}", pos.line, pos.column)
    pos = Position(line, i - line_start + 1)
    tokens.append(Token(EOF, "", pos))
    return tokens


def _at(pos: Position) -> tuple[int, int]:
    return pos.line, pos.column
