"""The crash test's workload: the generated input, and the topology the instances run.

Every input value says where it came from, ``{"p": partition, "s": seq, "g": group, "v":
value, "ts": event time}``, ``seq`` counting the records of partition ``p`` from 0, so the
verifier can tell exactly what each output claims to hold: the processors never need
their input offsets. The topology has three outputs:

- echo: every input record unchanged, to the same partition number of the echo topic;
- aggregates: per group ``g`` (after ``group_by``, so through a repartition topic) the
  sum, min, max and count of ``v``, plus ``upto``: per source partition the highest seq
  folded in. Records of one source partition reach the repartition topic in order, so
  ``upto`` names the input prefix the aggregate must equal;
- windows: per group, a count per tumbling event-time window, suppressed until the window
  closes, so exactly one final result per window.

The generator sends records in global order with event times ``BASE + i * STEP_MS`` plus
a jitter below ``DISORDER_MS``; the watermark lags ``WATERMARK_DELAY_MS >= DISORDER_MS``
behind the newest record, so no record is ever late. At the end every partition gets a
sentinel (group ``SENTINEL``) far in the future, which closes every real window; the
verifier ignores the sentinel's own aggregate and window.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from kstreamlite import StreamsBuilder, Topology, serdes
from kstreamlite.timing import WatermarkStrategy
from kstreamlite.windows import Suppressed, TimeWindows

PARTITIONS = 4
BASE = 1_700_000_000_000  # a multiple of WINDOW_MS
STEP_MS = 2  # event time between consecutive records (global order)
DISORDER_MS = 150  # jitter of event time; records of a partition are out of order by less
WATERMARK_DELAY_MS = 200
WINDOW_MS = 1_000
GRACE_MS = 100
FAR_MS = 3_600_000  # the sentinels' event time is this far after the last record
SENTINEL = "__end__"
GROUPS = 16
WINDOWED_STRING = serdes.windowed(serdes.STRING)

Value = dict[str, Any]


@dataclass(frozen=True)
class Topics:
    """The topics of one crash run."""

    source: str
    echo: str
    aggregates: str
    windows: str

    @classmethod
    def for_run(cls, run_id: str) -> Topics:
        return cls(
            f"crash-{run_id}-in",
            f"crash-{run_id}-echo",
            f"crash-{run_id}-aggs",
            f"crash-{run_id}-windows",
        )

    def outputs(self) -> list[str]:
        return [self.echo, self.aggregates, self.windows]


def generate(records: int, seed: int, partitions: int = PARTITIONS) -> list[Value]:
    """The input in sending order (sentinels excluded): partitions and groups random, values
    between -1000 and 1000 (negative ones keep ``min`` honest)."""
    rng = random.Random(seed)
    seqs = [0] * partitions
    out = []
    for i in range(records):
        p = rng.randrange(partitions)
        out.append(
            {
                "p": p,
                "s": seqs[p],
                "g": f"g{rng.randrange(GROUPS):02d}",
                "v": rng.randint(-1_000, 1_000),
                "ts": BASE + i * STEP_MS + rng.randrange(DISORDER_MS),
            }
        )
        seqs[p] += 1
    return out


def sentinels(inputs: list[Value], partitions: int = PARTITIONS) -> list[Value]:
    """One far-future record per partition, with the next seq: closes every real window."""
    counts = [0] * partitions
    for value in inputs:
        counts[value["p"]] += 1
    last_ts = max((v["ts"] for v in inputs if v["g"] != SENTINEL), default=BASE)
    return [
        {"p": p, "s": counts[p], "g": SENTINEL, "v": 0, "ts": last_ts + FAR_MS}
        for p in range(partitions)
    ]


def key_of(value: Value) -> str:
    """The input key: unique per record and unrelated to the group, so group_by repartitions."""
    return f"r{value['p']}-{value['s']}"


# ---- the topology ------------------------------------------------------------------------


def _event_time(key: Any, value: Value, record_timestamp: int) -> int:
    return int(value["ts"])


def _same_partition(topic: str, key: Any, value: Value, partitions: int) -> int:
    """Echo to the input's partition number, so order per partition can be checked."""
    return int(value["p"]) % partitions


def _group(key: Any, value: Value) -> str:
    return str(value["g"])


def _empty() -> Value:
    return {"sum": 0, "min": None, "max": None, "count": 0, "upto": {}}


def _fold(group: str, value: Value, agg: Value) -> Value:
    """Add one record; ``upto`` keeps the highest seq per source partition (under
    at-least-once a replayed record must not make the aggregate claim a shorter prefix)."""
    upto = dict(agg["upto"])
    p = str(value["p"])
    upto[p] = max(upto.get(p, -1), value["s"])
    v = value["v"]
    return {
        "sum": agg["sum"] + v,
        "min": v if agg["min"] is None else min(agg["min"], v),
        "max": v if agg["max"] is None else max(agg["max"], v),
        "count": agg["count"] + 1,
        "upto": upto,
    }


def build_topology(topics: Topics) -> Topology:
    """Echo, per-group aggregates behind a repartition, and suppressed window counts."""
    builder = StreamsBuilder()
    stream = builder.stream(
        topics.source,
        timestamp_extractor=_event_time,
        watermark=WatermarkStrategy.bounded_out_of_orderness(WATERMARK_DELAY_MS),
        name="crash-source",
    )
    stream.to(topics.echo, partitioner=_same_partition)
    # Two group_by's, two repartition topics: a grouped stream used for two aggregations
    # would register its repartition topic twice (TopologyError, as in Kafka Streams
    # without topology optimization).
    (
        stream.group_by(_group, name="by-group")
        .aggregate(_empty, _fold, materialized="group-stats")
        .to_stream()
        .to(topics.aggregates)
    )
    (
        stream.group_by(_group, name="by-group-windowed")
        .windowed_by(TimeWindows.of(WINDOW_MS, grace=GRACE_MS))
        .count(materialized="window-counts")
        .suppress(Suppressed.until_window_closes(name="final-windows"))
        .to_stream()
        .to(topics.windows, key_serde=WINDOWED_STRING, value_serde=serdes.JSON)
    )
    return builder.build()
