"""``python -m examples.temperature``: the fire-alert application live, with its alerts.

Starts a local broker unless KSTREAMLITE_BOOTSTRAP_SERVERS (or ``--bootstrap``) names one,
creates the topics, then runs the generator and the application together: readings are
produced at ``--rate`` readings per second of wall clock while the application aggregates
them, and every alert is printed as it arrives on ``fire-alerts``, with a running count.
Stops cleanly after ``--duration`` seconds or on Ctrl-C.

A one-minute window needs a minute of event time, and its alert comes out 12 s of event
time after it ends (watermark delay plus grace). So that alerts show within a short run,
the generator's event-time clock runs faster than the wall clock: ``--rate`` readings a
second from ``--sensors`` sensors that each report once a second of event time means
event time runs ``rate / sensors`` times as fast (40x by default: a 20 s run covers about
13 minutes of readings). The windows still open when the run stops (the last minute or
so of event time) are not reported; idleness would close them after 30 s of silence.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from types import FrameType

import orjson
from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from kstreamlite import KafkaStreams, State, StreamsConfig
from kstreamlite.local import broker_or_local

from .app import SINK, SOURCE, WINDOW_MS, build_topology
from .generator import producer, readings, send, sensors

APPLICATION_ID = "temperature-example"
PARTITIONS = 3


def create_topics(bootstrap: str, timeout: float = 30) -> list[str]:
    """Create whichever of the two topics do not exist yet; return the names created."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = admin.list_topics(timeout=timeout).topics
    missing = [NewTopic(t, PARTITIONS, 1) for t in (SOURCE, SINK) if t not in existing]
    created = []
    for name, future in admin.create_topics(missing, operation_timeout=timeout).items():
        future.result(timeout=timeout)
        created.append(name)
    deadline = time.monotonic() + timeout
    while not all(admin.list_topics(timeout=timeout).topics.get(t) for t in (SOURCE, SINK)):
        if time.monotonic() > deadline:
            raise TimeoutError("the topics did not appear")
        time.sleep(0.1)
    return created


def alert_reader(bootstrap: str, from_beginning: bool) -> Consumer:
    """Reads ``fire-alerts`` with assign() (no group join): from the beginning on a fresh
    local broker, from the end on a broker of your own (earlier runs' alerts are there)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"{APPLICATION_ID}-reader",
            "enable.auto.commit": False,
            "fetch.queue.backoff.ms": 10,
        }
    )
    partitions = consumer.list_topics(SINK, timeout=10).topics[SINK].partitions
    start = OFFSET_BEGINNING if from_beginning else OFFSET_END
    consumer.assign([TopicPartition(SINK, p, start) for p in partitions])
    return consumer


def _clock(ms: int) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(ms / 1000))


def run(
    bootstrap: str,
    *,
    duration: float,
    rate: int,
    sensor_count: int,
    seed: int,
    fresh_broker: bool,
    state_dir: str,
) -> int:
    created = create_topics(bootstrap)
    print(f"topics {SOURCE}, {SINK}: {len(created)} created")
    speed = rate / sensor_count
    # Fires start in the first half of the event time the run will cover, so they show.
    horizon_s = max(1, int(duration * speed / 2))
    fleet = sensors(sensor_count, seed=seed, fire_share=0.1, fire_horizon_s=horizon_s)
    print(
        f"{sensor_count} sensors, {sum(s.fire is not None for s in fleet)} of them will catch "
        f"fire; {rate} readings/s, so event time runs {speed:.0f}x the wall clock"
    )
    start_ms = (int(time.time() * 1000) // WINDOW_MS) * WINDOW_MS
    stream = readings(fleet, seed=seed, start_ms=start_ms)
    out = producer(bootstrap, **{"linger.ms": 20})
    config = StreamsConfig(
        application_id=APPLICATION_ID,
        bootstrap_servers=bootstrap,
        # Local state of this run only: the window stores of an earlier run (on a broker
        # since stopped, its changelogs gone) must not be taken up again.
        state_dir=state_dir,
        commit_interval_ms=500,
        # A short session timeout keeps the group join near 3 s on Tansu (BROKER-NOTES.md 3).
        consumer_config={"session.timeout.ms": 6_000, "heartbeat.interval.ms": 1_000},
    )
    app = KafkaStreams(build_topology(), config)
    reader = alert_reader(bootstrap, from_beginning=fresh_broker)
    stop = {"now": False}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop["now"] = True

    previous = signal.signal(signal.SIGINT, on_signal)
    sent = alerts = 0
    last_ts = start_ms
    began = time.monotonic()
    status = 0
    try:
        app.start()
        print(f"producing and processing for {duration:.0f} s (Ctrl-C stops)...\n")
        while not stop["now"] and time.monotonic() - began < duration:
            if app.state is State.ERROR:
                print(f"the application failed: {app.exception!r}", file=sys.stderr)
                status = 1
                break
            due = int((time.monotonic() - began) * rate)
            while sent < due:
                reading = next(stream)
                send(out, SOURCE, reading)
                last_ts = max(last_ts, reading["timestamp"])
                sent += 1
            out.poll(0)
            for msg in reader.consume(1_000, 0.05):
                error = msg.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        raise RuntimeError(f"reading {SINK}: {error}")
                    continue
                alert = orjson.loads(msg.value())
                alerts += 1
                print(
                    f"#{alerts:<3} FIRE {alert['sensor_id']}  "
                    f"{_clock(alert['window_start'])}-{_clock(alert['window_end'])}  "
                    f"mean {alert['average']:6.2f} °C over {alert['count']} readings"
                )
    finally:
        signal.signal(signal.SIGINT, previous)
        reader.close()
        out.flush(10)
        closed = app.close(30_000)
    minutes = (last_ts - start_ms) / WINDOW_MS
    print(
        f"\nstopped after {time.monotonic() - began:.1f} s: {sent:,} readings "
        f"({minutes:.1f} minutes of event time), {alerts} fire alerts"
    )
    if not closed:
        print("the application did not close within 30 s", file=sys.stderr)
        status = 1
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m examples.temperature",
        description="Fire alerts from sensor readings: mean per sensor per minute above 40 °C. "
        "On a local broker unless KSTREAMLITE_BOOTSTRAP_SERVERS or --bootstrap is set.",
    )
    parser.add_argument("--duration", type=float, default=20.0, metavar="S", help="seconds (20)")
    parser.add_argument(
        "--rate", type=int, default=2_000, metavar="N", help="readings per second (2,000)"
    )
    parser.add_argument("--sensors", type=int, default=50, metavar="N", help="sensors (50)")
    parser.add_argument("--seed", type=int, default=42, help="of the generator (42)")
    parser.add_argument(
        "--bootstrap",
        metavar="HOST:PORT",
        default=os.environ.get("KSTREAMLITE_BOOTSTRAP_SERVERS"),
        help="a Kafka broker to use (default: start a local one)",
    )
    args = parser.parse_args(argv)
    if args.rate < 1 or args.sensors < 1:
        parser.error("--rate and --sensors must be positive")
    with broker_or_local(args.bootstrap) as bootstrap, tempfile.TemporaryDirectory() as state_dir:
        return run(
            bootstrap,
            duration=args.duration,
            rate=args.rate,
            sensor_count=args.sensors,
            seed=args.seed,
            fresh_broker=not args.bootstrap,
            state_dir=state_dir,
        )


if __name__ == "__main__":
    sys.exit(main())
