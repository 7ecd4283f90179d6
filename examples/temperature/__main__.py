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
import sys
import tempfile
import time
from typing import Any

from kstreamlite import KafkaStreams
from kstreamlite.local import broker_or_local

from .._console import (
    CLOSE_TIMEOUT_MS,
    AlertPrinter,
    CtrlC,
    add_bootstrap_argument,
    add_duration_argument,
    app_failed,
    create_topics,
    open_reader,
    poll_json,
    streams_config,
    warn_if_not_closed,
)
from .app import SINK, SOURCE, WINDOW_MS, build_topology
from .generator import producer, readings, send, sensors

APPLICATION_ID = "temperature-example"
PARTITIONS = 3


def _clock(ms: int) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(ms / 1000))


def format_alert(count: int, alert: dict[str, Any]) -> str:
    return (
        f"#{count:<3} FIRE {alert['sensor_id']}  "
        f"{_clock(alert['window_start'])}-{_clock(alert['window_end'])}  "
        f"mean {alert['average']:6.2f} °C over {alert['count']} readings"
    )


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
    created = create_topics(bootstrap, [SOURCE, SINK], PARTITIONS)
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
    config = streams_config(
        APPLICATION_ID,
        bootstrap,
        commit_interval_ms=500,
        # Local state of this run only: the window stores of an earlier run (on a broker
        # since stopped, its changelogs gone) must not be taken up again.
        state_dir=state_dir,
    )
    app = KafkaStreams(build_topology(), config)
    # From the end on a broker of your own: earlier runs' alerts are there.
    reader = open_reader(bootstrap, f"{APPLICATION_ID}-reader", [SINK], from_beginning=fresh_broker)
    alerts = AlertPrinter(format_alert)
    sent = 0
    last_ts = start_ms
    began = time.monotonic()
    status = 0
    try:
        with CtrlC() as ctrl_c:
            app.start()
            print(f"producing and processing for {duration:.0f} s (Ctrl-C stops)...\n")
            while not ctrl_c.pressed and time.monotonic() - began < duration:
                if app_failed(app):
                    status = 1
                    break
                due = int((time.monotonic() - began) * rate)
                while sent < due:
                    reading = next(stream)
                    send(out, SOURCE, reading)
                    last_ts = max(last_ts, reading["timestamp"])
                    sent += 1
                out.poll(0)
                for alert in poll_json(reader, SINK, max_messages=1_000, timeout=0.05):
                    alerts.show(alert)
    finally:
        reader.close()
        out.flush(10)
        closed = app.close(CLOSE_TIMEOUT_MS)
    minutes = (last_ts - start_ms) / WINDOW_MS
    print(
        f"\nstopped after {time.monotonic() - began:.1f} s: {sent:,} readings "
        f"({minutes:.1f} minutes of event time), {alerts.count} fire alerts"
    )
    if not warn_if_not_closed(closed):
        status = 1
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m examples.temperature",
        description="Fire alerts from sensor readings: mean per sensor per minute above 40 °C. "
        "On a local broker unless KSTREAMLITE_BOOTSTRAP_SERVERS or --bootstrap is set.",
    )
    add_duration_argument(parser, help="seconds (20)")
    parser.add_argument(
        "--rate", type=int, default=2_000, metavar="N", help="readings per second (2,000)"
    )
    parser.add_argument("--sensors", type=int, default=50, metavar="N", help="sensors (50)")
    parser.add_argument("--seed", type=int, default=42, help="of the generator (42)")
    add_bootstrap_argument(parser)
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
