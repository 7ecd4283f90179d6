"""Deterministic stock prices: a random walk per symbol with occasional jumps.

``generate(count, seed=...)`` yields price updates in the order they are to be sent; the
same arguments give the same updates, so a test can compute the expected alerts from them
(``reference.py``). Each update is for a random symbol, whose price takes a small
log-normal step (about 0.3 %) and, now and then (``jump_probability``), a jump of 6 % to
12 % up or down, which is what makes alerts. Event time advances by a random step per
update (``interval_ms`` on average); a share of the updates (``disorder_probability``)
carry a timestamp up to ``max_disorder_ms`` behind that clock, so the stream is slightly
out of order but, with the default 5 s, never behind the topology's 5 s watermark: no
update is late.

``produce(...)`` sends updates keyed by symbol, JSON-encoded, partitioned as the Java
client would (murmur2), with idempotence on so that each symbol's updates stay in order.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterable, Iterator
from typing import Any

from confluent_kafka import Producer

from .. import _kafka

Update = dict[str, Any]

START_MS = 1_735_725_600_000  # 2025-01-01T10:00:00Z
# Symbol and opening price.
SYMBOLS: dict[str, float] = {
    "ACME": 120.0,
    "GLOBX": 48.5,
    "INITECH": 15.2,
    "UMBRL": 310.0,
    "WAYNE": 87.75,
}


def generate(
    count: int | None = None,
    *,
    seed: int = 42,
    symbols: dict[str, float] | None = None,
    start_ms: int = START_MS,
    interval_ms: int = 100,
    volatility: float = 0.002,
    jump_probability: float = 0.004,
    disorder_probability: float = 0.2,
    max_disorder_ms: int = 5_000,
) -> Iterator[Update]:
    """``count`` updates (endless when None), ``{"symbol", "price", "timestamp"}`` each,
    prices rounded to cents and never below one cent."""
    if interval_ms < 1 or max_disorder_ms < 0:
        raise ValueError("interval_ms must be positive and max_disorder_ms not negative")
    rng = random.Random(seed)
    prices = dict(symbols or SYMBOLS)
    names = sorted(prices)
    clock = start_ms
    sent = 0
    while count is None or sent < count:
        clock += rng.randint(0, 2 * interval_ms)
        symbol = rng.choice(names)
        step = rng.gauss(0.0, volatility)
        if rng.random() < jump_probability:
            step += math.log1p(rng.choice((1, -1)) * rng.uniform(0.06, 0.12))
        prices[symbol] = max(0.01, prices[symbol] * math.exp(step))
        timestamp = clock
        if rng.random() < disorder_probability:
            timestamp -= rng.randint(0, max_disorder_ms)
        yield {"symbol": symbol, "price": round(prices[symbol], 2), "timestamp": timestamp}
        sent += 1


def producer(bootstrap_servers: str) -> Producer:
    # Idempotence: retries never reorder a symbol's updates.
    return _kafka.producer(bootstrap_servers, **{"enable.idempotence": True})


def send(p: Producer, topic: str, update: Update) -> None:
    """Queue one update keyed by its symbol (waiting while the local queue is full)."""
    _kafka.send(p, topic, update, "symbol")


def produce(
    bootstrap_servers: str, updates: Iterable[Update], topic: str, timeout: float = 30
) -> int:
    """Send ``updates`` as fast as possible; return once the broker has them all."""
    return _kafka.produce(
        producer(bootstrap_servers), topic, updates, "symbol", what="updates", timeout=timeout
    )


def live(rate: float, *, seed: int = 42, jump_probability: float = 0.02) -> Iterator[Update]:
    """Endless updates paced at about ``rate`` a second, their event time following the
    wall clock (the generator's clock starts now and steps ``1000 / rate`` ms on average).
    Jumps are more frequent than ``generate``'s default, so a short demo shows some."""
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")
    interval = max(1, round(1000 / rate))
    updates = generate(
        seed=seed,
        start_ms=int(time.time() * 1000),
        interval_ms=interval,
        jump_probability=jump_probability,
    )
    began = time.monotonic()
    for i, update in enumerate(updates):
        pause = began + (i + 1) / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        yield update
