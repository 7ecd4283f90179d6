"""The crash test's verdict must be able to fail: planted duplicates, gaps, reorderings,
double-counted aggregates and wrong windows are each caught (no broker needed)."""

from __future__ import annotations

import copy

import pytest

from .verify import AggregateRecord, EchoRecord, Report, WindowRecord, verify
from .workload import BASE, SENTINEL, WINDOW_MS, Value, _empty, _fold, generate, sentinels

EOS = "exactly_once_v2"
ALOS = "at_least_once"


def _inputs() -> list[Value]:
    inputs = generate(600, seed=7)
    return inputs + sentinels(inputs)


def _perfect(
    inputs: list[Value],
) -> tuple[list[EchoRecord], list[AggregateRecord], list[WindowRecord]]:
    """What a correct exactly-once run outputs: the echo in order, every aggregate update
    (no caching), one final per window."""
    echo = [
        EchoRecord(v["p"], i, v)
        for i, v in enumerate(sorted(inputs, key=lambda v: (v["p"], v["s"])))
    ]
    state: dict[str, Value] = {}
    aggs = []
    for v in inputs:
        state[v["g"]] = _fold(v["g"], v, state.get(v["g"], _empty()))
        aggs.append(AggregateRecord(v["g"], state[v["g"]]))
    counts: dict[tuple[str, int], int] = {}
    for v in inputs:
        if v["g"] != SENTINEL:
            ident = (v["g"], v["ts"] // WINDOW_MS * WINDOW_MS)
            counts[ident] = counts.get(ident, 0) + 1
    windows = [WindowRecord(g, s, s + WINDOW_MS, n) for (g, s), n in counts.items()]
    return echo, aggs, windows


def _check(
    guarantee: str,
    inputs: list[Value],
    echo: list[EchoRecord],
    aggs: list[AggregateRecord],
    windows: list[WindowRecord],
) -> Report:
    return verify(guarantee, inputs, echo, aggs, windows)


@pytest.mark.parametrize("guarantee", [EOS, ALOS])
def test_a_correct_run_passes(guarantee: str) -> None:
    inputs = _inputs()
    report = _check(guarantee, inputs, *_perfect(inputs))
    assert report.ok, report.summary()
    assert report.records == 600
    assert (report.duplicates, report.missing, report.wrong) == (0, 0, 0)


def test_a_duplicated_echo_record_fails_exactly_once_and_is_only_reported_at_least_once() -> None:
    inputs = _inputs()
    echo, aggs, windows = _perfect(inputs)
    echo.insert(10, echo[9])
    eos = _check(EOS, inputs, echo, aggs, windows)
    assert not eos.ok and eos.echo_duplicates == 1
    alos = _check(ALOS, inputs, echo, aggs, windows)
    assert alos.ok, alos.summary()
    assert alos.duplicates == 1 and any("duplicate echo" in n for n in alos.notes)


@pytest.mark.parametrize("guarantee", [EOS, ALOS])
def test_a_missing_echo_record_fails(guarantee: str) -> None:
    inputs = _inputs()
    echo, aggs, windows = _perfect(inputs)
    del echo[123]
    report = _check(guarantee, inputs, echo, aggs, windows)
    assert not report.ok and report.echo_missing == 1, report.summary()


def test_echo_out_of_order_fails_exactly_once() -> None:
    inputs = _inputs()
    echo, aggs, windows = _perfect(inputs)
    echo[5], echo[6] = echo[6], echo[5]
    report = _check(EOS, inputs, echo, aggs, windows)
    assert not report.ok and report.echo_out_of_order == 1, report.summary()


@pytest.mark.parametrize("guarantee", [EOS, ALOS])
def test_an_altered_echo_value_fails(guarantee: str) -> None:
    inputs = _inputs()
    echo, aggs, windows = _perfect(inputs)
    bad = dict(echo[0].value, v=echo[0].value["v"] + 1)
    echo[0] = EchoRecord(echo[0].partition, echo[0].offset, bad)
    report = _check(guarantee, inputs, echo, aggs, windows)
    assert not report.ok and report.echo_wrong == 1, report.summary()


def test_a_double_counted_aggregate_fails_exactly_once_and_is_reported_at_least_once() -> None:
    inputs = _inputs()
    echo, aggs, windows = _perfect(inputs)
    i = next(i for i, a in enumerate(aggs) if a.key != SENTINEL and a.value["count"] > 3)
    value = copy.deepcopy(aggs[i].value)
    value["count"] += 1  # a record folded in twice
    value["sum"] += 5
    aggs.insert(i + 1, AggregateRecord(aggs[i].key, value))
    eos = _check(EOS, inputs, echo, aggs, windows)
    assert not eos.ok and eos.aggregate_wrong == 1, eos.summary()
    alos = _check(ALOS, inputs, echo, aggs, windows)
    assert alos.ok and alos.aggregate_overcounted == 1, alos.summary()


@pytest.mark.parametrize("guarantee", [EOS, ALOS])
def test_an_aggregate_that_lost_a_record_fails(guarantee: str) -> None:
    inputs = _inputs()
    echo, aggs, windows = _perfect(inputs)
    i = next(i for i, a in enumerate(aggs) if a.key != SENTINEL and a.value["count"] > 3)
    value = copy.deepcopy(aggs[i].value)
    value["count"] -= 1
    aggs[i] = AggregateRecord(aggs[i].key, value)
    report = _check(guarantee, inputs, echo, aggs, windows)
    assert not report.ok and report.aggregate_wrong == 1, report.summary()


def test_an_aggregate_claiming_a_record_of_another_group_fails() -> None:
    inputs = _inputs()
    echo, aggs, windows = _perfect(inputs)
    a = next(a for a in aggs if a.key != SENTINEL)
    other = next(v for v in inputs if v["g"] not in (a.key, SENTINEL) and v["p"] == 0)
    value = copy.deepcopy(a.value)
    value["upto"]["0"] = other["s"]
    aggs.append(AggregateRecord(a.key, value))
    report = _check(EOS, inputs, echo, aggs, windows)
    assert not report.ok and report.aggregate_wrong == 1, report.summary()


@pytest.mark.parametrize("guarantee", [EOS, ALOS])
def test_a_group_whose_last_aggregate_misses_input_fails(guarantee: str) -> None:
    inputs = _inputs()
    echo, aggs, windows = _perfect(inputs)
    last = max(i for i, a in enumerate(aggs) if a.key == "g03")
    del aggs[last]
    report = _check(guarantee, inputs, echo, aggs, windows)
    assert not report.ok and report.aggregate_incomplete == 1, report.summary()


@pytest.mark.parametrize("guarantee", [EOS, ALOS])
def test_a_missing_window_fails(guarantee: str) -> None:
    inputs = _inputs()
    echo, aggs, windows = _perfect(inputs)
    del windows[3]
    report = _check(guarantee, inputs, echo, aggs, windows)
    assert not report.ok and report.windows_missing == 1, report.summary()


def test_a_second_window_result_fails_exactly_once_and_is_reported_at_least_once() -> None:
    inputs = _inputs()
    echo, aggs, windows = _perfect(inputs)
    w = windows[0]
    windows.append(WindowRecord(w.key, w.start, w.end, w.count + 2))
    eos = _check(EOS, inputs, echo, aggs, windows)
    assert not eos.ok and eos.windows_duplicated == 1, eos.summary()
    alos = _check(ALOS, inputs, echo, aggs, windows)
    assert alos.ok and alos.windows_duplicated == 1 and alos.windows_overcounted == 1


@pytest.mark.parametrize("guarantee", [EOS, ALOS])
def test_a_window_whose_only_result_is_short_fails(guarantee: str) -> None:
    inputs = _inputs()
    echo, aggs, windows = _perfect(inputs)
    w = windows[0]
    windows[0] = WindowRecord(w.key, w.start, w.end, w.count - 1)
    report = _check(guarantee, inputs, echo, aggs, windows)
    assert not report.ok and report.windows_wrong == 1, report.summary()


def test_a_short_extra_window_result_beside_a_whole_one_is_reported_at_least_once() -> None:
    """A replay re-opening an expired window: a duplicate, not a loss."""
    inputs = _inputs()
    echo, aggs, windows = _perfect(inputs)
    w = windows[0]
    windows.append(WindowRecord(w.key, w.start, w.end, 1))
    alos = _check(ALOS, inputs, echo, aggs, windows)
    assert alos.ok and alos.windows_partial == 1, alos.summary()
    assert not _check(EOS, inputs, echo, aggs, windows).ok


@pytest.mark.parametrize("guarantee", [EOS, ALOS])
def test_a_result_for_a_window_without_input_fails(guarantee: str) -> None:
    inputs = _inputs()
    echo, aggs, windows = _perfect(inputs)
    windows.append(WindowRecord("g00", BASE - 50 * WINDOW_MS, BASE - 49 * WINDOW_MS, 1))
    report = _check(guarantee, inputs, echo, aggs, windows)
    assert not report.ok and report.windows_unknown == 1, report.summary()


def test_the_summary_names_every_count() -> None:
    inputs = _inputs()
    echo, aggs, windows = _perfect(inputs)
    del echo[0]
    text = _check(EOS, inputs, echo, aggs, windows).summary()
    assert "records: 600" in text and "missing: 1" in text and "RESULT: FAILED" in text
