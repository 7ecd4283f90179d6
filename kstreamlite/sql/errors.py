"""SqlError: every error of the SQL front end, with the line and column it is about.

``str(error)`` shows the message, then the offending line of the script with a caret
under the column, so a user sees at once what to fix and where.
"""

from __future__ import annotations

from ..errors import TopologyError


class SqlError(TopologyError):
    """A syntax or semantic error in a SQL script. ``line`` and ``column`` count from 1
    (0 when the error is about the script as a whole); ``message`` is the bare text."""

    def __init__(self, message: str, line: int = 0, column: int = 0, source: str = "") -> None:
        self.message = message
        self.line = line
        self.column = column
        self.source_line = ""
        if line and source:
            lines = source.splitlines()
            if 0 < line <= len(lines):
                self.source_line = lines[line - 1]
        super().__init__(self._render())

    def _render(self) -> str:
        if not self.line:
            return self.message
        text = f"line {self.line}, column {self.column}: {self.message}"
        if self.source_line:
            # Tabs stay tabs so the caret lines up under the column in a terminal.
            pad = "".join(c if c == "\t" else " " for c in self.source_line[: self.column - 1])
            text += f"\n    {self.source_line}\n    {pad}^"
        return text


class Position:
    """Where a token or node starts in the script (1-based)."""

    __slots__ = ("column", "line")

    def __init__(self, line: int, column: int) -> None:
        self.line = line
        self.column = column

    def __repr__(self) -> str:
        return f"{self.line}:{self.column}"


NOWHERE = Position(0, 0)
