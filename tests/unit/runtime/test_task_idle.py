"""StreamThread's max_task_idle_ms rule (KIP-695): a multi-input task may choose without an
empty partition only when the broker holds no unfetched records for it, or after waiting."""

from __future__ import annotations

from typing import Any

import pytest

from kstreamlite import StreamsConfig
from kstreamlite.metrics import StreamsMetrics
from kstreamlite.runtime import stream_thread
from kstreamlite.runtime.stream_thread import StreamThread

TP = ("table", 0)


class CachedWatermarks:
    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def get_watermark_offsets(self, tp: Any, cached: bool = False) -> tuple[int, int]:
        assert cached, "must not ask the broker on the processing path"
        return self.low, self.high


class FakeTask:
    id = "0_0"

    def __init__(self, offsets: dict[tuple[str, int], int]) -> None:
        self.offsets = offsets


def thread(idle_ms: int, consumer: CachedWatermarks) -> StreamThread:
    config = StreamsConfig(application_id="idle", max_task_idle_ms=idle_ms)
    t = StreamThread(None, config, StreamsMetrics("idle"), lambda state: None)  # type: ignore[arg-type]
    t._consumer = consumer  # type: ignore[assignment]
    return t


def test_caught_up_partition_may_be_skipped_at_once_by_default():
    t = thread(0, CachedWatermarks(0, 10))
    assert t._may_skip(FakeTask({TP: 10}), TP) is True  # type: ignore[arg-type]


def test_unfetched_records_are_waited_for():
    t = thread(0, CachedWatermarks(0, 10))
    assert t._may_skip(FakeTask({TP: 4}), TP) is False  # type: ignore[arg-type]


def test_position_before_any_record_comes_from_the_committed_offset_or_the_log_start():
    t = thread(0, CachedWatermarks(3, 10))
    task = FakeTask({})
    assert t._unfetched(task, TP) == 7  # type: ignore[arg-type]  # nothing committed: low
    t._start_offsets[TP] = 10
    assert t._unfetched(task, TP) == 0  # type: ignore[arg-type]


def test_unknown_high_watermark_is_waited_for():
    t = thread(0, CachedWatermarks(-1001, -1001))
    assert t._may_skip(FakeTask({}), TP) is False  # type: ignore[arg-type]


def test_minus_one_never_waits():
    t = thread(-1, CachedWatermarks(0, 10))
    assert t._may_skip(FakeTask({}), TP) is True  # type: ignore[arg-type]


def test_waiting_is_bounded(monkeypatch: pytest.MonkeyPatch):
    t = thread(0, CachedWatermarks(0, 10))
    task = FakeTask({})
    now = [1000.0]
    monkeypatch.setattr(stream_thread.time, "monotonic", lambda: now[0])
    t._waiting[task] = now[0]  # type: ignore[index]
    assert t._may_skip(task, TP) is False  # type: ignore[arg-type]
    now[0] += stream_thread.UNFETCHED_WAIT_CAP_S
    assert t._may_skip(task, TP) is True  # type: ignore[arg-type]


def test_positive_idle_time_also_waits_on_a_caught_up_partition(monkeypatch: pytest.MonkeyPatch):
    t = thread(200, CachedWatermarks(0, 10))
    task = FakeTask({TP: 10})
    now = [50.0]
    monkeypatch.setattr(stream_thread.time, "monotonic", lambda: now[0])
    t._waiting[task] = now[0]  # type: ignore[index]
    assert t._may_skip(task, TP) is False  # type: ignore[arg-type]
    now[0] += 0.2
    assert t._may_skip(task, TP) is True  # type: ignore[arg-type]


def test_max_task_idle_ms_below_minus_one_is_rejected():
    with pytest.raises(ValueError, match="max_task_idle_ms"):
        StreamsConfig(application_id="idle", max_task_idle_ms=-2)
