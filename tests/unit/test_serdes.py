"""kstreamlite.serdes: wire formats (Java-compatible primitives), None handling, error messages."""

from __future__ import annotations

import math
import struct

import pytest
from pydantic import BaseModel

from kstreamlite import Window, Windowed, serdes
from kstreamlite.errors import SerializationError


class Trade(BaseModel):
    symbol: str
    price: float
    tags: list[str] = []


ALL_SERDES = [
    pytest.param(serdes.BYTES, id="BYTES"),
    pytest.param(serdes.STRING, id="STRING"),
    pytest.param(serdes.INT, id="INT"),
    pytest.param(serdes.LONG, id="LONG"),
    pytest.param(serdes.DOUBLE, id="DOUBLE"),
    pytest.param(serdes.JSON, id="JSON"),
    pytest.param(serdes.json(Trade), id="json(Trade)"),
    pytest.param(serdes.windowed(serdes.STRING), id="windowed(STRING)"),
    pytest.param(serdes.Serde(lambda v: v.encode(), lambda b: b.decode()), id="custom"),
]


# ---- None (tombstones) ----


@pytest.mark.parametrize("serde", ALL_SERDES)
def test_none_serializes_to_none(serde):
    assert serde.serialize(None) is None


@pytest.mark.parametrize("serde", ALL_SERDES)
def test_none_deserializes_to_none(serde):
    assert serde.deserialize(None) is None


# ---- BYTES ----


def test_bytes_passes_bytes_through_unchanged():
    assert serdes.BYTES.serialize(b"\x00\xffabc") == b"\x00\xffabc"
    assert serdes.BYTES.deserialize(b"\x00\xffabc") == b"\x00\xffabc"


def test_bytes_accepts_bytearray_and_memoryview_as_bytes():
    assert serdes.BYTES.serialize(bytearray(b"ab")) == b"ab"
    assert serdes.BYTES.serialize(memoryview(b"cd")) == b"cd"


def test_bytes_rejects_str_with_serialization_error_naming_bytes():
    with pytest.raises(SerializationError, match="BYTES"):
        serdes.BYTES.serialize("text")


# ---- STRING ----


def test_string_is_utf8_on_the_wire():
    text = "héllo wörld ✓ 日本 😀"
    assert serdes.STRING.serialize(text) == text.encode("utf-8")
    assert serdes.STRING.deserialize(text.encode("utf-8")) == text


def test_string_empty_string_is_empty_bytes_not_none():
    assert serdes.STRING.serialize("") == b""
    assert serdes.STRING.deserialize(b"") == ""


@pytest.mark.parametrize("wrong", [42, b"bytes", 1.5, ["a"]])
def test_string_rejects_non_str_with_serialization_error_naming_string(wrong):
    with pytest.raises(SerializationError, match="STRING"):
        serdes.STRING.serialize(wrong)


# ---- INT / LONG: big-endian signed, byte-compatible with Kafka's Java serdes ----


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (0, b"\x00\x00\x00\x00"),
        (1, b"\x00\x00\x00\x01"),
        (256, b"\x00\x00\x01\x00"),
        (-1, b"\xff\xff\xff\xff"),
        (2**31 - 1, b"\x7f\xff\xff\xff"),
        (-(2**31), b"\x80\x00\x00\x00"),
    ],
)
def test_int_is_four_bytes_big_endian_signed_like_java(value, wire):
    assert serdes.INT.serialize(value) == wire
    assert serdes.INT.deserialize(wire) == value


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (0, b"\x00" * 8),
        (1, b"\x00" * 7 + b"\x01"),
        (-1, b"\xff" * 8),
        (2**63 - 1, b"\x7f" + b"\xff" * 7),
        (-(2**63), b"\x80" + b"\x00" * 7),
        (1_700_000_000_000, struct.pack(">q", 1_700_000_000_000)),
    ],
)
def test_long_is_eight_bytes_big_endian_signed_like_java(value, wire):
    assert serdes.LONG.serialize(value) == wire
    assert serdes.LONG.deserialize(wire) == value


@pytest.mark.parametrize("value", [2**31, -(2**31) - 1, 2**40])
def test_int_out_of_32_bit_range_raises_serialization_error_naming_int(value):
    with pytest.raises(SerializationError, match="INT"):
        serdes.INT.serialize(value)


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1])
def test_long_out_of_64_bit_range_raises_serialization_error_naming_long(value):
    with pytest.raises(SerializationError, match="LONG"):
        serdes.LONG.serialize(value)


@pytest.mark.parametrize(
    ("serde", "name"), [(serdes.INT, "INT"), (serdes.LONG, "LONG"), (serdes.DOUBLE, "DOUBLE")]
)
@pytest.mark.parametrize("wrong", ["1", True, [1], {"a": 1}])
def test_fixed_width_serdes_reject_wrong_types_naming_the_serde(serde, name, wrong):
    with pytest.raises(SerializationError, match=name):
        serde.serialize(wrong)


def test_int_and_long_reject_floats():
    with pytest.raises(SerializationError, match="INT"):
        serdes.INT.serialize(1.0)
    with pytest.raises(SerializationError, match="LONG"):
        serdes.LONG.serialize(2.5)


@pytest.mark.parametrize(
    ("serde", "name", "size"),
    [(serdes.INT, "INT", 4), (serdes.LONG, "LONG", 8), (serdes.DOUBLE, "DOUBLE", 8)],
)
@pytest.mark.parametrize("length", [0, 3, 9])
def test_fixed_width_deserialize_of_wrong_length_names_serde_and_size(serde, name, size, length):
    with pytest.raises(SerializationError, match=rf"{name} expects exactly {size} bytes"):
        serde.deserialize(b"\x01" * length)


# ---- DOUBLE: IEEE 754 big-endian ----


@pytest.mark.parametrize("value", [0.0, 1.5, -2.25, 1e300, -1e-300, math.inf, -math.inf])
def test_double_is_ieee754_big_endian(value):
    wire = serdes.DOUBLE.serialize(value)
    assert wire == struct.pack(">d", value)
    assert len(wire) == 8
    assert serdes.DOUBLE.deserialize(wire) == value


def test_double_one_point_five_has_java_bytes():
    assert serdes.DOUBLE.serialize(1.5) == b"\x3f\xf8\x00\x00\x00\x00\x00\x00"


def test_double_round_trips_nan():
    assert math.isnan(serdes.DOUBLE.deserialize(serdes.DOUBLE.serialize(math.nan)))


def test_double_keeps_the_sign_of_negative_zero():
    back = serdes.DOUBLE.deserialize(serdes.DOUBLE.serialize(-0.0))
    assert back == 0.0
    assert math.copysign(1.0, back) == -1.0


def test_double_accepts_an_int_and_returns_a_float():
    assert serdes.DOUBLE.serialize(2) == struct.pack(">d", 2.0)
    assert serdes.DOUBLE.deserialize(serdes.DOUBLE.serialize(2)) == 2.0


# ---- JSON ----


def test_json_round_trips_nested_structures():
    value = {
        "a": [1, {"b": None, "c": [True, False]}],
        "d": -3.5,
        "e": "ünïcode ✓",
        "f": {"g": {"h": []}},
    }
    assert serdes.JSON.deserialize(serdes.JSON.serialize(value)) == value


def test_json_is_compact_utf8_on_the_wire():
    assert serdes.JSON.serialize({"a": 1, "b": [1, 2]}) == b'{"a":1,"b":[1,2]}'
    assert serdes.JSON.serialize("é") == '"é"'.encode()


@pytest.mark.parametrize("value", [-1, -(2**63), 2**63 - 1, 2**64 - 1, -0.5, -1e-9, 0])
def test_json_round_trips_large_and_negative_numbers_exactly(value):
    back = serdes.JSON.deserialize(serdes.JSON.serialize(value))
    assert back == value
    assert type(back) is type(value)


def test_json_top_level_scalars_and_lists_round_trip():
    for value in ["s", 3, 2.5, True, [1, "a", None]]:
        assert serdes.JSON.deserialize(serdes.JSON.serialize(value)) == value


def test_json_integer_beyond_64_bits_raises_serialization_error_naming_json():
    with pytest.raises(SerializationError, match="JSON"):
        serdes.JSON.serialize(2**64)


@pytest.mark.xfail(
    reason="BUG: JSON.deserialize turns an integer wider than 64 bits into a float, "
    "silently losing precision (orjson behaviour); it should keep the exact int or fail",
    strict=True,
)
def test_json_deserialize_of_integer_beyond_64_bits_does_not_silently_become_a_float():
    value = serdes.JSON.deserialize(b"123456789012345678901234567890")
    assert value == 123456789012345678901234567890
    assert isinstance(value, int)


@pytest.mark.parametrize("wrong", [{1, 2}, object(), b"raw bytes"])
def test_json_unserializable_value_raises_serialization_error_naming_json(wrong):
    with pytest.raises(SerializationError, match="JSON"):
        serdes.JSON.serialize(wrong)


# ---- json(Model) ----


def test_pydantic_model_serde_round_trips_an_instance():
    serde = serdes.json(Trade)
    trade = Trade(symbol="ACME", price=12.5, tags=["x", "y"])
    wire = serde.serialize(trade)
    assert wire == b'{"symbol":"ACME","price":12.5,"tags":["x","y"]}'
    back = serde.deserialize(wire)
    assert isinstance(back, Trade)
    assert back == trade


def test_pydantic_model_serde_validates_a_dict_before_writing():
    serde = serdes.json(Trade)
    assert serde.serialize({"symbol": "ACME", "price": "3"}) == (
        b'{"symbol":"ACME","price":3.0,"tags":[]}'
    )


@pytest.mark.parametrize(
    "payload", [b'{"symbol": "ACME"}', b'{"symbol": "ACME", "price": "cheap"}', b"[]", b"{"]
)
def test_pydantic_model_serde_rejects_an_invalid_payload_on_read_naming_the_serde(payload):
    with pytest.raises(SerializationError, match=r"json\(Trade\)"):
        serdes.json(Trade).deserialize(payload)


def test_pydantic_model_serde_is_named_after_the_model():
    assert serdes.json(Trade).name == "json(Trade)"


@pytest.mark.parametrize("wrong", [42, "ACME", {"symbol": "ACME"}, {"price": "cheap"}])
def test_pydantic_model_serde_wrong_value_raises_serialization_error_naming_the_serde(wrong):
    with pytest.raises(SerializationError, match=r"json\(Trade\)"):
        serdes.json(Trade).serialize(wrong)


# ---- windowed(inner) ----


def test_windowed_string_round_trips_key_and_window():
    serde = serdes.windowed(serdes.STRING)
    key = Windowed("user-1", Window(1_000, 2_000))
    wire = serde.serialize(key)
    assert wire == b"user-1" + struct.pack(">qq", 1_000, 2_000)
    back = serde.deserialize(wire)
    assert back == key
    assert back.window.start == 1_000
    assert back.window.end == 2_000


def test_windowed_long_round_trips():
    serde = serdes.windowed(serdes.LONG)
    key = Windowed(-7, Window(0, 60_000))
    assert serde.deserialize(serde.serialize(key)) == key


def test_windowed_rejects_a_plain_key_naming_the_serde():
    with pytest.raises(SerializationError, match=r"windowed\(STRING\)"):
        serdes.windowed(serdes.STRING).serialize("not-windowed")


def test_windowed_rejects_too_short_data_naming_the_serde():
    with pytest.raises(SerializationError, match=r"windowed\(STRING\).*16 bytes"):
        serdes.windowed(serdes.STRING).deserialize(b"short")


# ---- custom Serde ----


def test_custom_serde_uses_the_two_functions():
    upper = serdes.Serde(lambda s: s.upper().encode(), lambda b: b.decode().lower(), name="UP")
    assert upper.serialize("abc") == b"ABC"
    assert upper.deserialize(b"XYZ") == "xyz"
    assert repr(upper) == "Serde(UP)"


def test_custom_serde_is_named_after_its_serialize_function_by_default():
    def to_wire(value):
        return str(value).encode()

    serde = serdes.Serde(to_wire, lambda b: int(b))
    assert serde.name.endswith("to_wire")
    assert serde.deserialize(serde.serialize(12)) == 12


def test_custom_serde_failures_become_serialization_errors_naming_the_serde():
    serde = serdes.Serde(lambda v: v.encode(), lambda b: b.decode(), name="mine")
    with pytest.raises(SerializationError, match="serde mine cannot serialize int"):
        serde.serialize(5)
    with pytest.raises(SerializationError, match="serde mine cannot deserialize"):
        serde.deserialize(b"\xff")


def test_custom_serde_functions_never_see_none():
    calls = []
    serde = serdes.Serde(lambda v: calls.append(v) or b"x", lambda b: calls.append(b) or "y")
    serde.serialize(None)
    serde.deserialize(None)
    assert calls == []


# ---- malformed input when called directly ----


@pytest.mark.parametrize(
    ("serde", "data", "name"),
    [
        pytest.param(serdes.STRING, b"\xff\xfe", "STRING", id="STRING"),
        pytest.param(serdes.JSON, b"{not json", "JSON", id="JSON"),
        pytest.param(serdes.JSON, b"", "JSON", id="JSON-empty"),
        pytest.param(serdes.INT, b"\x00", "INT", id="INT"),
        pytest.param(
            serdes.windowed(serdes.STRING), b"\xff" + b"\x00" * 16, "STRING", id="windowed"
        ),
        pytest.param(
            serdes.Serde(str.encode, lambda b: int(b), name="intstr"), b"x", "intstr", id="custom"
        ),
    ],
)
def test_malformed_bytes_raise_serialization_error_naming_the_serde(serde, data, name):
    with pytest.raises(SerializationError, match=name):
        serde.deserialize(data)
