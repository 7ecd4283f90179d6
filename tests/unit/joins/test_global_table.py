"""KStream.join / left_join with a GlobalKTable through the TopologyTestDriver."""

from __future__ import annotations

import pytest

from kstreamlite import serdes
from tests.unit.helpers import build, driver_for

from .support import pair, pipe, results


def by_account(key, value):
    return value["account"]


def global_join(mode="join", *, materialized=None, rekey=False):
    def define(b):
        accounts = b.global_table("accounts", materialized=materialized)
        stream = b.stream("tx")
        if rekey:
            stream = stream.select_key(lambda k, v: v["account"])
        getattr(stream, mode)(accounts, lambda tx, acc: [tx["n"], acc], key_selector=by_account).to(
            "out"
        )

    return define


def tx(n, account):
    return {"n": n, "account": account}


def test_inner_join_finds_the_row_by_the_key_selector_and_keeps_the_stream_key():
    with driver_for(global_join()) as driver:
        pipe(driver, "accounts", [("acc-1", "Ann", 0), ("acc-2", "Bob", 0)])
        pipe(driver, "tx", [("t1", tx(1, "acc-2"), 5), ("t2", tx(2, "acc-9"), 6)])
        pipe(driver, "tx", [("t3", tx(3, "acc-1"), 7)])
        assert results(driver) == [("t1", [1, "Bob"], 5), ("t3", [3, "Ann"], 7)]


def test_left_join_emits_none_when_the_selected_row_is_missing():
    with driver_for(global_join("left_join")) as driver:
        pipe(driver, "accounts", [("acc-1", "Ann", 0)])
        pipe(driver, "tx", [("t1", tx(1, "acc-1"), 5), ("t2", tx(2, "acc-9"), 6)])
        assert results(driver) == [("t1", [1, "Ann"], 5), ("t2", [2, None], 6)]


@pytest.mark.parametrize("mode", ["join", "left_join"])
def test_rows_piped_later_are_seen_by_later_records_only(mode):
    with driver_for(global_join(mode)) as driver:
        pipe(driver, "tx", [("t1", tx(1, "acc-1"), 100)])
        # a global table row carries no weight in time: an older row still counts
        pipe(driver, "accounts", [("acc-1", "Ann", 50)])
        pipe(driver, "tx", [("t2", tx(2, "acc-1"), 101)])
        pipe(driver, "accounts", [("acc-1", "Ann Smith", 60)])
        pipe(driver, "tx", [("t3", tx(3, "acc-1"), 102)])
        expected = [("t2", [2, "Ann"], 101), ("t3", [3, "Ann Smith"], 102)]
        if mode == "left_join":
            expected.insert(0, ("t1", [1, None], 100))
        assert results(driver) == expected


@pytest.mark.parametrize(("mode", "after"), [("join", []), ("left_join", [("t2", [2, None], 9)])])
def test_a_global_delete_removes_the_row(mode, after):
    with driver_for(global_join(mode, materialized="accounts-store")) as driver:
        pipe(driver, "accounts", [("acc-1", "Ann", 0)])
        pipe(driver, "tx", [("t1", tx(1, "acc-1"), 5)])
        pipe(driver, "accounts", [("acc-1", None, 6)])
        pipe(driver, "tx", [("t2", tx(2, "acc-1"), 9)])
        assert results(driver) == [("t1", [1, "Ann"], 5), *after]
        assert driver.get_key_value_store("accounts-store").get("acc-1") is None


def test_the_global_store_is_queryable_by_its_queryable_store_name():
    names = {}

    def define(b):
        accounts = b.global_table("accounts")
        names["store"] = accounts.queryable_store_name
        b.stream("tx").join(accounts, pair, key_selector=by_account).to("out")

    with driver_for(define) as driver:
        pipe(driver, "accounts", [("acc-1", "Ann", 0), ("acc-2", "Bob", 1), ("acc-1", "Al", 2)])
        store = driver.get_key_value_store(names["store"])
        assert store.get("acc-1") == "Al"
        assert store.get("acc-2") == "Bob"
        assert sorted((kv.key, kv.value) for kv in store.all()) == [
            ("acc-1", "Al"),
            ("acc-2", "Bob"),
        ]


def test_a_named_global_table_store_takes_the_given_name():
    def define(b):
        accounts = b.global_table("accounts", materialized="acc")
        assert accounts.queryable_store_name == "acc"
        b.stream("tx").join(accounts, pair, key_selector=by_account).to("out")

    with driver_for(define) as driver:
        pipe(driver, "accounts", [("acc-1", "Ann", 0)])
        assert driver.get_key_value_store("acc").get("acc-1") == "Ann"


def test_a_key_selector_returning_none_finds_no_row():
    def define(b):
        accounts = b.global_table("accounts")
        stream = b.stream("tx")
        stream.join(accounts, pair, key_selector=lambda k, v: None).to("inner")
        stream.left_join(accounts, pair, key_selector=lambda k, v: None).to("left")

    with driver_for(define) as driver:
        pipe(driver, "accounts", [("acc-1", "Ann", 0)])
        pipe(driver, "tx", [("t1", "x", 5)])
        assert results(driver, "inner") == []
        assert results(driver, "left") == [("t1", ["x", None], 5)]


def test_a_global_join_needs_no_repartition_and_no_co_partitioned_sub_topology():
    topology = build(global_join(rekey=True))
    assert not topology.repartition_topics  # the key selector finds the row, any partition
    (sub,) = topology.subtopologies()
    assert sub.source_topics == ["tx"]
    assert "accounts" in topology.describe()
    with driver_for(global_join(rekey=True)) as driver:
        pipe(driver, "accounts", [("acc-1", "Ann", 0)])
        pipe(driver, "tx", [("t1", tx(1, "acc-1"), 5)])
        assert results(driver) == [("acc-1", [1, "Ann"], 5)]


def test_global_table_serdes_apply_to_its_topic():
    def define(b):
        prices = b.global_table("prices", key_serde=serdes.STRING, value_serde=serdes.LONG)
        b.stream("orders").join(
            prices, lambda order, price: order["qty"] * price, key_selector=lambda k, v: v["sku"]
        ).to("out", value_serde=serdes.LONG)

    with driver_for(define) as driver:
        driver.create_input_topic("prices", value_serde=serdes.LONG).pipe_input("s1", 250, 0)
        pipe(driver, "orders", [("o1", {"sku": "s1", "qty": 3}, 5)])
        out = driver.create_output_topic("out", value_serde=serdes.LONG)
        assert out.read_key_values_to_list() == [("o1", 750)]


def test_a_rekeyed_stream_stays_marked_for_repartition_after_a_global_join():
    def define(b):
        accounts = b.global_table("accounts")
        (
            b.stream("tx")
            .select_key(lambda k, v: v["account"])
            .join(accounts, lambda t, a: a, key_selector=by_account)
            .group_by_key()
            .count(materialized="per-account")
        )

    topology = build(define)
    assert len(topology.repartition_topics) == 1  # before the count, not before the join
    with driver_for(define) as driver:
        pipe(driver, "accounts", [("acc-1", "Ann", 0)])
        pipe(driver, "tx", [("t1", tx(1, "acc-1"), 5), ("t2", tx(2, "acc-1"), 6)])
        assert driver.get_key_value_store("per-account").get("acc-1") == 2


def test_an_inner_join_counts_records_whose_key_selector_gives_none():
    from kstreamlite import StreamsBuilder
    from kstreamlite.testing import TopologyTestDriver

    b = StreamsBuilder()
    b.stream("in").join(b.global_table("g"), lambda v, r: v, key_selector=lambda k, v: None).to(
        "out"
    )
    with TopologyTestDriver(b.build()) as driver:
        driver.create_input_topic("in").pipe_input("k", {"x": 1})
        assert driver.create_output_topic("out").read_key_values_to_list() == []
        assert driver._errors.skipped == 1
