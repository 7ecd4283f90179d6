"""What the banking topology must output for generated data, computed with plain dicts and
no kstreamlite: the oracle of the tests and of the example's own check.

It assumes what the example arranges: all reference data is in the global tables before
the first transaction is processed, so every transaction sees the latest row of its
account and customer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .generator import BankData
from .topology import UNKNOWN_ACCOUNT, UNKNOWN_CUSTOMER, UNKNOWN_TYPE


@dataclass
class Expected:
    credits: dict[str, dict[str, Any]] = field(default_factory=dict)  # by transaction id
    debits: dict[str, dict[str, Any]] = field(default_factory=dict)
    unrouted: dict[str, str] = field(default_factory=dict)  # transaction id -> reason


def expected_outputs(data: BankData) -> Expected:
    accounts = {row["account_id"]: row for row in data.accounts}  # the last row per key wins
    customers = {row["customer_id"]: row for row in data.customers}
    out = Expected()
    for tx in data.transactions:
        tx_id = tx["transaction_id"]
        account = accounts.get(tx["account_id"])
        customer = None if account is None else customers.get(account["customer_id"])
        if account is None:
            out.unrouted[tx_id] = UNKNOWN_ACCOUNT
        elif customer is None:
            out.unrouted[tx_id] = UNKNOWN_CUSTOMER
        elif tx["type"] in ("credit", "debit"):
            target = out.credits if tx["type"] == "credit" else out.debits
            target[tx_id] = {**tx, "account": account, "customer": customer}
        else:
            out.unrouted[tx_id] = UNKNOWN_TYPE
    return out
