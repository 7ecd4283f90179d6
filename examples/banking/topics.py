"""The banking example's topic names and their idempotent creation; never touches records.

``transactions`` has five partitions (one task each); ``customers`` and ``accounts`` are
compacted, as a table's topic should be: the latest row per key is all a global table
needs. The two outputs have as many partitions as ``transactions``, so a transaction
keeps its partition number.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, fields
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

log = logging.getLogger("examples.banking")

TRANSACTION_PARTITIONS = 5
TABLE_PARTITIONS = 3
COMPACTED = {"cleanup.policy": "compact"}


@dataclass(frozen=True)
class Topics:
    transactions: str = "transactions"
    customers: str = "customers"
    accounts: str = "accounts"
    credits: str = "transactions.credits"
    debits: str = "transactions.debits"

    def with_suffix(self, suffix: str) -> Topics:
        """The same topics, each name ending in ``-suffix`` (tests keep runs apart so)."""
        return Topics(**{f.name: f"{getattr(self, f.name)}-{suffix}" for f in fields(self)})

    def as_kwargs(self) -> dict[str, str]:
        """The names as ``build_topology`` keyword arguments."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def new_topics(self) -> list[NewTopic]:
        return [
            NewTopic(self.transactions, TRANSACTION_PARTITIONS, 1),
            NewTopic(self.customers, TABLE_PARTITIONS, 1, config=dict(COMPACTED)),
            NewTopic(self.accounts, TABLE_PARTITIONS, 1, config=dict(COMPACTED)),
            NewTopic(self.credits, TRANSACTION_PARTITIONS, 1),
            NewTopic(self.debits, TRANSACTION_PARTITIONS, 1),
        ]


def create_topics(
    bootstrap_servers: str, topics: Topics | None = None, timeout: float = 30
) -> list[str]:
    """Create whichever of ``topics`` do not exist yet; return the names created.

    A topic that already exists is left as it is (a warning if its partition count is
    not the one this example expects).
    """
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    wanted = (topics or Topics()).new_topics()
    existing = admin.list_topics(timeout=timeout).topics
    created: list[str] = []
    missing = [t for t in wanted if t.topic not in existing]
    if missing:
        futures = admin.create_topics(missing, operation_timeout=timeout)
        for name, future in futures.items():
            try:
                future.result(timeout=timeout)
                created.append(name)
            except KafkaException as exc:  # created meanwhile by someone else: fine
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
    _wait_for_metadata(admin, wanted, timeout)
    return created


def _wait_for_metadata(admin: AdminClient, wanted: list[NewTopic], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        found: dict[str, Any] = admin.list_topics(timeout=timeout).topics
        if all(t.topic in found and found[t.topic].partitions for t in wanted):
            break
        if time.monotonic() >= deadline:
            absent = [t.topic for t in wanted if t.topic not in found]
            raise TimeoutError(f"topics {absent} did not appear within {timeout:.0f} s")
        time.sleep(0.1)
    for t in wanted:
        have = len(found[t.topic].partitions)
        if have != t.num_partitions:
            log.warning(
                "topic %s has %d partitions, this example creates it with %d",
                t.topic,
                have,
                t.num_partitions,
            )
