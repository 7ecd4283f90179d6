"""The fraud example's topology on the TopologyTestDriver: the card-testing rule at its
edges (amounts, the 60 s window, what counts as the next transaction), accounts kept
apart, the stream-time punctuator clearing old flags without changing any result, and the
whole topology against the plain-Python reference on generated traffic."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from examples.fraud.app import (
    DEFAULT_GRACE_MS,
    PUNCTUATE_EVERY_MS,
    SINK,
    SOURCE,
    STORE,
    WINDOW_MS,
    build_topology,
)
from examples.fraud.generator import generate
from examples.fraud.reference import expected_alerts
from kstreamlite import StreamsConfig
from kstreamlite.testing import TopologyTestDriver

T0 = 1_767_225_600_000


def tx(tx_id: str, account: str, amount: float, ts: int) -> dict[str, Any]:
    return {"transaction_id": tx_id, "account_id": account, "amount": amount, "timestamp": ts}


class Fraud:
    """The driver, its two topics and the flag store."""

    def __init__(self, driver: TopologyTestDriver) -> None:
        self.driver = driver
        self.transactions = driver.create_input_topic(SOURCE)
        self.alerts = driver.create_output_topic(SINK)

    def send(self, *transactions: dict[str, Any]) -> None:
        # The Kafka record timestamp is deliberately wrong: event time comes from the value.
        for t in transactions:
            self.transactions.pipe_input(t["account_id"], t, timestamp=0)

    def alert_pairs(self) -> list[tuple[str, str]]:
        return [
            (a["small_transaction_id"], a["large_transaction_id"])
            for a in self.alerts.read_values_to_list()
        ]

    def flags(self) -> dict[str, Any]:
        return {kv.key: kv.value for kv in self.driver.get_key_value_store(STORE).all()}


def driver_of(**kwargs: Any) -> TopologyTestDriver:
    return TopologyTestDriver(build_topology(**kwargs), config=StreamsConfig(application_id="f"))


@pytest.fixture
def fraud() -> Iterator[Fraud]:
    with driver_of() as driver:
        yield Fraud(driver)


def test_small_then_large_within_60_s_is_an_alert_keyed_by_account(fraud: Fraud) -> None:
    fraud.send(tx("s1", "a1", 0.05, T0), tx("l1", "a1", 900.0, T0 + 30_000))
    record = fraud.alerts.read_record()
    assert record.key == "a1"
    assert record.value == {
        "account_id": "a1",
        "small_transaction_id": "s1",
        "large_transaction_id": "l1",
        "small_amount": 0.05,
        "large_amount": 900.0,
        "timestamp": T0 + 30_000,
    }
    assert record.timestamp == T0 + 30_000  # the large one's event time, from the value
    assert fraud.alerts.is_empty()
    assert fraud.flags() == {}  # the alert used the flag up


def test_exactly_60_s_later_is_an_alert(fraud: Fraud) -> None:
    fraud.send(tx("s1", "a1", 0.01, T0), tx("l1", "a1", 501.0, T0 + WINDOW_MS))
    assert fraud.alert_pairs() == [("s1", "l1")]


def test_60_s_and_1_ms_later_is_no_alert(fraud: Fraud) -> None:
    fraud.send(tx("s1", "a1", 0.01, T0), tx("l1", "a1", 501.0, T0 + WINDOW_MS + 1))
    assert fraud.alerts.is_empty()
    assert fraud.flags() == {}  # the large one was the next transaction: the flag is gone


def test_a_large_one_stamped_before_the_small_one_is_not_after_it(fraud: Fraud) -> None:
    fraud.send(tx("s1", "a1", 0.01, T0 + 5_000), tx("l1", "a1", 800.0, T0 + 4_999))
    assert fraud.alerts.is_empty()


@pytest.mark.parametrize(
    ("small", "large", "alerted"),
    [
        (0.09, 500.01, True),
        (0.10, 500.01, False),  # 0.10 is not small
        (0.09, 500.00, False),  # 500.00 is not large
        (0.0, 10_000.0, True),
    ],
)
def test_amount_edges(fraud: Fraud, small: float, large: float, alerted: bool) -> None:
    fraud.send(tx("s1", "a1", small, T0), tx("l1", "a1", large, T0 + 1_000))
    assert fraud.alert_pairs() == ([("s1", "l1")] if alerted else [])


def test_a_medium_transaction_in_between_means_no_alert(fraud: Fraud) -> None:
    fraud.send(
        tx("s1", "a1", 0.05, T0),
        tx("m1", "a1", 42.0, T0 + 1_000),
        tx("l1", "a1", 900.0, T0 + 2_000),
    )
    assert fraud.alerts.is_empty()


def test_a_second_small_one_replaces_the_flag_and_is_reported(fraud: Fraud) -> None:
    fraud.send(
        tx("s1", "a1", 0.05, T0),
        tx("s2", "a1", 0.07, T0 + 50_000),
        tx("l1", "a1", 900.0, T0 + 100_000),  # 100 s after s1, 50 s after s2
    )
    [alert] = fraud.alerts.read_values_to_list()
    assert (alert["small_transaction_id"], alert["small_amount"]) == ("s2", 0.07)
    assert alert["large_transaction_id"] == "l1"


def test_a_large_one_alerts_once_and_the_next_large_one_not_at_all(fraud: Fraud) -> None:
    fraud.send(
        tx("s1", "a1", 0.05, T0),
        tx("l1", "a1", 900.0, T0 + 1_000),
        tx("l2", "a1", 950.0, T0 + 2_000),
    )
    assert fraud.alert_pairs() == [("s1", "l1")]


def test_accounts_are_kept_apart_when_interleaved(fraud: Fraud) -> None:
    fraud.send(
        tx("s1", "a1", 0.05, T0),
        tx("s2", "a2", 0.02, T0 + 1_000),
        tx("m2", "a3", 30.0, T0 + 2_000),  # another account's medium does not clear a1's flag
        tx("l2", "a2", 700.0, T0 + 3_000),
        tx("m1", "a2", 40.0, T0 + 4_000),
        tx("l1", "a1", 600.0, T0 + 5_000),
        tx("l3", "a3", 800.0, T0 + 6_000),  # a3 never had a small one
    )
    assert [
        (r.key, r.value["large_transaction_id"]) for r in fraud.alerts.read_records_to_list()
    ] == [
        ("a2", "l2"),
        ("a1", "l1"),
    ]


def test_the_punctuator_clears_a_flag_only_once_stream_time_passes_it_plus_60_s_and_grace(
    fraud: Fraud,
) -> None:
    fraud.send(tx("s1", "a1", 0.05, T0))
    expires = T0 + WINDOW_MS + DEFAULT_GRACE_MS
    fraud.send(tx("x1", "a2", 10.0, expires))  # stream time reaches the limit, not beyond
    assert set(fraud.flags()) == {"a1"}
    fraud.send(tx("x2", "a2", 10.0, expires + 10_001))  # beyond it, and a punctuation is due
    assert fraud.flags() == {}
    assert fraud.driver.get_key_value_store(STORE).approximate_num_entries() == 0
    assert fraud.alerts.is_empty()


def test_clearing_never_changes_the_result_for_a_transaction_within_grace(
    fraud: Fraud,
) -> None:
    # Stream time runs 70 s past the small one (a punctuation fires), then a.1's next
    # transaction arrives out of order, stamped 60 s after its small one: still fraud.
    fraud.send(tx("s1", "a1", 0.05, T0), tx("x1", "a2", 10.0, T0 + WINDOW_MS + 10_000))
    assert set(fraud.flags()) == {"a1"}
    fraud.send(tx("l1", "a1", 900.0, T0 + WINDOW_MS))
    assert fraud.alert_pairs() == [("s1", "l1")]


def test_a_transaction_later_than_grace_may_miss_its_alert_whatever_the_punctuator_did() -> None:
    # The documented trade-off, and the output does not depend on when punctuations fire:
    # the expiry is applied when the transaction is processed too.
    with driver_of(grace=0) as driver:
        f = Fraud(driver)
        f.send(tx("s1", "a1", 0.05, T0), tx("x1", "a2", 10.0, T0 + WINDOW_MS + 1))
        f.send(tx("l1", "a1", 900.0, T0 + WINDOW_MS))  # in the window, but 1 ms too late
        assert f.alerts.is_empty()
        assert f.flags() == {}


def test_matches_the_reference_on_generated_traffic() -> None:
    data = generate(20_000, accounts=1_000, seed=3)
    expected = expected_alerts(data)
    assert len(expected) > 100
    with driver_of() as driver:
        f = Fraud(driver)
        f.send(*data)
        assert f.alerts.read_values_to_list() == expected
        # The store holds only flags the punctuator could not clear yet: none expired
        # before the last punctuation, however many accounts went quiet after a card test.
        stream_time = max(t["timestamp"] for t in data)
        oldest_kept = stream_time - WINDOW_MS - DEFAULT_GRACE_MS - PUNCTUATE_EVERY_MS
        flags = f.flags()
        assert flags
        assert all(v["timestamp"] >= oldest_kept for v in flags.values())


def test_generated_traffic_covers_every_case_the_rule_has() -> None:
    data = generate(20_000, accounts=1_000, seed=3)
    by_id = {t["transaction_id"]: t for t in data}
    gaps = {
        by_id[a["large_transaction_id"]]["timestamp"]
        - by_id[a["small_transaction_id"]]["timestamp"]
        for a in expected_alerts(data)
    }
    assert WINDOW_MS in gaps  # the edge case occurs
    assert generate(500, seed=9) == generate(500, seed=9)  # deterministic
    assert generate(500, seed=9) != generate(500, seed=10)
    timestamps = [t["timestamp"] for t in data]
    assert any(b < a for a, b in itertools.pairwise(timestamps))  # out of order
