"""Joins the DSL refuses to build, with a TopologyError that says why."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kstreamlite import StreamsBuilder
from kstreamlite.errors import TopologyError
from kstreamlite.windows import JoinWindows

from .support import pair


@pytest.fixture
def b():
    return StreamsBuilder()


@pytest.mark.parametrize("mode", ["join", "left_join", "outer_join"])
def test_a_stream_stream_join_needs_join_windows(b, mode):
    left, right = b.stream("left"), b.stream("right")
    with pytest.raises(TopologyError, match=r"windows=JoinWindows"):
        getattr(left, mode)(right, pair)


def test_a_stream_stream_join_refuses_windows_of_another_kind(b):
    from kstreamlite.windows import TimeWindows

    with pytest.raises(TopologyError, match=r"windows=JoinWindows"):
        b.stream("left").join(b.stream("right"), pair, TimeWindows.of(10))


def test_outer_join_with_a_ktable_is_refused(b):
    table = b.table("table")
    with pytest.raises(TopologyError, match=r"outer_join\(\) joins two KStreams"):
        b.stream("stream").outer_join(table, pair)


def test_outer_join_with_a_global_table_is_refused(b):
    accounts = b.global_table("accounts")
    with pytest.raises(TopologyError, match=r"outer_join\(\)"):
        b.stream("stream").outer_join(accounts, pair)


@pytest.mark.parametrize("mode", ["join", "left_join"])
@pytest.mark.parametrize("selector", [None, "not callable"], ids=["missing", "not-callable"])
def test_a_global_table_join_needs_a_key_selector(b, mode, selector):
    accounts = b.global_table("accounts")
    with pytest.raises(TopologyError, match="key_selector="):
        getattr(b.stream("stream"), mode)(accounts, pair, key_selector=selector)


def test_a_key_selector_for_a_ktable_join_is_refused(b):
    table = b.table("table")
    with pytest.raises(TopologyError, match="key_selector= is only for global table joins"):
        b.stream("stream").join(table, pair, key_selector=lambda k, v: k)


@pytest.mark.parametrize("kind", ["table", "global_table"])
@pytest.mark.parametrize("mode", ["join", "left_join"])
def test_windows_for_a_table_join_are_refused(b, kind, mode):
    other = getattr(b, kind)("other")
    kwargs = {"key_selector": lambda k, v: k} if kind == "global_table" else {}
    with pytest.raises(TopologyError, match="windows= is only for stream-stream joins"):
        getattr(b.stream("stream"), mode)(other, pair, JoinWindows.of(10), **kwargs)


@pytest.mark.parametrize("joiner", [None, "concat", 42], ids=["none", "str", "int"])
@pytest.mark.parametrize("other", ["stream", "table", "global_table"])
def test_the_joiner_must_be_callable_for_a_stream_join(b, other, joiner):
    right = getattr(b, other)("other")
    kwargs = {"windows": JoinWindows.of(10)} if other == "stream" else {}
    if other == "global_table":
        kwargs["key_selector"] = lambda k, v: k
    with pytest.raises(TopologyError, match="the joiner must be a function"):
        b.stream("stream").join(right, joiner, **kwargs)


@pytest.mark.parametrize("mode", ["join", "left_join", "outer_join"])
def test_the_joiner_must_be_callable_for_a_table_join(b, mode):
    left, right = b.table("left"), b.table("right")
    with pytest.raises(TopologyError, match="the joiner must be a function"):
        getattr(left, mode)(right, "not a function")


def test_a_table_join_takes_a_table(b):
    with pytest.raises(TopologyError, match="KTable joins take a KTable"):
        b.table("left").join(b.stream("right"), pair)


def test_a_stream_join_refuses_something_that_is_no_stream_or_table(b):
    with pytest.raises(TopologyError, match="join\\(\\) takes a KStream, KTable or GlobalKTable"):
        b.stream("stream").join({"a": 1}, pair)


@pytest.mark.parametrize(
    "kind",
    [
        "stream-stream",
        "table-table",
        "stream-global",
        "stream-table",
    ],
)
def test_joins_across_builders_are_refused(b, kind):
    other = StreamsBuilder()
    with pytest.raises(TopologyError, match="same StreamsBuilder"):
        if kind == "stream-stream":
            b.stream("s").join(other.stream("o"), pair, JoinWindows.of(10))
        elif kind == "table-table":
            b.table("t").join(other.table("o"), pair)
        elif kind == "stream-global":
            b.stream("s").join(other.global_table("o"), pair, key_selector=lambda k, v: k)
        else:
            b.stream("s").join(other.table("o"), pair)


def test_join_windows_must_leave_time_to_meet(b):
    with pytest.raises(TopologyError, match="must not be negative"):
        JoinWindows.of(-1)
    with pytest.raises(TopologyError, match="leave no time for records to meet"):
        b.stream("left").join(b.stream("right"), pair, JoinWindows.of(10).before(-20))


def test_join_windows_take_timedeltas():
    windows = JoinWindows.of(timedelta(seconds=2), grace=timedelta(milliseconds=500))
    assert (windows.before_ms, windows.after_ms, windows.grace_ms) == (2_000, 2_000, 500)
    assert windows.before(timedelta(seconds=1)).before_ms == 1_000
    assert windows.after(0).after_ms == 0
