"""The alerts the stock-alerts topology must emit for given updates, computed with plain
lists and no kstreamlite: the oracle of the tests.

It is the rule of the spec read literally: for each update, in the order sent, look at
every earlier update of the same symbol (and the update itself) whose timestamp lies in
``[t - 60 s, t]``. It prunes nothing, so it agrees with the topology whenever no update is
late (disorder within the 5 s watermark bound), which holds for the generator's data.
Thresholds are compared as exact fractions of the decimals the numbers print as, so a
move of exactly the threshold alerts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

WINDOW_MS = 60_000


def expected_alerts(
    updates: Iterable[dict[str, Any]], threshold: float = 0.05
) -> list[dict[str, Any]]:
    """The alerts in the order the updates trigger them."""
    x = Fraction(repr(threshold))
    seen: dict[str, list[tuple[int, float]]] = defaultdict(list)
    alerts = []
    for update in updates:
        symbol, price, t = update["symbol"], update["price"], update["timestamp"]
        seen[symbol].append((t, price))
        window = [p for ts, p in seen[symbol] if t - WINDOW_MS <= ts <= t]
        lo, hi = min(window), max(window)
        exact_price = Fraction(repr(price))
        if exact_price >= Fraction(repr(lo)) * (1 + x):
            direction, start = "up", lo
        elif exact_price <= Fraction(repr(hi)) * (1 - x):
            direction, start = "down", hi
        else:
            continue
        alerts.append(
            {
                "symbol": symbol,
                "direction": direction,
                "change_pct": round((price - start) / start * 100, 2),
                "from_price": start,
                "to_price": price,
                "timestamp": t,
            }
        )
    return alerts
