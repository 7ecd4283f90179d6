"""The crash test's verdict, computed from the input the generator sent and the outputs a
read_committed consumer read: pure functions, no broker, so they can be tested with
planted violations (test_verify.py).

exactly_once_v2: the echo holds every input record once, in order per partition; every
aggregate update equals the input prefix its ``upto`` claims; every window has exactly
one final result and it is right.
at_least_once: nothing may be missing or lost (an aggregate or window below what its
input prefix holds), nothing may be made up; duplicates and over-counts are counted and
reported, as at-least-once allows them.
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .workload import SENTINEL, WINDOW_MS, Value

EXAMPLES = 5  # examples quoted per kind of violation


@dataclass(frozen=True)
class EchoRecord:
    partition: int
    offset: int
    value: Value


@dataclass(frozen=True)
class AggregateRecord:
    key: str
    value: Value


@dataclass(frozen=True)
class WindowRecord:
    key: str
    start: int
    end: int
    count: Any


@dataclass
class Report:
    """Counts per kind of finding; ``violations`` fail the run, ``notes`` are reported."""

    guarantee: str
    records: int = 0
    echo_read: int = 0
    echo_duplicates: int = 0
    echo_missing: int = 0
    echo_wrong: int = 0
    echo_out_of_order: int = 0
    aggregate_updates: int = 0
    aggregate_wrong: int = 0  # EOS: any mismatch; ALOS: below its prefix (lost input)
    aggregate_overcounted: int = 0  # ALOS only: above its prefix (replayed input)
    aggregate_incomplete: int = 0  # groups whose last update does not cover all input
    windows_expected: int = 0
    window_results: int = 0
    windows_missing: int = 0
    windows_duplicated: int = 0
    windows_wrong: int = 0  # EOS: any mismatch; ALOS: below the input (lost)
    windows_overcounted: int = 0  # ALOS only
    windows_partial: int = 0  # ALOS only: an extra result below the input, besides a whole one
    windows_unknown: int = 0  # results for windows that hold no input
    violations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def duplicates(self) -> int:
        return self.echo_duplicates + self.windows_duplicated

    @property
    def missing(self) -> int:
        return self.echo_missing + self.windows_missing + self.aggregate_incomplete

    @property
    def wrong(self) -> int:
        return (
            self.echo_wrong
            + self.echo_out_of_order
            + self.aggregate_wrong
            + self.windows_wrong
            + self.windows_unknown
        )

    def summary(self) -> str:
        """Human-readable, one finding per line."""
        lines = [
            f"guarantee: {self.guarantee}",
            f"records: {self.records}  duplicates: {self.duplicates}  missing: {self.missing}"
            f"  wrong: {self.wrong}",
            f"echo: read {self.echo_read}, duplicates {self.echo_duplicates}, missing "
            f"{self.echo_missing}, wrong {self.echo_wrong}, out of order {self.echo_out_of_order}",
            f"aggregates: {self.aggregate_updates} updates, wrong {self.aggregate_wrong}, "
            f"over-counted {self.aggregate_overcounted}, incomplete groups "
            f"{self.aggregate_incomplete}",
            f"windows: expected {self.windows_expected}, results {self.window_results}, missing "
            f"{self.windows_missing}, duplicated {self.windows_duplicated}, wrong "
            f"{self.windows_wrong}, over-counted {self.windows_overcounted}, partial extras "
            f"{self.windows_partial}, unknown {self.windows_unknown}",
        ]
        lines += [f"NOTE: {note}" for note in self.notes]
        lines += [f"VIOLATION: {violation}" for violation in self.violations]
        lines.append("RESULT: " + ("OK" if self.ok else f"FAILED ({len(self.violations)})"))
        return "\n".join(lines)


def verify(
    guarantee: str,
    inputs: list[Value],
    echo: Iterable[EchoRecord],
    aggregates: Iterable[AggregateRecord],
    windows: Iterable[WindowRecord],
) -> Report:
    """Check the outputs against ``inputs`` (everything sent, sentinels included)."""
    if guarantee not in ("at_least_once", "exactly_once_v2"):
        raise ValueError(f"unknown guarantee {guarantee!r}")
    report = Report(guarantee, records=sum(1 for v in inputs if v["g"] != SENTINEL))
    _check_echo(report, inputs, list(echo))
    _check_aggregates(report, inputs, list(aggregates))
    _check_windows(report, inputs, list(windows))
    return report


def _eos(report: Report) -> bool:
    return report.guarantee == "exactly_once_v2"


def _flag(report: Report, what: str, count: int, examples: list[Any], *, fail: bool) -> None:
    if count:
        text = f"{what}: {count}; e.g. {examples[:EXAMPLES]}"
        (report.violations if fail else report.notes).append(text)


# ---- echo -----------------------------------------------------------------------------------


def _check_echo(report: Report, inputs: list[Value], echo: list[EchoRecord]) -> None:
    sent = {(v["p"], v["s"]): v for v in inputs}
    report.echo_read = len(echo)
    seen: Counter[tuple[int, int]] = Counter()
    wrong: list[Any] = []
    by_partition: dict[int, list[int]] = defaultdict(list)
    for rec in echo:
        value = rec.value
        ident = (value.get("p"), value.get("s")) if isinstance(value, dict) else None
        if ident is None or sent.get(ident) != value or rec.partition != value["p"]:
            wrong.append((rec.partition, rec.offset, value))
            continue
        seen[ident] += 1
        by_partition[rec.partition].append(value["s"])
    report.echo_wrong = len(wrong)
    _flag(
        report,
        "echo records not sent as such (partition, offset, value)",
        len(wrong),
        wrong,
        fail=True,
    )

    missing = sorted(set(sent) - set(seen))
    report.echo_missing = len(missing)
    _flag(
        report,
        "input records missing from the echo (partition, seq)",
        len(missing),
        missing,
        fail=True,
    )

    dups = sorted((ident, n) for ident, n in seen.items() if n > 1)
    report.echo_duplicates = sum(n - 1 for _, n in dups)
    _flag(
        report,
        "duplicate echo records ((partition, seq), copies)",
        report.echo_duplicates,
        dups,
        fail=_eos(report),
    )

    if _eos(report):
        # Exactly once and in order: each partition's seqs read must be strictly increasing.
        inversions = [
            (p, prev, s)
            for p, seqs in sorted(by_partition.items())
            for prev, s in itertools.pairwise(seqs)
            if s <= prev
        ]
        report.echo_out_of_order = len(inversions)
        _flag(
            report,
            "echo records out of order (partition, seq before, seq after)",
            len(inversions),
            inversions,
            fail=True,
        )


# ---- aggregates -----------------------------------------------------------------------------


class _Prefixes:
    """Per group and source partition, the seqs of its records and running sum/min/max:
    the aggregate of any prefix in O(partitions * log n)."""

    def __init__(self, inputs: list[Value]) -> None:
        rows: dict[tuple[str, int], list[tuple[int, int]]] = defaultdict(list)
        for v in inputs:
            if v["g"] != SENTINEL:
                rows[(v["g"], v["p"])].append((v["s"], v["v"]))
        self.seqs: dict[tuple[str, int], list[int]] = {}
        self.stats: dict[tuple[str, int], list[tuple[int, int, int]]] = {}
        for ident, pairs in rows.items():
            pairs.sort()
            self.seqs[ident] = [s for s, _ in pairs]
            running: list[tuple[int, int, int]] = []
            total, low, high = 0, pairs[0][1], pairs[0][1]
            for _, value in pairs:
                total, low, high = total + value, min(low, value), max(high, value)
                running.append((total, low, high))
            self.stats[ident] = running
        self.groups = sorted({g for g, _ in rows})

    def last(self, group: str) -> dict[str, int]:
        """The ``upto`` an aggregate covering all of the group's input has."""
        return {str(p): seqs[-1] for (g, p), seqs in self.seqs.items() if g == group}

    def expected(self, group: str, upto: dict[str, int]) -> dict[str, Any] | str:
        """sum/min/max/count of the prefix, or why ``upto`` names no prefix of the group."""
        total, count, low, high = 0, 0, None, None
        for p_text, last in upto.items():
            ident = (group, int(p_text))
            seqs = self.seqs.get(ident)
            if not seqs:
                return f"partition {p_text} holds no record of {group}"
            index = bisect.bisect_right(seqs, last)
            if index == 0 or seqs[index - 1] != last:
                return f"seq {last} of partition {p_text} is not a record of {group}"
            s, lo, hi = self.stats[ident][index - 1]
            total, count = total + s, count + index
            low = lo if low is None else min(low, lo)
            high = hi if high is None else max(high, hi)
        return {"sum": total, "min": low, "max": high, "count": count}


def _check_aggregates(report: Report, inputs: list[Value], aggs: list[AggregateRecord]) -> None:
    prefixes = _Prefixes(inputs)
    wrong: list[Any] = []
    over: list[Any] = []
    latest: dict[str, Value] = {}
    for rec in aggs:
        if rec.key == SENTINEL:
            continue
        report.aggregate_updates += 1
        value = rec.value
        latest[rec.key] = value
        if not isinstance(value, dict) or not isinstance(value.get("upto"), dict):
            wrong.append((rec.key, value, "not an aggregate"))
            continue
        expected = prefixes.expected(rec.key, value["upto"])
        if isinstance(expected, str):
            wrong.append((rec.key, value, expected))
            continue
        got = {name: value.get(name) for name in ("sum", "min", "max", "count")}
        if got == expected:
            continue
        if _eos(report) or _lost(got, expected):
            wrong.append((rec.key, got, expected, value["upto"]))
        else:
            over.append((rec.key, got, expected, value["upto"]))
    report.aggregate_wrong = len(wrong)
    report.aggregate_overcounted = len(over)
    what = "different from" if _eos(report) else "below"
    _flag(
        report,
        f"aggregate updates {what} their input prefix (group, got, expected, upto)",
        len(wrong),
        wrong,
        fail=True,
    )
    _flag(
        report,
        "aggregate updates above their input prefix (replayed input)",
        len(over),
        over,
        fail=False,
    )

    incomplete = []
    for group in prefixes.groups:
        want = prefixes.last(group)
        last = latest.get(group)
        got_upto = last.get("upto") if isinstance(last, dict) else None
        if got_upto != want:
            incomplete.append((group, got_upto, want))
    report.aggregate_incomplete = len(incomplete)
    _flag(
        report,
        "groups whose last aggregate misses input (group, upto, all input)",
        len(incomplete),
        incomplete,
        fail=True,
    )


def _lost(got: dict[str, Any], expected: dict[str, Any]) -> bool:
    """At-least-once may fold a record in twice, never not at all: fewer records, a higher
    min or a lower max than the prefix means input was lost."""
    try:
        return bool(
            got["count"] < expected["count"]
            or got["min"] > expected["min"]
            or got["max"] < expected["max"]
        )
    except TypeError:
        return True


# ---- windows --------------------------------------------------------------------------------


def expected_windows(inputs: list[Value]) -> dict[tuple[str, int], int]:
    """(group, window start) -> number of records, sentinels excluded."""
    counts: Counter[tuple[str, int]] = Counter()
    for v in inputs:
        if v["g"] != SENTINEL:
            counts[(v["g"], v["ts"] // WINDOW_MS * WINDOW_MS)] += 1
    return dict(counts)


def _check_windows(report: Report, inputs: list[Value], windows: list[WindowRecord]) -> None:
    expected = expected_windows(inputs)
    report.windows_expected = len(expected)
    results: dict[tuple[str, int], list[Any]] = defaultdict(list)
    unknown: list[Any] = []
    for rec in windows:
        if rec.key == SENTINEL:
            continue
        report.window_results += 1
        ident = (rec.key, rec.start)
        if ident not in expected or rec.end != rec.start + WINDOW_MS:
            unknown.append((rec.key, rec.start, rec.end, rec.count))
            continue
        results[ident].append(rec.count)
    report.windows_unknown = len(unknown)
    _flag(
        report,
        "window results for windows that hold no input (group, start, end, count)",
        len(unknown),
        unknown,
        fail=True,
    )

    missing = sorted(set(expected) - set(results))
    report.windows_missing = len(missing)
    _flag(report, "windows without a final result (group, start)", len(missing), missing, fail=True)

    duplicated = sorted((ident, counts) for ident, counts in results.items() if len(counts) > 1)
    report.windows_duplicated = sum(len(counts) - 1 for _, counts in duplicated)
    _flag(
        report,
        "windows with more than one final result ((group, start), counts)",
        report.windows_duplicated,
        duplicated,
        fail=_eos(report),
    )

    wrong, over, partial = [], [], []
    for ident, counts in sorted(results.items()):
        want = expected[ident]
        if _eos(report):
            wrong += [(ident, count, want) for count in counts if count != want]
            continue
        # At-least-once: a window is whole if one of its results holds all its input. A
        # crash may replay records of a window that already closed and left the store
        # (retention is size + grace): they open it afresh and close it again with a
        # "final" holding only the replayed records. That is a duplicate, not a loss.
        numbers = [c for c in counts if isinstance(c, int)]
        if len(numbers) != len(counts) or not numbers or max(numbers) < want:
            wrong.append((ident, counts, want))
            continue
        over += [(ident, c, want) for c in numbers if c > want]
        partial += [(ident, c, want) for c in numbers if c < want]
    report.windows_wrong = len(wrong)
    report.windows_overcounted = len(over)
    report.windows_partial = len(partial)
    what = "wrong" if _eos(report) else "below their input in every result (lost records)"
    _flag(
        report,
        f"window results {what} ((group, start), got, expected)",
        len(wrong),
        wrong,
        fail=True,
    )
    _flag(
        report, "window results above their input (replayed records)", len(over), over, fail=False
    )
    _flag(
        report,
        "extra window results holding only part of the input, besides a whole one "
        "(replayed records re-opened an expired window)",
        len(partial),
        partial,
        fail=False,
    )
