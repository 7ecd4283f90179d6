"""KeyValue, Record, Window, Windowed: the values that flow through a topology."""

from __future__ import annotations

from kstreamlite import KeyValue, Record, Window, Windowed


def test_key_value_equals_a_plain_tuple():
    assert KeyValue("a", 1) == ("a", 1)
    key, value = KeyValue("a", 1)
    assert (key, value) == ("a", 1)
    assert KeyValue("a", 1).key == "a"
    assert KeyValue("a", 1).value == 1


def test_record_with_value_returns_a_changed_copy():
    original = Record("k", 1, 100, (("h", b"v"),))
    changed = original.with_value(2)
    assert changed is not original
    assert (changed.key, changed.value, changed.timestamp) == ("k", 2, 100)
    assert tuple(changed.headers) == (("h", b"v"),)
    assert original.value == 1


def test_record_with_key_returns_a_changed_copy():
    original = Record("k", 1, 100)
    changed = original.with_key("k2")
    assert changed is not original
    assert (changed.key, changed.value, changed.timestamp) == ("k2", 1, 100)
    assert original.key == "k"


def test_record_with_timestamp_returns_a_changed_copy():
    original = Record("k", 1, 100)
    changed = original.with_timestamp(250)
    assert changed is not original
    assert (changed.key, changed.value, changed.timestamp) == ("k", 1, 250)
    assert original.timestamp == 100


def test_record_headers_default_to_empty_and_none_means_empty():
    assert tuple(Record("k", 1, 0).headers) == ()
    assert tuple(Record("k", 1, 0, None).headers) == ()


def test_records_are_equal_by_value_including_headers():
    assert Record("k", 1, 5, [("h", b"x")]) == Record("k", 1, 5, (("h", b"x"),))
    assert Record("k", 1, 5) != Record("k", 1, 6)
    assert Record("k", 1, 5) != Record("k", 1, 5, (("h", b"x"),))


def test_window_end_is_exclusive_and_windowed_compares_by_value():
    window = Window(0, 1_000)
    assert window.start == 0
    assert window.end == 1_000
    assert Windowed("a", Window(0, 1_000)) == Windowed("a", Window(0, 1_000))
    assert Windowed("a", Window(0, 1_000)) != Windowed("a", Window(1_000, 2_000))
    assert len({Windowed("a", Window(0, 1)), Windowed("a", Window(0, 1))}) == 1
