"""The crash-test verifier (issue 6, item 3): run the workload of workload.py in 2-3
instances, each its own process, kill them at random while input flows, drain, and check
the outputs with a read_committed consumer (verify.py). One command:

    python -m tests.system.crash --records 100000 --kills 10 --instances 3 \
        --guarantee exactly_once_v2 [--bootstrap-servers host:port]

Without ``--bootstrap-servers`` it starts a LocalBroker. ``--mode graceful`` replaces the
SIGKILLs by SIGTERM-and-replace restarts plus a scale-up and a scale-down (N -> N+1 -> N),
which needs no transaction to be aborted. Exit status: 0 verified, 1 a violation, 2 the
harness could not run (no broker, exactly-once not available, ...).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
from confluent_kafka import Consumer, IsolationLevel, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from ..integration.kafka_helpers import KafkaHelper
from . import workload
from .crash_instance import application_id, make_config
from .probes import hides_aborted_records, keeps_commit_metadata
from .verify import AggregateRecord, EchoRecord, Report, WindowRecord, verify
from .workload import SENTINEL, WINDOWED_STRING, Topics, Value

ROOT = Path(__file__).resolve().parents[2]  # the repository: instances run with it as cwd
STOP_TIMEOUT = 30.0  # seconds an instance gets to close on SIGTERM
FIRST_OUTPUT_TIMEOUT = 60.0
MAX_UNEXPECTED_EXITS = 5
RESEND_EVERY = 2.0  # seconds between re-sent sentinels on a broker without commit metadata

ABORTED_VISIBLE_WARNING = (
    "the broker does not hide aborted transactional records from read_committed consumers "
    "(probe: tests/system/probes.py hides_aborted_records); a SIGKILLed instance's aborted "
    "output stays visible, so exactly-once with kills cannot hold on it (Tansu 0.6.0 also "
    "never times out a killed producer's open transaction). Running anyway; expect "
    "violations that are the broker's, not the library's."
)


METADATA_DROPPED_NOTE = (
    "the broker drops offset-commit metadata (probe: keeps_commit_metadata), where "
    "kstreamlite keeps each input partition's watermark: an upstream task restarted after "
    "its input ended never announces a watermark again and windows downstream of it never "
    "close. The harness re-sent a sentinel per partition every {every:.0f} s while draining "
    "({count} extra input records) so the run can finish; on Apache Kafka it sends none."
)


class HarnessError(Exception):
    """The run could not be carried out (as opposed to a verified violation)."""


@dataclass
class CrashOptions:
    """One crash run. ``kills``: SIGKILLs (mode "kill") or SIGTERM-and-replace restarts
    (mode "graceful", which also scales instances -> instances + 1 -> instances)."""

    bootstrap_servers: str
    records: int = 10_000
    kills: int = 5
    instances: int = 3
    guarantee: str = "at_least_once"
    mode: str = "kill"
    seed: int = 1
    produce_seconds: float | None = None  # default: 3 s per kill (7 s per graceful event)
    drain_timeout: float = 120.0
    commit_interval_ms: int = 200
    work_dir: Path | None = None
    log: Callable[[str], None] = field(default=print)


@dataclass
class CrashResult:
    report: Report
    reader: OutputReader  # what was read, for a post-mortem
    kills: int
    restarts: int
    elapsed: float
    work_dir: Path

    @property
    def ok(self) -> bool:
        return self.report.ok

    def summary(self) -> str:
        return (
            f"kills: {self.kills}  restarts: {self.restarts}  elapsed: {self.elapsed:.1f} s  "
            f"logs: {self.work_dir}\n{self.report.summary()}"
        )


# ---- instances ------------------------------------------------------------------------------


class Slot:
    """One instance position: its own state directory, reused by every replacement, so
    the same state (and, under exactly-once, the same identity) comes back."""

    def __init__(self, index: int, work_dir: Path, run_id: str, options: CrashOptions) -> None:
        self.index = index
        self.state_dir = work_dir / f"state-{index}"
        self.log_dir = work_dir
        self.run_id = run_id
        self.options = options
        self.generation = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._stopping = False

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"instance-{self.index}-{self.generation}.log"

    def start(self) -> None:
        self.generation += 1
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in _reap
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.system.crash_instance",
                "--bootstrap-servers",
                self.options.bootstrap_servers,
                "--run-id",
                self.run_id,
                "--state-dir",
                str(self.state_dir),
                "--guarantee",
                self.options.guarantee,
                "--commit-interval-ms",
                str(self.options.commit_interval_ms),
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: nothing of close() runs (no commit, no flush, no leaving the group)."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
            self._reap()

    def signal_stop(self) -> None:
        """SIGTERM once: a second one, arriving after run() restored the default handlers,
        would kill the process while it exits."""
        if self.process is not None and not self._stopping and self.process.poll() is None:
            self._stopping = True
            self.process.send_signal(signal.SIGTERM)

    def terminate(self, timeout: float = STOP_TIMEOUT) -> str | None:
        """SIGTERM and wait: run() closes cleanly. A message if that did not work."""
        if self.process is None:
            return None
        self.signal_stop()
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            self._reap()
            return f"instance {self.name} did not stop within {timeout:.0f} s of SIGTERM"
        self._reap()
        if code != 0:
            return f"instance {self.name} exited with {code} on SIGTERM; {self.tail()}"
        return None

    def _reap(self) -> None:
        self.process = None
        self._stopping = False
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def name(self) -> str:
        return f"{self.index}.{self.generation}"

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text("utf-8", "replace").splitlines()
        except OSError:
            return "(no log)"
        return f"log {self.log_path} ends:\n    " + "\n    ".join(text[-lines:])


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the harness dies (Linux), so an aborted
    run leaves no instance behind."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


# ---- input ----------------------------------------------------------------------------------


class Generator(threading.Thread):
    """Sends the input to explicit partitions, paced over ``seconds``, then one sentinel per
    partition, each alone and flushed so every partition's end offset is exact (Tansu's
    high watermark is the last batch's base offset + 1, BROKER-NOTES.md 2)."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        inputs: list[Value],
        finals: list[Value],
        warmup: int,
        seconds: float,
    ) -> None:
        super().__init__(name="crash-generator", daemon=True)
        self.producer = Producer(
            {"bootstrap.servers": bootstrap, "linger.ms": 5, "enable.idempotence": True}
        )
        self.topic, self.inputs, self.finals = topic, inputs, finals
        self.warmup, self.seconds = warmup, seconds
        self.sent = 0
        self.error: str | None = None
        self.warmed_up = threading.Event()
        self.go = threading.Event()  # set by the harness once the instances produce output
        self.done = threading.Event()

    def _send(self, value: Value) -> None:
        while True:
            try:
                self.producer.produce(
                    self.topic,
                    orjson.dumps(value),
                    workload.key_of(value).encode(),
                    partition=value["p"],
                    timestamp=value["ts"],
                    on_delivery=self._delivered,
                )
                break
            except BufferError:
                self.producer.poll(0.05)
        self.sent += 1

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is not None and self.error is None:
            self.error = f"produce failed: {err}"

    def send_alone(self, values: list[Value]) -> None:
        """After the run: each value in a batch of its own (exact end offsets)."""
        for value in values:
            self._send(value)
            self.producer.flush(30)

    def run(self) -> None:
        try:
            for value in self.inputs[: self.warmup]:
                self._send(value)
            self.producer.flush(30)
            self.warmed_up.set()
            self.go.wait()
            rest = self.inputs[self.warmup :]
            start = time.monotonic()
            for i, value in enumerate(rest):
                self._send(value)
                if i % 200 == 0:
                    self.producer.poll(0)
                    lag = start + self.seconds * (i + 1) / len(rest) - time.monotonic()
                    if lag > 0:
                        time.sleep(lag)
            if self.producer.flush(60) != 0:
                self.error = self.error or "the producer could not flush the input within 60 s"
            for value in self.finals:
                self._send(value)
                if self.producer.flush(30) != 0:
                    self.error = self.error or "the producer could not flush a sentinel"
        except Exception as exc:  # reported by the harness
            self.error = f"generator failed: {exc!r}"
        finally:
            self.warmed_up.set()
            self.done.set()


# ---- output ---------------------------------------------------------------------------------


class OutputReader:
    """A read_committed consumer over every output partition from offset 0, keeping what
    it read in order, and tracking whether each output is complete yet."""

    def __init__(self, bootstrap: str, topics: Topics, inputs: list[Value]) -> None:
        self.topics = topics
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"crash-verifier-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "fetch.queue.backoff.ms": 10,
                "enable.partition.eof": False,
            }
        )
        self.partitions = [
            TopicPartition(topic, p, 0)
            for topic in topics.outputs()
            for p in range(workload.PARTITIONS)
        ]
        self.consumer.assign(self.partitions)
        self.echo: list[EchoRecord] = []
        self.aggregates: list[AggregateRecord] = []
        self.windows: list[WindowRecord] = []
        self.last_read = time.monotonic()
        # what "complete" means
        self._echo_want = {(v["p"], v["s"]) for v in inputs}
        self._echo_seen: set[tuple[int, int]] = set()
        self._upto_want: dict[str, dict[str, int]] = {}
        for v in inputs:
            if v["g"] != SENTINEL:
                self._upto_want.setdefault(v["g"], {})[str(v["p"])] = v["s"]
        self._upto_latest: dict[str, Any] = {}
        from .verify import expected_windows

        self._windows_want = set(expected_windows(inputs))
        self._windows_seen: set[tuple[str, int]] = set()

    def expect(self, values: list[Value]) -> None:
        """More input was sent (extra sentinels): the echo must hold it too."""
        self._echo_want |= {(v["p"], v["s"]) for v in values}

    def poll(self, seconds: float = 0.2) -> int:
        """Read what is there (waiting at most ``seconds``); the number of records read."""
        n = 0
        for msg in self.consumer.consume(5_000, seconds):
            error = msg.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                raise HarnessError(f"verifier consumer error: {error}")
            n += 1
            self._add(msg)
        if n:
            self.last_read = time.monotonic()
        return n

    def _add(self, msg: Any) -> None:
        topic = msg.topic()
        value = _json(msg.value())
        if topic == self.topics.echo:
            self.echo.append(EchoRecord(msg.partition(), msg.offset(), value))
            if isinstance(value, dict):
                self._echo_seen.add((value.get("p"), value.get("s")))  # type: ignore[arg-type]
        elif topic == self.topics.aggregates:
            key = (msg.key() or b"").decode("utf-8", "replace")
            self.aggregates.append(AggregateRecord(key, value))
            if isinstance(value, dict):
                self._upto_latest[key] = value.get("upto")
        else:
            try:
                windowed = WINDOWED_STRING.deserialize(msg.key())
                rec = WindowRecord(windowed.key, windowed.window.start, windowed.window.end, value)
            except Exception:
                rec = WindowRecord(repr(msg.key()), -1, -1, value)
            self.windows.append(rec)
            self._windows_seen.add((rec.key, rec.start))

    def incomplete(self) -> list[str]:
        """What is still missing, in words (empty when every output is complete)."""
        out = []
        if missing := len(self._echo_want - self._echo_seen):
            out.append(f"{missing} echo records")
        if behind := sum(1 for g, u in self._upto_want.items() if self._upto_latest.get(g) != u):
            out.append(f"{behind} groups' aggregates")
        if open_windows := len(self._windows_want - self._windows_seen):
            out.append(f"{open_windows} windows' final results")
        return out

    def positions(self) -> dict[tuple[str, int], int]:
        return {
            (tp.topic, tp.partition): tp.offset for tp in self.consumer.position(self.partitions)
        }

    def close(self) -> None:
        self.consumer.close()


def _json(data: bytes | None) -> Any:
    if data is None:
        return None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return repr(data)


# ---- broker helpers -------------------------------------------------------------------------


def _end_offsets(
    admin: AdminClient, topics: list[str], isolation: IsolationLevel
) -> dict[tuple[str, int], int]:
    metadata = admin.list_topics(timeout=10).topics
    request = {
        TopicPartition(t, p): OffsetSpec.latest() for t in topics for p in metadata[t].partitions
    }
    if not request:
        return {}
    futures = admin.list_offsets(request, isolation_level=isolation, request_timeout=15)
    return {(tp.topic, tp.partition): f.result().offset for tp, f in futures.items()}


def _committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False}
    )
    try:
        wanted = [TopicPartition(topic, p) for p in range(workload.PARTITIONS)]
        return {tp.partition: tp.offset for tp in consumer.committed(wanted, timeout=10)}
    finally:
        consumer.close()


# ---- the run --------------------------------------------------------------------------------


def _events(options: CrashOptions) -> list[str]:
    if options.mode == "kill":
        return ["kill"] * options.kills
    if options.mode == "graceful":
        restarts = ["restart"] * options.kills
        half = len(restarts) // 2
        return ["scale-up", *restarts[:half], "scale-down", *restarts[half:]]
    raise HarnessError(f"unknown mode {options.mode!r}; use kill or graceful")


def precheck(options: CrashOptions) -> None:
    """Fail fast, in this process, on what every instance would fail on (say, a guarantee
    this kstreamlite refuses)."""
    from kstreamlite import KafkaStreams
    from kstreamlite.errors import KStreamliteError

    config = make_config(
        "precheck",
        options.bootstrap_servers,
        tempfile.gettempdir(),
        options.guarantee,
        options.commit_interval_ms,
    )
    try:
        KafkaStreams(workload.build_topology(Topics.for_run("precheck")), config)
    except KStreamliteError as exc:
        raise HarnessError(f"the application cannot run: {exc}") from exc


def run_crash(options: CrashOptions) -> CrashResult:
    """Run one crash test end to end and verify it; raises HarnessError when it cannot run."""
    log = options.log
    began = time.monotonic()
    precheck(options)
    eos_kills = options.guarantee == "exactly_once_v2" and options.mode == "kill" and options.kills
    if eos_kills and not hides_aborted_records(options.bootstrap_servers):
        log("WARNING: " + ABORTED_VISIBLE_WARNING)
    work_dir = options.work_dir or Path(tempfile.mkdtemp(prefix="kstreamlite-crash-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    run_id = uuid.uuid4().hex[:8]
    topics = Topics.for_run(run_id)
    admin = AdminClient({"bootstrap.servers": options.bootstrap_servers})
    try:
        KafkaHelper(options.bootstrap_servers).create_topics(
            [topics.source, *topics.outputs()], workload.PARTITIONS
        )
    except AssertionError as exc:
        raise HarnessError(str(exc)) from None

    inputs = workload.generate(options.records, options.seed)
    finals = workload.sentinels(inputs)
    everything = inputs + finals
    events = _events(options)
    # Graceful events are spaced wider: on Tansu a join and a leave within one ~3 s
    # rebalance stalled the group for over 45 s (found by this test; see the report).
    spacing = 3.0 if options.mode == "kill" else 7.0
    seconds = options.produce_seconds or max(6.0, spacing * (len(events) + 1))
    rng = random.Random(options.seed)
    violations: list[str] = []
    notes: list[str] = []
    kills = restarts = unexpected = 0
    slots = [Slot(i, work_dir, run_id, options) for i in range(options.instances)]
    reader = OutputReader(options.bootstrap_servers, topics, everything)
    generator = Generator(
        options.bootstrap_servers,
        topics.source,
        inputs,
        finals,
        warmup=min(len(inputs), max(1, len(inputs) // 20)),
        seconds=seconds,
    )
    log(
        f"run {run_id}: {options.records} records, {options.instances} instances, "
        f"{options.guarantee}, mode {options.mode}, events {events}, work dir {work_dir}"
    )

    def check_instances() -> None:
        """An instance that exited without being told to is a failure; replace it."""
        nonlocal unexpected
        for slot in slots:
            if slot.process is not None and slot.process.poll() is not None:
                code = slot.process.returncode
                violations.append(
                    f"instance {slot.name} exited by itself with {code}; {slot.tail()}"
                )
                slot._reap()
                unexpected += 1
                if unexpected > MAX_UNEXPECTED_EXITS:
                    raise HarnessError(
                        "instances keep exiting by themselves:\n" + "\n".join(violations[-3:])
                    )
                slot.start()

    def pump(until: float) -> None:
        while time.monotonic() < until:
            reader.poll(0.1)
            check_instances()

    try:
        for slot in slots:
            slot.start()
        generator.start()
        # The input's first part, then nothing until output shows the group is working, so
        # the disruptions fall while input flows.
        generator.warmed_up.wait(60)
        first_deadline = time.monotonic() + FIRST_OUTPUT_TIMEOUT
        while not reader.echo:
            if time.monotonic() > first_deadline:
                raise HarnessError(
                    f"no output within {FIRST_OUTPUT_TIMEOUT:.0f} s of starting; " + slots[0].tail()
                )
            pump(time.monotonic() + 0.2)
        log(f"first output after {time.monotonic() - began:.1f} s; disrupting")
        generator.go.set()

        phase_start = time.monotonic()
        for n, event in enumerate(events, start=1):
            pump(phase_start + seconds * n / (len(events) + 1))
            live = [s for s in slots if s.alive()]
            if event == "scale-up":
                slot = Slot(len(slots), work_dir, run_id, options)
                slots.append(slot)
                slot.start()
                log(f"  scale up: started instance {slot.name} ({len(live) + 1} running)")
                continue
            victim = rng.choice(live)
            if event == "kill":
                victim.kill()
                kills += 1
                victim.start()
                log(
                    f"  SIGKILL instance {victim.index}, replaced by {victim.name} "
                    f"(sent {generator.sent})"
                )
            else:
                problem = victim.terminate()
                if problem:
                    violations.append(problem)
                if event == "restart":
                    restarts += 1
                    victim.start()
                    log(
                        f"  SIGTERM instance {victim.index}, replaced by {victim.name} "
                        f"(sent {generator.sent})"
                    )
                else:
                    slots.remove(victim)
                    log(f"  scale down: stopped instance {victim.name} ({len(live) - 1} running)")

        while not generator.done.is_set():
            pump(time.monotonic() + 0.2)
        if generator.error:
            raise HarnessError(generator.error)
        log(f"input sent after {time.monotonic() - began:.1f} s; draining")

        counts = [0] * workload.PARTITIONS
        for value in everything:
            counts[value["p"]] += 1
        input_ends = _end_offsets(admin, [topics.source], IsolationLevel.READ_UNCOMMITTED)
        if any(input_ends[(topics.source, p)] != counts[p] for p in range(workload.PARTITIONS)):
            notes.append(f"input end offsets {input_ends} differ from records sent {counts}")

        resend = not keeps_commit_metadata(options.bootstrap_servers)
        resent_at = time.monotonic()
        extra = 0
        drain_deadline = time.monotonic() + options.drain_timeout
        waiting: list[str] = []
        while time.monotonic() < drain_deadline:
            pump(time.monotonic() + 0.5)
            if resend and time.monotonic() - resent_at >= RESEND_EVERY:
                more = workload.sentinels(everything)
                everything += more
                counts = [c + 1 for c in counts]
                reader.expect(more)
                generator.send_alone(more)
                resent_at = time.monotonic()
                extra += len(more)
            committed = _committed(options.bootstrap_servers, application_id(run_id), topics.source)
            lagging = sum(
                max(counts[p] - committed.get(p, -1), 0) for p in range(workload.PARTITIONS)
            )
            waiting = reader.incomplete()
            if lagging:
                waiting.append(f"{lagging} input offsets uncommitted")
            if not waiting:
                break
        if resend:
            notes.append(METADATA_DROPPED_NOTE.format(every=RESEND_EVERY, count=extra))
        if waiting:
            violations.append(
                f"the outputs did not become complete within {options.drain_timeout:.0f} s of "
                f"the input's end; still waiting for: {', '.join(waiting)}"
            )
        else:
            pump(time.monotonic() + 1.5)  # extras that trail (duplicates)
        log(f"drained after {time.monotonic() - began:.1f} s; stopping instances")
    finally:
        generator.go.set()
        stop_problems = _stop_all(slots)
    violations += stop_problems

    # Every transaction must be closed now: the LSO of every topic of the run reaches its end.
    run_topics = [
        t
        for t in admin.list_topics(timeout=10).topics
        if t.startswith((f"crash-{run_id}-", application_id(run_id) + "-"))
    ]
    hwm = _end_offsets(admin, run_topics, IsolationLevel.READ_UNCOMMITTED)
    lso = _end_offsets(admin, run_topics, IsolationLevel.READ_COMMITTED)
    stuck = sorted((tp, lso[tp], hwm[tp]) for tp in hwm if lso[tp] < hwm[tp])
    if stuck:
        violations.append(
            f"transactions left open (topic-partition, LSO, end) in {len(stuck)} partitions: "
            f"{stuck[:5]}"
        )
    _read_to_end(reader, {tp: min(lso.get(tp, 0), hwm[tp]) for tp in hwm})
    reader.close()

    report = verify(options.guarantee, everything, reader.echo, reader.aggregates, reader.windows)
    report.violations[:0] = violations
    report.notes[:0] = notes
    return CrashResult(report, reader, kills, restarts, time.monotonic() - began, work_dir)


def _stop_all(slots: list[Slot]) -> list[str]:
    """SIGTERM every instance at once, then wait for each (a clean close each)."""
    for slot in slots:
        slot.signal_stop()
    problems = []
    for slot in slots:
        problem = slot.terminate()
        if problem:
            problems.append(problem)
    return problems


def _read_to_end(
    reader: OutputReader, targets: dict[tuple[str, int], int], timeout: float = 30.0
) -> None:
    """Read until every output partition's position reaches ``targets`` (its LSO) and nothing
    more came for a second (Tansu's end offset can be low for batched output)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reader.poll(0.2)
        positions = reader.positions()
        behind = [tp for tp, pos in positions.items() if pos < targets.get(tp, 0)]
        if not behind and time.monotonic() - reader.last_read >= 1.0:
            return
    raise HarnessError(f"the verifier could not read the outputs to their end in {timeout:.0f} s")


@contextlib.contextmanager
def _broker(bootstrap: str | None) -> Iterator[str]:
    if bootstrap:
        yield bootstrap
        return
    from kstreamlite.local import LocalBroker

    with LocalBroker() as broker:
        print(f"local broker at {broker.bootstrap_servers}", flush=True)
        yield broker.bootstrap_servers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.system.crash",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument(
        "--kills",
        type=int,
        default=5,
        help="SIGKILLs (kill mode) or SIGTERM restarts (graceful mode)",
    )
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument(
        "--guarantee", default="at_least_once", choices=["at_least_once", "exactly_once_v2"]
    )
    parser.add_argument("--mode", default="kill", choices=["kill", "graceful"])
    parser.add_argument(
        "--bootstrap-servers", default=os.environ.get("KSTREAMLITE_BOOTSTRAP_SERVERS")
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--produce-seconds",
        type=float,
        default=None,
        help="how long input flows (default: 3 s per kill, 7 s per graceful event)",
    )
    parser.add_argument("--drain-timeout", type=float, default=120.0)
    parser.add_argument("--commit-interval-ms", type=int, default=200)
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="state directories and instance logs (default: a new temp dir)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work dir on success")
    args = parser.parse_args(argv)
    if args.instances < 1 or args.records < 1 or args.kills < 0:
        parser.error("--instances and --records must be positive, --kills not negative")
    try:
        with _broker(args.bootstrap_servers) as bootstrap:
            result = run_crash(
                CrashOptions(
                    bootstrap_servers=bootstrap,
                    records=args.records,
                    kills=args.kills,
                    instances=args.instances,
                    guarantee=args.guarantee,
                    mode=args.mode,
                    seed=args.seed,
                    produce_seconds=args.produce_seconds,
                    drain_timeout=args.drain_timeout,
                    commit_interval_ms=args.commit_interval_ms,
                    work_dir=args.work_dir,
                    log=lambda line: print(line, flush=True),
                )
            )
    except HarnessError as exc:
        print(f"crash test could not run: {exc}", file=sys.stderr)
        return 2
    print(result.summary(), flush=True)
    if result.ok and not args.keep and args.work_dir is None:
        shutil.rmtree(result.work_dir, ignore_errors=True)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
