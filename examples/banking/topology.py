"""The bank-transactions topology: enrich each transaction with its account and customer
from two GlobalKTables, then route it by type to ``transactions.credits`` or
``transactions.debits``. Builds the graph only; never talks to Kafka.

Records (STRING keys, JSON values, the defaults):

- ``transactions``, keyed by transaction id:
  ``{"transaction_id", "account_id", "type": "credit" | "debit", "amount", "timestamp"}``
- ``accounts`` (compacted), keyed by account id: ``{"account_id", "customer_id", ...}``
- ``customers`` (compacted), keyed by customer id: ``{"customer_id", "name", ...}``
- outputs, keyed by transaction id: the transaction plus ``"account": {...}`` and
  ``"customer": {...}``, the rows as they were when the transaction was processed.

Why global tables: a transaction is keyed by its own id, not by account, so joining a
KTable would mean re-keying and repartitioning the stream (and the account table would
have to be co-partitioned with it). A GlobalKTable is held whole by every instance and
looked up with ``key_selector``, so the transactions keep their key and partitioning; the
second join finds the customer through the account the first one attached.

Unknown account or customer -- the choice made here: **left joins, then route such a
transaction to neither output, and report it.** A transaction whose ``account_id`` is
not in ``accounts``, or whose account names a customer not in ``customers``, leaves the
joins with ``None`` on the missing side; the first branch of the split catches it and
calls ``on_unrouted(reason, key, value)`` with reason ``"unknown account"`` or
``"unknown customer"`` (by default: a warning in the log). A transaction whose type is
neither credit nor debit goes the same way with ``"unknown type"``. An inner join would
drop it silently: kstreamlite counts no metric for a stream-global table join miss, so a
late or broken reference-data feed would go unnoticed. A real system would write these to
a dead-letter topic; this example keeps its outputs to the two the walkthrough names.

A transaction is joined with the rows present when it is processed and is never joined
again: an account that arrives after its transaction does not bring that transaction
back, and a later change to an account or customer shows in later transactions only.
Global tables are loaded whole before any task processes, so reference data produced
before the transactions is always seen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kstreamlite import StreamsBuilder, Topology

log = logging.getLogger("examples.banking")

UNKNOWN_ACCOUNT = "unknown account"
UNKNOWN_CUSTOMER = "unknown customer"
UNKNOWN_TYPE = "unknown type"

Unrouted = Callable[[str, Any, Any], Any]


def log_unrouted(reason: str, key: Any, value: Any) -> None:
    """The default ``on_unrouted``: one warning per transaction routed nowhere."""
    log.warning(
        "transaction %s routed to no output: %s (account_id=%r)",
        key,
        reason,
        value.get("account_id"),
    )


def with_account(transaction: dict[str, Any], account: dict[str, Any] | None) -> dict[str, Any]:
    return {**transaction, "account": account}


def customer_id_of(key: Any, enriched: dict[str, Any]) -> Any:
    """The second join's key selector: the customer of the account the first one found."""
    account = enriched["account"]
    return None if account is None else account.get("customer_id")


def with_customer(enriched: dict[str, Any], customer: dict[str, Any] | None) -> dict[str, Any]:
    return {**enriched, "customer": customer}


def is_unmatched(key: Any, enriched: dict[str, Any]) -> bool:
    return enriched["account"] is None or enriched["customer"] is None


def build_topology(
    transactions: str = "transactions",
    accounts: str = "accounts",
    customers: str = "customers",
    credits: str = "transactions.credits",
    debits: str = "transactions.debits",
    *,
    on_unrouted: Unrouted = log_unrouted,
) -> Topology:
    """The topology reading ``transactions``, ``accounts`` and ``customers`` and writing
    ``credits`` and ``debits``; ``on_unrouted(reason, key, value)`` hears of every
    transaction written to neither (called on the stream thread)."""
    builder = StreamsBuilder()
    account_table = builder.global_table(accounts, materialized="accounts-store")
    customer_table = builder.global_table(customers, materialized="customers-store")

    enriched = (
        builder.stream(transactions, name="transactions-source")
        .left_join(
            account_table,
            with_account,
            key_selector=lambda key, tx: tx["account_id"],
            name="join-account",
        )
        .left_join(customer_table, with_customer, key_selector=customer_id_of, name="join-customer")
    )
    routes = (
        enriched.split(prefix="route-")
        .branch(is_unmatched, name="unmatched")
        .branch(lambda key, tx: tx["type"] == "credit", name="credit")
        .branch(lambda key, tx: tx["type"] == "debit", name="debit")
        .default_branch(name="other")
    )
    routes["route-credit"].to(credits)
    routes["route-debit"].to(debits)

    def report_unmatched(key: Any, tx: dict[str, Any]) -> None:
        reason = UNKNOWN_ACCOUNT if tx["account"] is None else UNKNOWN_CUSTOMER
        on_unrouted(reason, key, tx)

    routes["route-unmatched"].foreach(report_unmatched, name="report-unmatched")
    routes["route-other"].foreach(
        lambda key, tx: on_unrouted(UNKNOWN_TYPE, key, tx), name="report-unknown-type"
    )
    return builder.build()
