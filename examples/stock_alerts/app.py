"""The stock-alerts topology: for every price update, compare the price with the lowest
and highest price of the same symbol over the last 60 s of event time and emit an alert
when it moved by the threshold or more. Builds the graph only; never talks to Kafka.

Records (STRING keys, JSON values):

- ``stock-prices``, keyed by symbol: ``{"symbol": str, "price": float, "timestamp": int}``
  (epoch ms). Event time always comes from the value's ``timestamp`` (a
  ``timestamp_extractor``), not from the Kafka record's timestamp, with the watermark
  ``WatermarkStrategy.bounded_out_of_orderness(5 s)``.
- ``stock-alerts``, keyed by symbol: ``{"symbol", "direction": "up" | "down",
  "change_pct", "from_price", "to_price", "timestamp"}``.

The rule, for an update of price ``p`` at time ``t``: the window is the symbol's prices
received so far (in partition order) with timestamps in ``[t - 60 s, t]``, the update
itself included; ``lo``/``hi`` are its minimum/maximum. Up when ``p >= lo * (1 + x)``
(from ``lo``), else down when ``p <= hi * (1 - x)`` (from ``hi``); ``change_pct`` is
``(to - from) / from * 100`` rounded to 2 decimals. One alert per triggering update.

Why the Processor API and not ``SlidingWindows``: the window is anchored at each update
(``[t - 60 s, t]``) and must include prices received before the update with *later*
timestamps only when they fall inside it; and an alert is wanted per update, at once,
not per window when it closes. A key-value store holds, per symbol, the ``[timestamp,
price]`` pairs received so far.

Why the comparisons are decimal: in floats ``100.0 * 1.05 == 105.00000000000001``, so a
price of exactly 105 would miss a 5 % threshold from 100. The prices and the threshold are
compared as the decimals they print as (``Decimal(repr(f))``), so "exactly met" alerts.

Pruning and late updates -- the choice made here. A stored price can be dropped once no
future update's window can reach it. Updates at or after the task's watermark (the
highest timestamp seen on the partition minus 5 s) have windows starting at or after
``watermark - 60 s``, so the processor drops a symbol's prices older than that each time
it updates the symbol. An update behind the watermark is *late*; it is still stored and
evaluated, against the prices still held. Its window may reach back past what was
dropped, so for a late update the rule sees fewer prices than the spec says (it can miss
an alert, never invent one). Input whose disorder stays within the 5 s bound, as the
generator's does, is never late, and the alerts are exactly the rule's.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kstreamlite import Record, StreamsBuilder, Topology, serdes
from kstreamlite.processor import Processor, ProcessorContext
from kstreamlite.state import Stores
from kstreamlite.timing import WatermarkStrategy

SOURCE = "stock-prices"
SINK = "stock-alerts"
STORE = "stock-alerts-recent-prices"
WINDOW_MS = 60_000
MAX_OUT_OF_ORDERNESS_MS = 5_000
DEFAULT_THRESHOLD = 0.05


def event_time(key: Any, value: Any, record_timestamp: int) -> int:
    """The update's own ``timestamp`` field, whatever the Kafka record's timestamp says."""
    return int(value["timestamp"])


def _exact(f: float) -> Decimal:
    return Decimal(repr(float(f)))


def change_pct(from_price: float, to_price: float) -> float:
    return round((to_price - from_price) / from_price * 100, 2)


class PriceMoveDetector(Processor):
    """Per symbol: store the update, drop prices no future window can reach, compare."""

    def __init__(self, threshold: float) -> None:
        self._up = 1 + _exact(threshold)
        self._down = 1 - _exact(threshold)

    def init(self, context: ProcessorContext) -> None:
        self.context = context
        self.store = context.get_state_store(STORE)

    def process(self, record: Record) -> None:
        value = record.value
        symbol = str(value["symbol"])
        price = float(value["price"])
        t = record.timestamp
        # One input partition per task, so the task's watermark is its stream time (the
        # highest timestamp seen, this update's included) minus the out-of-orderness.
        keep_from = self.context.current_stream_time_ms - MAX_OUT_OF_ORDERNESS_MS - WINDOW_MS
        held: list[list[Any]] = self.store.get(symbol) or []
        held = [pair for pair in held if pair[0] >= keep_from]
        held.append([t, price])
        self.store.put(symbol, held)

        window = [p for ts, p in held if t - WINDOW_MS <= ts <= t]
        lo, hi = min(window), max(window)
        if _exact(price) >= _exact(lo) * self._up:
            alert = _alert(symbol, "up", lo, price, t)
        elif _exact(price) <= _exact(hi) * self._down:
            alert = _alert(symbol, "down", hi, price, t)
        else:
            return
        self.context.forward(Record(symbol, alert, t))


def _alert(
    symbol: str, direction: str, from_price: float, to_price: float, t: int
) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "direction": direction,
        "change_pct": change_pct(from_price, to_price),
        "from_price": from_price,
        "to_price": to_price,
        "timestamp": t,
    }


def build_topology(
    threshold: float = DEFAULT_THRESHOLD, *, source: str = SOURCE, sink: str = SINK
) -> Topology:
    """``stock-prices`` -> alerts -> ``stock-alerts``; ``threshold`` 0.05 is a 5 % move.
    ``source``/``sink`` rename the topics (tests keep runs apart so)."""
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be between 0 and 1 (exclusive), got {threshold}")
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
            watermark=WatermarkStrategy.bounded_out_of_orderness(MAX_OUT_OF_ORDERNESS_MS),
            name="prices-source",
        )
        .process(lambda: PriceMoveDetector(threshold), stores=[STORE], name="detect-moves")
        .to(sink, key_serde=serdes.STRING, value_serde=serdes.JSON)
    )
    return builder.build()
