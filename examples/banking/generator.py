"""Deterministic bank data (customers, accounts, transactions) and producing it to Kafka.

``generate(...)`` is a pure function of its arguments: the same seed gives the same
records, so a test can compute what the topology must output. A small share of the data
is deliberately broken, to show how the topology handles it: some accounts belong to a
customer that does not exist (``cust-gone-...``), and some transactions name an account
that does not exist (``acc-unknown-...``).

The ``produce_*`` functions send the records keyed by their id, JSON-encoded, with the
Java client's partitioner (murmur2), reference data first: the application's global
tables must hold an account and its customer before the account's transactions arrive.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from confluent_kafka import Producer

from .topics import Topics

Row = dict[str, Any]

START_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z: the first transaction's timestamp
FIRST_NAMES = [
    "Ada",
    "Grace",
    "Alan",
    "Barbara",
    "Edsger",
    "Frances",
    "Ken",
    "Margaret",
    "Dennis",
    "Radia",
    "Linus",
    "Donald",
    "Katherine",
    "John",
    "Hedy",
    "Tim",
]
LAST_NAMES = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Liskov",
    "Dijkstra",
    "Allen",
    "Thompson",
    "Hamilton",
    "Ritchie",
    "Perlman",
    "Torvalds",
    "Knuth",
    "Johnson",
    "Backus",
]
SEGMENTS = ["retail", "retail", "retail", "premium", "business"]
ACCOUNT_KINDS = ["checking", "checking", "savings", "credit-card"]
CURRENCIES = ["EUR", "EUR", "EUR", "USD", "GBP"]


@dataclass(frozen=True)
class BankData:
    customers: list[Row]
    accounts: list[Row]
    transactions: list[Row]


def generate(
    customers: int = 1_000,
    accounts: int = 2_500,
    transactions: int = 50_000,
    *,
    seed: int = 42,
    orphan_account_rate: float = 0.01,
    unknown_account_rate: float = 0.005,
    transaction_id_prefix: str = "tx-",
    start_ms: int = START_MS,
) -> BankData:
    """``customers`` customers; ``accounts`` accounts, each of a random customer except a
    share ``orphan_account_rate`` (rounded) of them, whose customer does not exist; and
    ``transactions`` transactions, about 45% credits and 55% debits, each on a random
    account except a share ``unknown_account_rate`` (rounded) on accounts that do not
    exist."""
    if customers < 1 or accounts < 1 or transactions < 0:
        raise ValueError("need at least one customer and one account")
    rng = random.Random(seed)
    customer_rows = [
        {
            "customer_id": f"cust-{i:05d}",
            "name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            "email": f"customer{i}@example.com",
            "segment": rng.choice(SEGMENTS),
        }
        for i in range(customers)
    ]
    orphans = set(rng.sample(range(accounts), round(accounts * orphan_account_rate)))
    unknown = set(rng.sample(range(transactions), round(transactions * unknown_account_rate)))
    account_rows = []
    for i in range(accounts):
        if i in orphans:
            customer_id = f"cust-gone-{i:05d}"
        else:
            customer_id = customer_rows[rng.randrange(customers)]["customer_id"]
        account_rows.append(
            {
                "account_id": f"acc-{i:06d}",
                "customer_id": customer_id,
                "kind": rng.choice(ACCOUNT_KINDS),
                "currency": rng.choice(CURRENCIES),
            }
        )
    transaction_rows = []
    timestamp = start_ms
    for i in range(transactions):
        timestamp += rng.randrange(0, 2_000)
        if i in unknown:
            account_id = f"acc-unknown-{i:07d}"
        else:
            account_id = account_rows[rng.randrange(accounts)]["account_id"]
        kind = "debit" if rng.random() < 0.55 else "credit"
        transaction_rows.append(
            {
                "transaction_id": f"{transaction_id_prefix}{i:07d}",
                "account_id": account_id,
                "type": kind,
                "amount": max(0.01, round(rng.lognormvariate(3.5, 1.2), 2)),
                "timestamp": timestamp,
            }
        )
    return BankData(customer_rows, account_rows, transaction_rows)


# ---- to Kafka --------------------------------------------------------------------------


def _producer(bootstrap_servers: str) -> Producer:
    return Producer(
        {
            "bootstrap.servers": bootstrap_servers,
            "partitioner": "murmur2_random",  # where the Java client would put each key
            "linger.ms": 20,
        }
    )


def _send(producer: Producer, topic: str, rows: Iterable[Row], id_field: str) -> int:
    count = 0
    for row in rows:
        while True:
            try:
                producer.produce(topic, orjson.dumps(row), row[id_field].encode())
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                producer.poll(0.1)
        count += 1
        if count % 10_000 == 0:
            producer.poll(0)
    return count


def _flush(producer: Producer, timeout: float) -> None:
    left = producer.flush(timeout)
    if left:
        raise TimeoutError(f"{left} records not delivered within {timeout:.0f} s")


def produce_reference_data(
    bootstrap_servers: str, data: BankData, topics: Topics | None = None, timeout: float = 30
) -> int:
    """Send the customers, then the accounts; return once the broker has them all."""
    topics = topics or Topics()
    producer = _producer(bootstrap_servers)
    sent = _send(producer, topics.customers, data.customers, "customer_id")
    sent += _send(producer, topics.accounts, data.accounts, "account_id")
    _flush(producer, timeout)
    return sent


def produce_transactions(
    bootstrap_servers: str, data: BankData, topics: Topics | None = None, timeout: float = 30
) -> int:
    """Send the transactions; return once the broker has them all."""
    topics = topics or Topics()
    producer = _producer(bootstrap_servers)
    sent = _send(producer, topics.transactions, data.transactions, "transaction_id")
    _flush(producer, timeout)
    return sent


def produce_all(
    bootstrap_servers: str, data: BankData, topics: Topics | None = None, timeout: float = 30
) -> int:
    """Reference data first, then the transactions."""
    sent = produce_reference_data(bootstrap_servers, data, topics, timeout)
    return sent + produce_transactions(bootstrap_servers, data, topics, timeout)
