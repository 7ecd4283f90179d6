"""What compiled expressions call at run time: SQL's NULL-aware helpers, casts and the
scalar functions. Kept small and plain; the expression compiler inlines everything it
can and calls these only where inlining would not pay."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from typing import Any


def idiv(a: int, b: int) -> int | None:
    """INT / INT as Java (and ksqlDB) divides: truncated toward zero; x / 0 is NULL."""
    if b == 0:
        return None
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def fdiv(a: float, b: float) -> float | None:
    """DOUBLE division; x / 0 is NULL (JSON has no infinity)."""
    if b == 0:
        return None
    return a / b


def imod(a: int, b: int) -> int | None:
    """INT % INT as Java: the result has the dividend's sign; x % 0 is NULL."""
    if b == 0:
        return None
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def fmod(a: float, b: float) -> float | None:
    if b == 0:
        return None
    return math.fmod(a, b)


def like_regex(pattern: str) -> Callable[[str], Any]:
    """SQL LIKE: ``%`` any run of characters, ``_`` one character, the rest literal."""
    parts = []
    for c in pattern:
        if c == "%":
            parts.append(".*")
        elif c == "_":
            parts.append(".")
        else:
            parts.append(re.escape(c))
    return re.compile("".join(parts), re.DOTALL).fullmatch


@functools.lru_cache(maxsize=256)
def _cached_like(pattern: str) -> Callable[[str], Any]:
    return like_regex(pattern)


def like(value: str | None, pattern: str | None) -> bool | None:
    if value is None or pattern is None:
        return None
    return _cached_like(pattern)(value) is not None


def in_list(value: Any, items: tuple[Any, ...]) -> bool | None:
    """``value IN (items)``: NULL if value is NULL, or if it is not found and an item is."""
    if value is None:
        return None
    if value in items:
        return True
    return None if None in items else False


def to_string(value: Any) -> str | None:
    """CAST(x AS VARCHAR), CONCAT's arguments and string keys: booleans as true/false."""
    if value is None or isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def to_int(value: Any) -> int | None:
    """CAST(x AS INT/BIGINT): a double is truncated toward zero; an unparsable string is NULL."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            try:
                return int(float(value.strip()))
            except (ValueError, OverflowError):
                return None
    try:
        return int(value)
    except (ValueError, OverflowError):
        return None


def to_double(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value.strip() if isinstance(value, str) else value)
    except ValueError:
        return None


def to_boolean(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "t", "yes", "y", "1"):
            return True
        if text in ("false", "f", "no", "n", "0"):
            return False
        return None
    return bool(value)


def concat(*values: Any) -> str | None:
    """CONCAT: NULL arguments count as empty; NULL only when every argument is NULL."""
    parts = [to_string(v) for v in values if v is not None]
    if not parts and values:
        return None
    return "".join(parts)  # type: ignore[arg-type]


def floor_double(value: float) -> float:
    return float(math.floor(value))


def ceil_double(value: float) -> float:
    return float(math.ceil(value))


KEY_SEPARATOR = "|+|"


def key_string(value: Any) -> str | None:
    """A GROUP BY / PARTITION BY value as the record's STRING key."""
    return to_string(value)


def multi_key(*values: Any) -> str | None:
    """Several GROUP BY values as one STRING key: joined with ``|+|`` (as ksqlDB's
    multi-column keys print); NULL if any is NULL (such rows are dropped, as in ksqlDB)."""
    if None in values:
        return None
    return KEY_SEPARATOR.join(to_string(v) for v in values)  # type: ignore[misc]


#: The namespace every generated function sees.
RUNTIME: dict[str, Any] = {
    "_idiv": idiv,
    "_fdiv": fdiv,
    "_imod": imod,
    "_fmod": fmod,
    "_like": like,
    "_in": in_list,
    "_str": to_string,
    "_int": to_int,
    "_dbl": to_double,
    "_bool": to_boolean,
    "_concat": concat,
    "_floor": floor_double,
    "_ceil": ceil_double,
    "_key": key_string,
    "_mkey": multi_key,
    "_floor_i": math.floor,
    "_ceil_i": math.ceil,
}
