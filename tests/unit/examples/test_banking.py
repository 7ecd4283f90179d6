"""The banking example's topology on the TopologyTestDriver: routing by type, enrichment
from the two global tables, transactions with an unknown account or customer routed
nowhere and reported, and reference-data changes seen by later transactions only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from examples.banking.generator import generate
from examples.banking.reference import expected_outputs
from examples.banking.topology import (
    UNKNOWN_ACCOUNT,
    UNKNOWN_CUSTOMER,
    UNKNOWN_TYPE,
    build_topology,
)
from kstreamlite import StreamsConfig
from kstreamlite.testing import TopologyTestDriver

ADA = {"customer_id": "c1", "name": "Ada Lovelace", "segment": "premium"}
ALAN = {"customer_id": "c2", "name": "Alan Turing", "segment": "retail"}
CHECKING = {"account_id": "a1", "customer_id": "c1", "kind": "checking", "currency": "EUR"}
SAVINGS = {"account_id": "a2", "customer_id": "c2", "kind": "savings", "currency": "GBP"}


def tx(tx_id: str, account_id: str, kind: str, amount: float, ts: int = 1_000) -> dict[str, Any]:
    return {
        "transaction_id": tx_id,
        "account_id": account_id,
        "type": kind,
        "amount": amount,
        "timestamp": ts,
    }


class Bank:
    """The driver and its topics, with what ``on_unrouted`` heard."""

    def __init__(self, driver: TopologyTestDriver, unrouted: list[tuple[str, str]]) -> None:
        self.driver = driver
        self.unrouted = unrouted
        self.transactions = driver.create_input_topic("transactions")
        self.accounts = driver.create_input_topic("accounts")
        self.customers = driver.create_input_topic("customers")
        self.credits = driver.create_output_topic("transactions.credits")
        self.debits = driver.create_output_topic("transactions.debits")

    def send(self, *transactions: dict[str, Any]) -> None:
        for t in transactions:
            self.transactions.pipe_input(t["transaction_id"], t)

    def add_account(self, account: dict[str, Any]) -> None:
        self.accounts.pipe_input(account["account_id"], account)

    def add_customer(self, customer: dict[str, Any]) -> None:
        self.customers.pipe_input(customer["customer_id"], customer)


@pytest.fixture
def bank() -> Iterator[Bank]:
    unrouted: list[tuple[str, str]] = []
    topology = build_topology(on_unrouted=lambda reason, key, value: unrouted.append((key, reason)))
    config = StreamsConfig(application_id="banking")
    with TopologyTestDriver(topology, config=config) as driver:
        b = Bank(driver, unrouted)
        for customer in (ADA, ALAN):
            b.add_customer(customer)
        for account in (CHECKING, SAVINGS):
            b.add_account(account)
        yield b


def test_credits_and_debits_go_to_their_own_topic_keyed_by_transaction_id(bank: Bank) -> None:
    bank.send(
        tx("t1", "a1", "credit", 100.0),
        tx("t2", "a1", "debit", 20.5),
        tx("t3", "a2", "debit", 7.25),
        tx("t4", "a2", "credit", 1.0),
    )
    assert [k for k, _ in bank.credits.read_key_values_to_list()] == ["t1", "t4"]
    assert [k for k, _ in bank.debits.read_key_values_to_list()] == ["t2", "t3"]
    assert bank.unrouted == []


def test_output_is_the_transaction_plus_its_account_and_that_accounts_customer(
    bank: Bank,
) -> None:
    bank.send(tx("t1", "a2", "credit", 250.75, ts=1_234))
    assert bank.credits.read_key_value() == (
        "t1",
        {
            "transaction_id": "t1",
            "account_id": "a2",
            "type": "credit",
            "amount": 250.75,
            "timestamp": 1_234,
            "account": SAVINGS,
            "customer": ALAN,
        },
    )
    assert bank.debits.is_empty()


def test_transaction_on_an_unknown_account_goes_to_neither_output_and_is_reported(
    bank: Bank,
) -> None:
    bank.send(tx("t1", "a-missing", "credit", 5.0), tx("t2", "a1", "debit", 3.0))
    assert bank.credits.is_empty()
    assert [k for k, _ in bank.debits.read_key_values_to_list()] == ["t2"]
    assert bank.unrouted == [("t1", UNKNOWN_ACCOUNT)]


def test_transaction_whose_account_names_an_unknown_customer_is_reported_not_routed(
    bank: Bank,
) -> None:
    bank.add_account({"account_id": "a3", "customer_id": "c-missing", "kind": "checking"})
    bank.send(tx("t1", "a3", "debit", 5.0))
    assert bank.credits.is_empty() and bank.debits.is_empty()
    assert bank.unrouted == [("t1", UNKNOWN_CUSTOMER)]


def test_transaction_of_an_unknown_type_is_reported_not_routed(bank: Bank) -> None:
    bank.send(tx("t1", "a1", "refund", 5.0))
    assert bank.credits.is_empty() and bank.debits.is_empty()
    assert bank.unrouted == [("t1", UNKNOWN_TYPE)]


def test_an_account_that_arrives_later_enriches_later_transactions_only(bank: Bank) -> None:
    bank.send(tx("t1", "a9", "credit", 1.0))
    bank.add_account({"account_id": "a9", "customer_id": "c1", "kind": "savings"})
    bank.send(tx("t2", "a9", "credit", 2.0))
    assert bank.unrouted == [("t1", UNKNOWN_ACCOUNT)]
    [(key, value)] = bank.credits.read_key_values_to_list()
    assert key == "t2" and value["account"]["account_id"] == "a9" and value["customer"] == ADA


def test_an_account_update_is_seen_by_later_transactions_not_earlier_ones(bank: Bank) -> None:
    bank.send(tx("t1", "a1", "debit", 10.0))
    moved = {**CHECKING, "customer_id": "c2", "currency": "USD"}  # now Alan's, in dollars
    bank.add_account(moved)
    bank.send(tx("t2", "a1", "debit", 11.0))
    (_, before), (_, after) = bank.debits.read_key_values_to_list()
    assert before["account"] == CHECKING and before["customer"] == ADA
    assert after["account"] == moved and after["customer"] == ALAN


def test_a_customer_change_is_visible_in_later_transactions(bank: Bank) -> None:
    bank.send(tx("t1", "a1", "credit", 10.0))
    renamed = {**ADA, "name": "Augusta Ada King", "segment": "business"}
    bank.add_customer(renamed)
    bank.send(tx("t2", "a1", "credit", 12.0))
    (_, before), (_, after) = bank.credits.read_key_values_to_list()
    assert before["customer"] == ADA
    assert after["customer"] == renamed
    assert after["account"] == CHECKING


def test_generated_data_gives_exactly_the_reference_outputs() -> None:
    data = generate(customers=40, accounts=100, transactions=2_000, seed=3)
    expected = expected_outputs(data)
    # The generator's broken rows must be there for this test to prove anything.
    assert {UNKNOWN_ACCOUNT, UNKNOWN_CUSTOMER} <= set(expected.unrouted.values())
    unrouted: dict[str, str] = {}
    topology = build_topology(on_unrouted=lambda reason, key, value: unrouted.update({key: reason}))
    with TopologyTestDriver(topology, config=StreamsConfig(application_id="banking")) as driver:
        bank = Bank(driver, [])
        for customer in data.customers:
            bank.add_customer(customer)
        for account in data.accounts:
            bank.add_account(account)
        bank.send(*data.transactions)
        credits = bank.credits.read_key_values_to_list()
        debits = bank.debits.read_key_values_to_list()
    assert dict(credits) == expected.credits and len(credits) == len(expected.credits)
    assert dict(debits) == expected.debits and len(debits) == len(expected.debits)
    assert unrouted == expected.unrouted


def test_generator_is_deterministic_for_a_seed() -> None:
    assert generate(10, 20, 100, seed=1) == generate(10, 20, 100, seed=1)
    assert generate(10, 20, 100, seed=1) != generate(10, 20, 100, seed=2)
