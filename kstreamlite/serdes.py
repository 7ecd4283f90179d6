"""Serializers/deserializers, byte-compatible with Kafka's Java serdes for the primitive types.

A serde keeps its two raw functions (``ser``/``de``) apart from the null-safe public
methods: the runtime's hot path calls the raw ones behind its own ``None`` check,
saving a Python frame per record.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import orjson

from .errors import SerializationError
from .records import Window, Windowed

T = TypeVar("T")

__all__ = [
    "BYTES",
    "DOUBLE",
    "INT",
    "JSON",
    "LONG",
    "STRING",
    "Serde",
    "json",
    "windowed",
]


class Serde(Generic[T]):
    """Build a serde from two functions; ``None`` passes through both ways (a tombstone)."""

    __slots__ = ("de", "name", "ser")

    def __init__(
        self,
        serialize: Callable[[T], bytes],
        deserialize: Callable[[bytes], T],
        *,
        name: str | None = None,
    ) -> None:
        self.ser = serialize
        self.de = deserialize
        self.name = name or getattr(serialize, "__qualname__", "custom")

    def serialize(self, value: T | None) -> bytes | None:
        if value is None:
            return None
        try:
            return self.ser(value)
        except SerializationError:
            raise
        except Exception as exc:
            raise SerializationError(
                f"serde {self.name} cannot serialize {type(value).__name__} {value!r:.80}: {exc}"
            ) from exc

    def deserialize(self, data: bytes | None) -> T | None:
        if data is None:
            return None
        try:
            return self.de(data)
        except SerializationError:
            raise
        except Exception as exc:
            raise SerializationError(
                f"serde {self.name} cannot deserialize {len(data)} bytes {data[:40]!r}: {exc}"
            ) from exc

    def resolve(self, default: Serde[Any]) -> Serde[Any]:
        """The serde to use once the configured default is known (wrappers override this)."""
        return self

    def __repr__(self) -> str:
        return f"Serde({self.name})"


def _expect(kind: type | tuple[type, ...], serde: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise SerializationError(
                f"serde {serde} cannot serialize {type(value).__name__} {value!r:.80}; "
                f"pass a value of the right type or choose another serde for this topic"
            )

    return check


def _bytes_ser(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    _expect(bytes, "BYTES")(value)
    raise AssertionError  # unreachable: _expect raised


def _bytes_de(data: bytes) -> bytes:
    return data


def _fixed(fmt: str, size: int, name: str, kind: type | tuple[type, ...]) -> Serde[Any]:
    packer = struct.Struct(fmt)
    check = _expect(kind, name)

    def ser(value: Any) -> bytes:
        check(value)
        try:
            return packer.pack(value)
        except struct.error as exc:
            raise SerializationError(f"serde {name} cannot serialize {value!r}: {exc}") from exc

    def de(data: bytes) -> Any:
        if len(data) != size:
            raise SerializationError(f"serde {name} expects exactly {size} bytes, got {len(data)}")
        return packer.unpack(data)[0]

    return Serde(ser, de, name=name)


BYTES: Serde[bytes] = Serde(_bytes_ser, _bytes_de, name="BYTES")
# The raw functions are C methods (UTF-8 is their default); a wrong type raises TypeError,
# which serialize() and the sink turn into a SerializationError naming the serde.
STRING: Serde[str] = Serde(str.encode, bytes.decode, name="STRING")
INT: Serde[int] = _fixed(">i", 4, "INT", int)
LONG: Serde[int] = _fixed(">q", 8, "LONG", int)
DOUBLE: Serde[float] = _fixed(">d", 8, "DOUBLE", (float, int))
JSON: Serde[Any] = Serde(orjson.dumps, orjson.loads, name="JSON")


def json(model: type[T]) -> Serde[T]:
    """A serde for a pydantic model class: JSON on the wire, validated instances in code."""
    validate_json = model.model_validate_json  # type: ignore[attr-defined]
    validate = model.model_validate  # type: ignore[attr-defined]

    def ser(value: Any) -> bytes:
        if not isinstance(value, model):
            value = validate(value)
        return value.model_dump_json().encode("utf-8")  # type: ignore[attr-defined, no-any-return]

    return Serde(ser, validate_json, name=f"json({model.__name__})")


_WINDOW = struct.Struct(">qq")


def windowed(inner: Serde[Any]) -> Serde[Windowed]:
    """A serde for ``Windowed`` keys: inner key bytes, then window start and end as 8-byte longs."""
    inner_ser, inner_de = inner.ser, inner.de

    def ser(value: Windowed) -> bytes:
        if not isinstance(value, Windowed):
            raise SerializationError(
                f"serde windowed({inner.name}) expects a Windowed key, got {type(value).__name__}"
            )
        return inner_ser(value.key) + _WINDOW.pack(value.window.start, value.window.end)

    def de(data: bytes) -> Windowed:
        if len(data) < 16:
            raise SerializationError(
                f"serde windowed({inner.name}) needs at least 16 bytes, got {len(data)}"
            )
        start, end = _WINDOW.unpack_from(data, len(data) - 16)
        return Windowed(inner_de(data[:-16]), Window(start, end))

    return Serde(ser, de, name=f"windowed({inner.name})")


_LENGTH = struct.Struct(">I")


def list_of(inner: Serde[Any]) -> Serde[list[Any]]:
    """A list of values, each length-prefixed in ``inner``'s encoding (internal stores)."""
    inner_ser, inner_de = inner.ser, inner.de

    def ser(values: list[Any]) -> bytes:
        parts = []
        for value in values:
            data = inner_ser(value)
            parts.append(_LENGTH.pack(len(data)))
            parts.append(data)
        return b"".join(parts)

    def de(data: bytes) -> list[Any]:
        values, at = [], 0
        while at < len(data):
            (size,) = _LENGTH.unpack_from(data, at)
            at += 4
            values.append(inner_de(data[at : at + size]))
            at += size
        return values

    return Serde(ser, de, name=f"list({inner.name})")


class Deferred(Serde[Any]):
    """A serde built around the configured default serde, once that is known.

    ``windowed(None)`` cannot exist until the application's default key serde is; the
    runtime calls ``resolve(default)`` when it builds a task.
    """

    __slots__ = ("_build",)

    def __init__(self, build: Callable[[Serde[Any]], Serde[Any]], name: str) -> None:
        super().__init__(_unresolved, _unresolved, name=name)
        self._build = build

    def resolve(self, default: Serde[Any]) -> Serde[Any]:
        return self._build(default).resolve(default)


def _unresolved(data: Any) -> Any:
    raise SerializationError("internal error: a deferred serde was used before resolve()")


def around(
    inner: Serde[Any] | None, wrap: Callable[[Serde[Any]], Serde[Any]], name: str
) -> Serde[Any]:
    """``wrap(inner)`` now if ``inner`` is known, else once the default is."""
    if inner is not None and not isinstance(inner, Deferred):
        return wrap(inner)
    if inner is None:
        return Deferred(wrap, name)
    deferred = inner
    return Deferred(lambda default: wrap(deferred.resolve(default)), name)
