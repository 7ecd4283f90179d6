"""The card-testing fraud rule, built with the Processor API. Builds the graph only; never
talks to Kafka.

Records (STRING keys, JSON values, the defaults):

- ``transactions``, keyed by account id:
  ``{"transaction_id": str, "account_id": str, "amount": float, "timestamp": int}``.
  Event time is always the value's ``timestamp`` (epoch ms), never the Kafka record's.
- ``fraud-alerts``, keyed by account id: ``{"account_id", "small_transaction_id",
  "large_transaction_id", "small_amount", "large_amount", "timestamp"}``, the timestamp
  being the large transaction's.

The rule: a transaction with amount > 500.00 that is the *next* transaction on its
account, in arrival order, after one with amount < 0.10, and whose timestamp is at most
60 s after that one's (``0 <= large - small <= 60_000`` ms: exactly 60 s is fraud,
60 s + 1 ms is not, and a large one stamped *before* the small one is not "after" it).
Whatever transaction comes next on the account uses up the flag the small one left: a
medium one in between means no alert, and a second small one replaces the flag.

Why the Processor API: the rule is "the next transaction", a per-key state machine with
one slot, not a window over many records. A key-value store ``fraud-last-small`` holds,
per account, the last small transaction not yet followed by another; the processor reads
and rewrites it for every transaction. Arrival order per account is partition order:
the input is keyed by account, so one account's transactions are in one partition and
one task sees them in the order they were produced.

Clearing old flags -- the choice made here. A flag on an account that never transacts
again would stay in the store forever, so a stream-time punctuator deletes flags no
future transaction can use. With timestamps in order, that is a flag whose timestamp +
60 s is below the stream time reached (the highest timestamp the task has seen). But
timestamps arrive out of order: a transaction stamped behind the stream time could still
be within 60 s of an old flag. So a flag is kept for a ``grace`` longer (default 10 s):
it expires once ``stream time > flag timestamp + 60 s + grace``. For every transaction
that arrives at most ``grace`` behind the stream time, the result is exactly the rule's;
one that arrives later than that may miss an alert whose flag has expired. ``grace=0``
is exact only for input in timestamp order; a larger grace costs only memory.

The expiry is applied in ``process`` too, not only by the punctuator: a transaction that
finds an expired flag treats it as gone. So the output depends on the records alone,
never on when the punctuator happened to fire; the punctuator only frees the memory (and
the changelog) of accounts that went quiet.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kstreamlite import Record, StreamsBuilder, Topology, serdes
from kstreamlite.processor import Processor, ProcessorContext, PunctuationType
from kstreamlite.state import Stores

SOURCE = "transactions"
SINK = "fraud-alerts"
STORE = "fraud-last-small"

SMALL_BELOW = 0.10  # amount < 0.10 is a "card test"
LARGE_ABOVE = 500.00  # amount > 500.00 is large
WINDOW_MS = 60_000  # the large one at most 60 s after the small one (inclusive)
DEFAULT_GRACE_MS = 10_000  # how far behind stream time a transaction may arrive, exactly
PUNCTUATE_EVERY_MS = 10_000  # of stream time


def is_small(amount: float) -> bool:
    return amount < SMALL_BELOW


def is_large(amount: float) -> bool:
    return amount > LARGE_ABOVE


def within_window(small_ts: int, large_ts: int) -> bool:
    """``large_ts`` is at most 60 s after ``small_ts`` (and not before it)."""
    return 0 <= large_ts - small_ts <= WINDOW_MS


def event_time(key: Any, value: Any, record_timestamp: int) -> int:
    """The timestamp extractor: the transaction's own ``timestamp``."""
    return int(value["timestamp"])


def alert(account_id: str, small: dict[str, Any], large: dict[str, Any]) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "small_transaction_id": small["transaction_id"],
        "large_transaction_id": large["transaction_id"],
        "small_amount": small["amount"],
        "large_amount": large["amount"],
        "timestamp": large["timestamp"],
    }


class CardTestDetector(Processor):
    """Per account, remembers the last small transaction (``{"transaction_id", "amount",
    "timestamp"}``) until the next transaction uses it up or it expires; forwards an alert
    when that next transaction is a large one within the window."""

    def __init__(self, store_name: str = STORE, grace_ms: int = DEFAULT_GRACE_MS) -> None:
        self.store_name = store_name
        self.grace_ms = grace_ms

    def init(self, context: ProcessorContext) -> None:
        self.context = context
        self.flags = context.get_state_store(self.store_name)
        context.schedule(PUNCTUATE_EVERY_MS, PunctuationType.STREAM_TIME, self.clear_expired)

    def expired(self, flag: dict[str, Any], stream_time: int) -> bool:
        return int(flag["timestamp"]) + WINDOW_MS + self.grace_ms < stream_time

    def process(self, record: Record) -> None:
        account, tx = record.key, record.value
        if account is None or tx is None:
            return  # not a transaction of any account: nothing to remember or use up
        flag = self.flags.get(account)
        if flag is not None and self.expired(flag, self.context.current_stream_time_ms):
            flag = None
        amount = tx["amount"]
        if is_small(amount):
            self.flags.put(account, _flag_of(tx))  # replaces (and uses up) any older flag
            return
        if flag is not None:
            self.flags.delete(account)
            if is_large(amount) and within_window(flag["timestamp"], tx["timestamp"]):
                self.context.forward(record.with_value(alert(account, flag, tx)))

    def clear_expired(self, stream_time: int) -> None:
        """The punctuator: delete every flag no transaction within ``grace`` can use."""
        old = [kv.key for kv in self.flags.all() if self.expired(kv.value, stream_time)]
        for account in old:
            self.flags.delete(account)


def _flag_of(tx: dict[str, Any]) -> dict[str, Any]:
    return {
        "transaction_id": tx["transaction_id"],
        "amount": tx["amount"],
        "timestamp": tx["timestamp"],
    }


def build_topology(
    source: str = SOURCE,
    sink: str = SINK,
    *,
    grace: int | timedelta = DEFAULT_GRACE_MS,
) -> Topology:
    """Read transactions from ``source``, write alerts to ``sink``; ``grace`` (ms or a
    timedelta) is how far behind the stream time a transaction may arrive and still be
    judged exactly by the rule (see the module docstring)."""
    grace_ms = int(grace.total_seconds() * 1000) if isinstance(grace, timedelta) else grace
    if grace_ms < 0:
        raise ValueError(f"grace must not be negative, got {grace_ms} ms")
    builder = StreamsBuilder()
    builder.add_state_store(
        Stores.key_value_store_builder(STORE, key_serde=serdes.STRING, value_serde=serdes.JSON)
    )
    (
        builder.stream(
            source,
            key_serde=serdes.STRING,
            value_serde=serdes.JSON,
            timestamp_extractor=event_time,
            name="transactions-source",
        )
        .process(lambda: CardTestDetector(STORE, grace_ms), stores=[STORE], name="card-test")
        .to(sink, key_serde=serdes.STRING, value_serde=serdes.JSON)
    )
    return builder.build()
