"""What the fraud topology must output for generated input, computed with a plain dict and
no kstreamlite: the oracle of the tests and of the example's own check.

Arrival order per account is the order the transactions were produced in: they are keyed
by account, so one account's transactions share a partition and keep their order. This is
the rule alone, with no flag expiry: the topology matches it whenever no transaction
arrives more than its ``grace`` behind the stream time, which the generator guarantees
(its lateness, 3 s by default, is below the default grace of 10 s).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .app import LARGE_ABOVE, SMALL_BELOW, WINDOW_MS


def expected_alerts(transactions: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The alerts, in the order their large transactions arrive."""
    last_small: dict[str, dict[str, Any]] = {}  # account -> small transaction not yet followed
    alerts = []
    for tx in transactions:
        account = tx["account_id"]
        small = last_small.pop(account, None)  # whatever comes next uses the flag up
        if tx["amount"] < SMALL_BELOW:
            last_small[account] = tx
        elif (
            small is not None
            and tx["amount"] > LARGE_ABOVE
            and 0 <= tx["timestamp"] - small["timestamp"] <= WINDOW_MS
        ):
            alerts.append(
                {
                    "account_id": account,
                    "small_transaction_id": small["transaction_id"],
                    "large_transaction_id": tx["transaction_id"],
                    "small_amount": small["amount"],
                    "large_amount": tx["amount"],
                    "timestamp": tx["timestamp"],
                }
            )
    return alerts
