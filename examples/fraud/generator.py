"""Deterministic card-payment traffic, with card-testing fraud mixed in, and producing it.

``transactions(...)`` is an endless iterator and ``generate(n, ...)`` its first ``n``
records: the same seed gives the same records, so a test can compute the alerts the
topology must output (``reference.py``). The order they come in is the order to produce
them in: keyed by account, one account's transactions keep that order in their partition.

The traffic: many accounts paying ordinary amounts (a few cents to a few thousand, now
and then over 500.00), one transaction every ``mean_gap_ms`` of event time on average.
A share ``card_test_rate`` of them are "card tests": a charge under 0.10 on some account,
followed by a scripted episode on the same account: a large charge (> 500.00) within
60 s, or exactly at 60 s, or just beyond or well beyond it; a medium charge in between;
a second card test in between; or nothing. Ordinary traffic on the same account may
still land inside an episode, as in life. About 5% of the ordinary transactions carry a
timestamp up to ``max_lateness_ms`` behind the clock (a terminal that batches its
uploads), so timestamps are slightly out of order; the episodes' own timestamps are exact.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

from confluent_kafka import Producer

from .. import _kafka

Transaction = dict[str, Any]

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
LATE_SHARE = 0.05


def transactions(
    *,
    accounts: int = 2_000,
    seed: int = 42,
    start_ms: int = START_MS,
    mean_gap_ms: float = 100.0,
    card_test_rate: float = 0.02,
    max_lateness_ms: int = 3_000,
    transaction_id_prefix: str = "tx-",
) -> Iterator[Transaction]:
    """Transactions in arrival order, forever (see the module docstring)."""
    if accounts < 1:
        raise ValueError("need at least one account")
    rng = random.Random(seed)
    ids = itertools.count()
    clock = start_ms
    # Scripted follow-ups of card tests: (time, sequence, account, amount), earliest first.
    pending: list[tuple[int, int, str, float]] = []
    seq = itertools.count()

    def make(account: str, amount: float, ts: int) -> Transaction:
        return {
            "transaction_id": f"{transaction_id_prefix}{next(ids):08d}",
            "account_id": account,
            "amount": amount,
            "timestamp": ts,
        }

    def follow(account: str, delay_ms: int, amount: float) -> None:
        heapq.heappush(pending, (clock + delay_ms, next(seq), account, amount))

    while True:
        clock += max(1, round(rng.expovariate(1.0 / mean_gap_ms)))
        while pending and pending[0][0] <= clock:
            ts, _, account, amount = heapq.heappop(pending)
            yield make(account, amount, ts)
        account = f"acc-{rng.randrange(accounts):06d}"
        if rng.random() < card_test_rate:
            _script_episode(rng, account, follow)
            yield make(account, _small(rng), clock)
            continue
        ts = clock
        if rng.random() < LATE_SHARE:
            ts -= rng.randint(1, max_lateness_ms)
        yield make(account, _ordinary(rng), ts)


def _script_episode(rng: random.Random, account: str, follow: Any) -> None:
    """What follows a card test on ``account``, as delays after it."""
    kind = rng.random()
    if kind < 0.40:  # the fraud: a large charge within 60 s
        follow(account, rng.randint(1_000, 60_000), _large(rng))
    elif kind < 0.48:  # exactly on the edge: still fraud
        follow(account, 60_000, _large(rng))
    elif kind < 0.56:  # one millisecond too late
        follow(account, 60_001, _large(rng))
    elif kind < 0.66:  # well beyond the window
        follow(account, rng.randint(60_002, 300_000), _large(rng))
    elif kind < 0.78:  # a medium charge in between: no alert
        first = rng.randint(1_000, 30_000)
        follow(account, first, round(rng.uniform(5.0, 200.0), 2))
        follow(account, first + rng.randint(1_000, 29_000), _large(rng))
    elif kind < 0.90:  # a second card test in between: the alert names the second
        first = rng.randint(1_000, 30_000)
        follow(account, first, _small(rng))
        follow(account, first + rng.randint(1_000, 60_000), _large(rng))
    # else: the card test leads nowhere


def _small(rng: random.Random) -> float:
    return rng.choice([0.01, 0.02, 0.05, 0.07, 0.09])


def _large(rng: random.Random) -> float:
    return round(rng.uniform(500.01, 4_000.0), 2)


def _ordinary(rng: random.Random) -> float:
    # Log-normal around 33: mostly tens, sometimes hundreds, now and then over 500.00.
    return min(9_999.99, max(0.10, round(rng.lognormvariate(3.5, 1.1), 2)))


def generate(n: int, **kwargs: Any) -> list[Transaction]:
    """The first ``n`` of ``transactions(**kwargs)``."""
    return list(itertools.islice(transactions(**kwargs), n))


# ---- to Kafka --------------------------------------------------------------------------


def producer(bootstrap_servers: str) -> Producer:
    # Idempotence: retries never reorder one account's records.
    return _kafka.producer(bootstrap_servers, **{"enable.idempotence": True})


def send(producer: Producer, topic: str, tx: Transaction) -> None:
    _kafka.send(producer, topic, tx, "account_id")


def produce(
    bootstrap_servers: str, topic: str, rows: Iterable[Transaction], timeout: float = 30
) -> int:
    """Send ``rows`` keyed by account id, in order; return once the broker has them all."""
    return _kafka.produce(producer(bootstrap_servers), topic, rows, "account_id", timeout=timeout)


def produce_paced(
    bootstrap_servers: str,
    topic: str,
    rows: Iterator[Transaction],
    rate: float,
    stop: threading.Event,
    sent: list[Transaction],
) -> None:
    """Send ``rows`` at ``rate`` per second until ``stop`` is set, appending each one sent
    to ``sent`` (the caller's record of what was produced, for the reference)."""
    p = producer(bootstrap_servers)
    began = time.monotonic()
    while not stop.is_set():
        due = int((time.monotonic() - began) * rate) - len(sent)
        for _ in range(max(0, due)):
            tx = next(rows)
            send(p, topic, tx)
            sent.append(tx)
        p.poll(0)
        stop.wait(0.01)
    p.flush(30)
