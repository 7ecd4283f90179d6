"""BoundedRun: where a bounded run stops reading each partition, when a task is complete,
what it commits, and the end marks repartition partitions carry."""

from __future__ import annotations

import orjson

from kstreamlite.runtime.bounded import BoundedRun, BoundedRunSummary, recorded_end
from kstreamlite.timing.clock import HEADER, TaskClock
from kstreamlite.timing.watermarks import WatermarkStrategy

from .test_task_ordering import make_task, message

A, B = ("a", 0), ("b", 0)


def offsets_of(table: dict[tuple[str, int], tuple[int, int]]):
    return lambda topic, partition: table[(topic, partition)]


def test_end_is_the_end_offset_at_assignment_and_reading_starts_at_the_committed_offset():
    run = BoundedRun(flush_windows=True)
    run.add_partition(A, 7, None, offsets_of({A: (2, 40)}))
    run.add_partition(B, -1001, None, offsets_of({B: (2, 40)}))  # nothing committed
    assert run.ends == {A: 40, B: 40}
    assert run.starts == {A: 7, B: 2}


def test_an_unfinished_runs_recorded_end_wins_over_the_current_end():
    run = BoundedRun(flush_windows=True)
    run.add_partition(A, 7, orjson.dumps({"t": 5, "e": 25}).decode(), offsets_of({A: (0, 40)}))
    assert run.ends[A] == 25
    assert recorded_end("not json") is None and recorded_end('{"t": 1}') is None


def test_trim_cuts_a_fetched_run_at_the_end():
    run = BoundedRun(flush_windows=True)
    run.add_partition(A, 0, None, offsets_of({A: (0, 3)}))
    before = [message("a", i, 10, i) for i in range(2)]
    assert run.trim(A, before) is before and A not in run.at_end
    across = [message("a", i, 10, i) for i in range(2, 5)]
    assert [m.offset() for m in run.trim(A, across)] == [2]
    assert A in run.at_end


def test_a_task_is_complete_once_every_source_partition_reached_its_end():
    task, _ = make_task(["a", "b"])
    run = BoundedRun(flush_windows=True)
    run.add_partition(A, 0, None, offsets_of({A: (0, 2)}))
    run.add_partition(B, 0, None, offsets_of({B: (0, 0)}))  # empty: at its end already
    assert not run.is_complete(task)
    task.process({A: [message("a", 0, 10, "x"), message("a", 1, 11, "y")]})
    assert run.is_complete(task)


def test_a_gap_before_the_end_is_crossed_by_the_consumers_end_of_partition_event():
    task, _ = make_task(["a"])
    run = BoundedRun(flush_windows=True)
    run.add_partition(A, 0, None, offsets_of({A: (0, 5)}))
    task.process({A: [message("a", 0, 10, "x")]})  # offsets 1-4: compacted away, or markers
    assert not run.reached_end(task, A)
    run.eof[A] = 5
    assert run.reached_end(task, A)


def test_finish_commits_the_end_and_clears_it_from_the_metadata():
    task, _ = make_task(["a"])
    run = BoundedRun(flush_windows=False)
    run.add_partition(A, 3, None, offsets_of({A: (0, 3)}))  # nothing new to read
    assert run.end_offset_to_commit(task, A) == 3  # unfinished: a new owner stops there too
    assert orjson.loads(task.clock_state.metadata(A, 3))["e"] == 3
    run.finish(task)
    assert task.offsets[A] == 3  # committed although no record was read
    assert run.end_offset_to_commit(task, A) is None


def test_repartition_partition_ends_once_every_upstream_task_announced_its_end():
    clock = TaskClock()
    clock.add(("rep", 0), WatermarkStrategy.monotonous(), internal=True, now=0)
    part = clock.partitions[("rep", 0)]
    clock.control(("rep", 0), [(HEADER, b"0_0/2/100")])
    clock.control(("rep", 0), [(HEADER, b"0_1/2/120/end")])
    assert not part.ended()
    clock.control(("rep", 0), [(HEADER, b"0_0/2/130/end")])
    assert part.ended()
    assert part.upstream == {"0_0": 130, "0_1": 120}  # the marks still carry watermarks
    assert "end" not in clock.metadata(("rep", 0))  # not committed: repeated while running


def test_end_announcement_format():
    clock = TaskClock()
    clock.add(("in", 2), WatermarkStrategy.monotonous(), internal=False, now=0)
    assert clock.announcement("1_2", 4, 0, end=True) == b"1_2/4/-1/end"
    assert clock.announcement("1_2", 4, 0) == b"1_2/4/-1"


def test_summary_counts_and_prints():
    summary = BoundedRunSummary(read={"in": 1000, "rep": 1000}, written={"out": 7}, elapsed_s=2)
    assert summary.records_read == 2000 and summary.records_per_second == 1000
    text = str(summary)
    assert "2,000 records read" in text and "written out: 7" in text
    assert BoundedRunSummary().records_per_second == 0.0


def test_a_foreign_key_join_is_refused_for_a_bounded_run_with_the_reason():
    import pytest

    from kstreamlite import KafkaStreams, StreamsBuilder
    from kstreamlite.errors import TopologyError
    from kstreamlite.runtime.bounded import check_acyclic

    builder = StreamsBuilder()
    orders, customers = builder.table("orders"), builder.table("customers")
    orders.join(
        customers, lambda o, c: [o, c], foreign_key_extractor=lambda o: o["c"]
    ).to_stream().to("out")
    topology = builder.build()
    with pytest.raises(TopologyError, match="foreign-key join"):
        check_acyclic(topology)
    app = KafkaStreams(topology, {"application_id": "fk", "bootstrap_servers": "127.0.0.1:1"})
    with pytest.raises(TopologyError, match="streaming application instead"):
        app.run(bounded=True)

    plain = StreamsBuilder()
    plain.stream("in").group_by(lambda k, v: v).count().to_stream().to("out")
    check_acyclic(plain.build())  # a repartition chain has an end
