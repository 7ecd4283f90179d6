"""Deterministic sensor readings, and producing them to Kafka.

``readings(...)`` yields an endless stream, ``generate(...)`` a fixed stretch of it; both
are pure functions of their arguments, so the same seed gives the same readings and a
test can compute the alerts the topology must emit.

The model: each sensor reports about once a second (its own phase in the second, a few
tens of ms of clock jitter, and about 1 reading in 200 lost). A normal sensor sits at its
own level between 20 and 30 °C, drifting slowly, with measurement noise of about 0.3 °C.
A share of the sensors catch fire at some point: their temperature climbs by 0.2 to
0.6 °C a second to a peak 40 to 80 °C above normal, burns there for two to five minutes,
then cools back down, so their one-minute means pass 40 °C for a few minutes.

Readings come in the order they would reach Kafka, not in timestamp order: each is held
back by a random transit delay of up to ``disorder_ms`` (2 s by default), so a reading
may arrive behind later readings of other sensors (and of its own, when the delay
exceeds a second). Disorder stays below ``disorder_ms``: never late for the topology.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Producer

from .. import _kafka

Reading = dict[str, Any]  # {"sensor_id": str, "temperature": float, "timestamp": int}

START_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z, a whole minute
SECOND_MS = 1_000


@dataclass(frozen=True)
class Fire:
    """When and how a sensor's fire goes: seconds after the start, °C and °C/s."""

    ignition_s: int
    rise_per_s: float
    peak_rise: float
    burn_s: int

    def rise(self, t: float) -> float:
        """How many °C above normal the sensor reads ``t`` seconds after the start."""
        since = t - self.ignition_s
        if since <= 0:
            return 0.0
        climb_s = self.peak_rise / self.rise_per_s
        if since <= climb_s:
            return since * self.rise_per_s
        if since <= climb_s + self.burn_s:
            return self.peak_rise
        return self.peak_rise * math.exp(-(since - climb_s - self.burn_s) / 60)  # cooling


@dataclass(frozen=True)
class Sensor:
    sensor_id: str
    level: float  # °C, its normal temperature
    drift_amplitude: float  # °C
    drift_period_s: float
    phase_ms: int  # where in each second it reports
    fire: Fire | None


def sensors(
    count: int, *, seed: int = 42, fire_share: float = 0.1, fire_horizon_s: int = 600
) -> list[Sensor]:
    """``count`` sensors; ``round(count * fire_share)`` of them (at least one when the share
    is positive) catch fire, each at a random second below ``fire_horizon_s``."""
    if count < 1:
        raise ValueError("need at least one sensor")
    rng = random.Random(seed)
    burning = max(1, round(count * fire_share)) if fire_share > 0 else 0
    on_fire = set(rng.sample(range(count), min(burning, count)))
    out = []
    for i in range(count):
        fire = None
        if i in on_fire:
            fire = Fire(
                ignition_s=rng.randrange(max(1, fire_horizon_s)),
                rise_per_s=rng.uniform(0.2, 0.6),
                peak_rise=rng.uniform(40.0, 80.0),
                burn_s=rng.randrange(120, 300),
            )
        out.append(
            Sensor(
                sensor_id=f"sensor-{i:04d}",
                level=rng.uniform(20.0, 30.0),
                drift_amplitude=rng.uniform(0.0, 1.5),
                drift_period_s=rng.uniform(300.0, 1_800.0),
                phase_ms=rng.randrange(SECOND_MS),
                fire=fire,
            )
        )
    return out


def readings(
    fleet: list[Sensor],
    *,
    seed: int = 42,
    start_ms: int = START_MS,
    disorder_ms: int = 2_000,
    loss: float = 0.005,
) -> Iterator[Reading]:
    """Every sensor's readings from ``start_ms`` on, for ever, in arrival order."""
    rng = random.Random(seed)
    pending: list[tuple[float, int, Reading]] = []  # (arrival, tie-break, reading)
    order = itertools.count()
    for second in itertools.count():
        second_start = start_ms + second * SECOND_MS
        # Nothing still to be generated can arrive before this second starts.
        while pending and pending[0][0] < second_start:
            yield heapq.heappop(pending)[2]
        for sensor in fleet:
            if rng.random() < loss:
                continue
            offset = sensor.phase_ms + rng.randrange(-30, 31)
            timestamp = second_start + min(max(offset, 0), SECOND_MS - 1)
            t = (timestamp - start_ms) / SECOND_MS
            drift = sensor.drift_amplitude * math.sin(2 * math.pi * t / sensor.drift_period_s)
            fire = sensor.fire.rise(t) if sensor.fire else 0.0
            temperature = round(sensor.level + drift + fire + rng.gauss(0.0, 0.3), 2)
            reading = {
                "sensor_id": sensor.sensor_id,
                "temperature": temperature,
                "timestamp": timestamp,
            }
            arrival = timestamp + rng.uniform(0, disorder_ms)
            heapq.heappush(pending, (arrival, next(order), reading))


def generate(
    sensor_count: int = 100,
    duration_s: int = 600,
    *,
    seed: int = 42,
    start_ms: int = START_MS,
    fire_share: float = 0.1,
    disorder_ms: int = 2_000,
) -> list[Reading]:
    """The readings of ``sensor_count`` sensors over ``duration_s`` seconds of event time
    (timestamps in ``[start_ms, start_ms + duration_s * 1000)``), in arrival order. Fires
    start in the first two thirds of the stretch, so most get hot enough to alert."""
    fleet = sensors(
        sensor_count, seed=seed, fire_share=fire_share, fire_horizon_s=duration_s * 2 // 3
    )
    end_ms = start_ms + duration_s * SECOND_MS
    out: list[Reading] = []
    # Arrival order is timestamp plus under disorder_ms: past end_ms + disorder_ms, every
    # reading of the stretch has come out.
    stream = readings(fleet, seed=seed, start_ms=start_ms, disorder_ms=disorder_ms)
    for reading in stream:
        if reading["timestamp"] < end_ms:
            out.append(reading)
        elif reading["timestamp"] >= end_ms + disorder_ms + SECOND_MS:
            break
    return out


# ---- to Kafka --------------------------------------------------------------------------


producer = _kafka.producer


def send(producer: Producer, topic: str, reading: Reading) -> None:
    """Queue one reading, keyed by its sensor id (waits while the local queue is full)."""
    _kafka.send(producer, topic, reading, "sensor_id")


def produce(
    bootstrap_servers: str, topic: str, rows: Iterable[Reading], timeout: float = 30
) -> int:
    """Send ``rows`` in order; return once the broker has them all."""
    return _kafka.produce(
        producer(bootstrap_servers), topic, rows, "sensor_id", what="readings", timeout=timeout
    )
