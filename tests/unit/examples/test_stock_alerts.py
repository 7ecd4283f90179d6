"""The stock-alerts example's topology on the TopologyTestDriver: the threshold met
exactly (up and down) or just missed, the 60 s window's edges, out-of-order and late
updates, symbols kept apart, the threshold parameter, the alert's fields and key, and
agreement with the plain-Python reference on generated data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from examples.stock_alerts.app import STORE, build_topology
from examples.stock_alerts.generator import generate
from examples.stock_alerts.reference import expected_alerts
from kstreamlite import StreamsConfig, serdes
from kstreamlite.testing import TopologyTestDriver

T0 = 1_700_000_000_000
S = 1_000


class Market:
    """The driver with the two topics; ``update`` sends one price at ``T0 + at_ms``."""

    def __init__(self, driver: TopologyTestDriver) -> None:
        self.driver = driver
        self.prices = driver.create_input_topic(
            "stock-prices", key_serde=serdes.STRING, value_serde=serdes.JSON
        )
        self.alerts = driver.create_output_topic(
            "stock-alerts", key_serde=serdes.STRING, value_serde=serdes.JSON
        )

    def update(self, symbol: str, price: float, at_ms: int) -> None:
        value = {"symbol": symbol, "price": price, "timestamp": T0 + at_ms}
        # The Kafka record timestamp is deliberately wrong: event time is the value's.
        self.prices.pipe_input(symbol, value, timestamp=0)

    def read(self) -> list[dict[str, Any]]:
        return self.alerts.read_values_to_list()


def market_driver(threshold: float | None = None) -> TopologyTestDriver:
    topology = build_topology() if threshold is None else build_topology(threshold)
    return TopologyTestDriver(topology, config=StreamsConfig(application_id="stock-alerts"))


@pytest.fixture
def market() -> Iterator[Market]:
    with market_driver() as driver:
        yield Market(driver)


def test_alert_fields_key_and_event_time(market: Market) -> None:
    market.update("ACME", 100.0, 0)
    market.update("ACME", 106.0, 10 * S)
    records = market.alerts.read_records_to_list()
    assert len(records) == 1
    record = records[0]
    assert record.key == "ACME"
    assert record.timestamp == T0 + 10 * S
    assert record.value == {
        "symbol": "ACME",
        "direction": "up",
        "change_pct": 6.0,
        "from_price": 100.0,
        "to_price": 106.0,
        "timestamp": T0 + 10 * S,
    }
    assert list(record.value) == [  # the spec's field order
        "symbol",
        "direction",
        "change_pct",
        "from_price",
        "to_price",
        "timestamp",
    ]


def test_threshold_exactly_met_up_alerts(market: Market) -> None:
    # In floats 100.0 * 1.05 == 105.00000000000001 > 105.0: exactly met must still alert.
    market.update("ACME", 100.0, 0)
    market.update("ACME", 105.0, S)
    assert market.read() == [
        {
            "symbol": "ACME",
            "direction": "up",
            "change_pct": 5.0,
            "from_price": 100.0,
            "to_price": 105.0,
            "timestamp": T0 + S,
        }
    ]


def test_threshold_exactly_met_down_alerts(market: Market) -> None:
    market.update("ACME", 100.0, 0)
    market.update("ACME", 95.0, S)
    assert market.read() == [
        {
            "symbol": "ACME",
            "direction": "down",
            "change_pct": -5.0,
            "from_price": 100.0,
            "to_price": 95.0,
            "timestamp": T0 + S,
        }
    ]


@pytest.mark.parametrize(
    ("lo", "price"), [(0.1, 0.105), (19.99, 20.9895), (33.33, 34.9965), (1.1, 1.155)]
)
def test_threshold_exactly_met_on_awkward_decimals(market: Market, lo: float, price: float) -> None:
    market.update("X", lo, 0)
    market.update("X", price, S)
    [alert] = market.read()
    assert (alert["direction"], alert["from_price"], alert["to_price"]) == ("up", lo, price)
    assert alert["change_pct"] == 5.0


def test_just_below_the_threshold_no_alert(market: Market) -> None:
    market.update("ACME", 100.0, 0)
    market.update("ACME", 104.99, S)
    market.update("ACME", 100.0, 2 * S)  # hi = 104.99: 100 > 104.99 * 0.95
    market.update("ACME", 99.75, 3 * S)  # hi = 104.99, 104.99 * 0.95 = 99.7405
    assert market.read() == []


def test_first_update_of_a_symbol_never_alerts(market: Market) -> None:
    market.update("ACME", 100.0, 0)
    assert market.alerts.is_empty()


def test_a_price_exactly_60_s_before_counts(market: Market) -> None:
    market.update("ACME", 100.0, 0)
    market.update("ACME", 106.0, 60 * S)
    assert [a["from_price"] for a in market.read()] == [100.0]


def test_a_price_60_s_and_1_ms_before_does_not_count(market: Market) -> None:
    market.update("ACME", 100.0, 0)
    market.update("ACME", 106.0, 60 * S + 1)
    assert market.read() == []


def test_the_window_slides_with_each_update(market: Market) -> None:
    market.update("ACME", 100.0, 0)
    market.update("ACME", 103.0, 30 * S)
    market.update("ACME", 106.0, 59 * S)  # from 100 (0 s)
    market.update("ACME", 107.0, 61 * S)  # 100 is out; lo = 103: 3.9 %, no alert
    market.update("ACME", 109.0, 89 * S)  # lo = 103 (30 s): 5.83 %
    market.update("ACME", 110.0, 91 * S)  # 103 is out; lo = 106
    assert [(a["from_price"], a["to_price"]) for a in market.read()] == [
        (100.0, 106.0),
        (103.0, 109.0),
    ]


def test_every_triggering_update_alerts_once(market: Market) -> None:
    market.update("ACME", 100.0, 0)
    for i, price in enumerate([106.0, 107.0, 104.0, 108.0], start=1):
        market.update("ACME", price, i * S)
    assert [a["to_price"] for a in market.read()] == [106.0, 107.0, 108.0]


def test_up_wins_when_both_directions_trigger(market: Market) -> None:
    market.update("ACME", 100.0, 0)
    market.update("ACME", 120.0, S)
    market.update("ACME", 90.0, 2 * S)  # down from 120
    market.update("ACME", 110.0, 3 * S)  # up 10 % from 90 and down 8.3 % from 120: up
    assert [(a["direction"], a["from_price"]) for a in market.read()] == [
        ("up", 100.0),
        ("down", 120.0),
        ("up", 90.0),
    ]


def test_out_of_order_updates_use_the_window_around_their_own_time(market: Market) -> None:
    market.update("ACME", 100.0, 10 * S)
    market.update("ACME", 90.0, 70 * S)  # 100 is 60 s before: down 10 %
    # 3 s behind the highest time seen (within the 5 s bound): its window [6 s, 66 s]
    # holds 100 (10 s) but not 90, which was received earlier but is later in time.
    market.update("ACME", 106.0, 66 * S)
    # Window [7 s, 67 s]: 100 (10 s) and 106 (66 s), not 90 (70 s): 103 is neither 5 %
    # above 100 nor 5 % below 106 (it is 8.9 % above 90, which is outside).
    market.update("ACME", 103.0, 67 * S)
    assert [(a["direction"], a["from_price"], a["timestamp"]) for a in market.read()] == [
        ("down", 100.0, T0 + 70 * S),
        ("up", 100.0, T0 + 66 * S),
    ]


def test_an_out_of_order_price_is_in_later_updates_windows(market: Market) -> None:
    market.update("ACME", 106.0, 12 * S)
    # Received second but 4 s earlier in time: its window [-52 s, 8 s] is itself only.
    market.update("ACME", 100.0, 8 * S)
    market.update("ACME", 106.5, 13 * S)  # window holds both: up from 100
    assert [(a["direction"], a["from_price"]) for a in market.read()] == [("up", 100.0)]


def test_a_late_update_is_still_evaluated(market: Market) -> None:
    market.update("ACME", 100.0, 0)
    market.update("ACME", 101.0, 30 * S)
    market.update("OTHER", 50.0, 40 * S)  # the partition's watermark is now 35 s
    market.update("ACME", 110.0, 20 * S)  # behind the watermark: late, still evaluated
    assert [(a["from_price"], a["to_price"]) for a in market.read()] == [(100.0, 110.0)]


def test_a_late_update_only_sees_the_prices_still_held(market: Market) -> None:
    # The documented limit of pruning: prices older than watermark - 60 s are dropped,
    # so a late update whose window reaches further back does not see them.
    market.update("ACME", 100.0, 0)
    market.update("ACME", 101.0, 30 * S)
    market.update("OTHER", 50.0, 70 * S)  # watermark 65 s: ACME's 100 (0 s) can go
    market.update("ACME", 101.5, 64 * S)  # late; window [4 s, 64 s]: 101 only: no alert
    market.update("ACME", 106.5, 40 * S)  # late; window [-20 s, 40 s]; 100 already dropped
    assert [(a["from_price"], a["to_price"]) for a in market.read()] == [(101.0, 106.5)]


def test_the_store_holds_only_prices_a_future_window_can_reach(market: Market) -> None:
    for i in range(200):
        market.update("ACME", 100.0, i * S)
    held = market.driver.get_key_value_store(STORE).get("ACME")
    # Watermark 194 s: a future update's window starts at 134 s or later.
    assert [ts - T0 for ts, _ in held] == [i * S for i in range(134, 200)]


def test_symbols_are_kept_apart(market: Market) -> None:
    market.update("ACME", 100.0, 0)
    market.update("GLOBX", 200.0, S)
    market.update("ACME", 101.0, 2 * S)
    market.update("GLOBX", 189.0, 3 * S)  # down 5.5 % from GLOBX's 200
    market.update("ACME", 200.0 * 0.94, 4 * S)  # 188: up from ACME's 100, not down from 200
    market.update("GLOBX", 101.0, 5 * S)  # down from 200; ACME's 100 is not GLOBX's
    out = market.alerts.read_key_values_to_list()
    assert [(k, v["symbol"], v["direction"], v["from_price"]) for k, v in out] == [
        ("GLOBX", "GLOBX", "down", 200.0),
        ("ACME", "ACME", "up", 100.0),
        ("GLOBX", "GLOBX", "down", 200.0),
    ]


@pytest.mark.parametrize(
    ("threshold", "alerting"),
    [(0.01, [101.0, 102.0, 103.5]), (0.02, [102.0, 103.5]), (0.035, [103.5]), (0.1, [])],
)
def test_the_threshold_parameter(threshold: float, alerting: list[float]) -> None:
    with market_driver(threshold) as driver:
        market = Market(driver)
        market.update("ACME", 100.0, 0)
        for i, price in enumerate([100.5, 101.0, 102.0, 103.5], start=1):
            market.update("ACME", price, i * S)
        assert [a["to_price"] for a in market.read()] == alerting


def test_the_threshold_must_be_a_fraction() -> None:
    for bad in (0, 1, -0.05, 5):
        with pytest.raises(ValueError, match="threshold"):
            build_topology(bad)


def test_generated_updates_give_the_references_alerts() -> None:
    updates = list(generate(2_000, seed=3))
    expected = expected_alerts(updates)
    assert len(expected) > 100  # the generator makes alerts, up and down
    assert {a["direction"] for a in expected} == {"up", "down"}
    with market_driver() as driver:
        market = Market(driver)
        for u in updates:
            market.prices.pipe_input(u["symbol"], u)
        assert market.read() == expected


def test_generated_updates_are_never_behind_the_watermark() -> None:
    highest = -1
    for u in generate(5_000, seed=11):
        assert u["timestamp"] >= highest - 5_000
        highest = max(highest, u["timestamp"])
    assert list(generate(50, seed=5)) == list(generate(50, seed=5))
