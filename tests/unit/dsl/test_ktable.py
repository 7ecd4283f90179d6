"""KTables through the test driver: sources, deletes, derived tables, and re-grouping whose
counts stay exact when rows move between groups or disappear."""

from __future__ import annotations

import pytest

from kstreamlite import Materialized, StreamsBuilder, serdes
from kstreamlite.testing import TopologyTestDriver


def regions_topology(caching: bool = True):
    builder = StreamsBuilder()
    users = builder.table("users", materialized=Materialized(name="users", caching=caching))
    (
        users.group_by(lambda uid, user: (user["region"], user))
        .count(materialized=Materialized(name="per-region", caching=caching))
        .to_stream()
        .to("region-counts", value_serde=serdes.LONG)
    )
    return builder.build()


@pytest.mark.parametrize("caching", [True, False])
def test_group_by_counts_stay_exact_when_users_move_between_regions_and_leave(caching):
    with TopologyTestDriver(regions_topology(caching)) as driver:
        users = driver.create_input_topic("users")
        counts = driver.get_key_value_store
        users.pipe_input("ann", {"region": "eu"})
        users.pipe_input("bob", {"region": "eu"})
        users.pipe_input("cid", {"region": "us"})
        assert counts("per-region").get("eu") == 2
        assert counts("per-region").get("us") == 1

        users.pipe_input("bob", {"region": "us"})  # moves: eu loses one, us gains one
        assert (counts("per-region").get("eu"), counts("per-region").get("us")) == (1, 2)

        users.pipe_input("ann", None)  # deleted: eu loses her
        assert (counts("per-region").get("eu"), counts("per-region").get("us")) == (0, 2)
        assert counts("users").get("ann") is None

        users.pipe_input("ann", None)  # deleting an absent row changes nothing
        users.pipe_input("cid", {"region": "us"})  # same group again: subtract then add
        assert (counts("per-region").get("eu"), counts("per-region").get("us")) == (0, 2)

        out = driver.create_output_topic("region-counts", value_serde=serdes.LONG)
        assert out.read_key_values_to_map() == {"eu": 0, "us": 2}


def test_region_move_emits_the_subtraction_before_the_addition():
    with TopologyTestDriver(regions_topology(caching=False)) as driver:
        users = driver.create_input_topic("users")
        out = driver.create_output_topic("region-counts", value_serde=serdes.LONG)
        users.pipe_input("ann", {"region": "eu"})
        out.read_key_values_to_list()
        users.pipe_input("ann", {"region": "us"})
        assert out.read_key_values_to_list() == [("eu", 0), ("us", 1)]


def test_table_source_to_stream_emits_updates_and_tombstones():
    builder = StreamsBuilder()
    builder.table("t", materialized="t-store").to_stream().to("changes")
    with TopologyTestDriver(builder.build()) as driver:
        table = driver.create_input_topic("t")
        table.pipe_input("k", {"v": 1})
        table.pipe_input("k", {"v": 2})
        table.pipe_input("k", None)
        out = driver.create_output_topic("changes")
        assert out.read_key_values_to_list() == [("k", {"v": 1}), ("k", {"v": 2}), ("k", None)]
        assert driver.get_key_value_store("t-store").get("k") is None


def test_table_filter_deletes_a_row_that_stops_matching():
    builder = StreamsBuilder()
    (
        builder.table("t")
        .filter(lambda k, v: v["score"] >= 10)
        .map_values(lambda v: v["score"])
        .to_stream()
        .to("high", value_serde=serdes.INT)
    )
    with TopologyTestDriver(builder.build()) as driver:
        table = driver.create_input_topic("t")
        table.pipe_input("a", {"score": 5})  # never matched: nothing
        table.pipe_input("a", {"score": 12})  # starts matching
        table.pipe_input("a", {"score": 3})  # stops matching: delete
        out = driver.create_output_topic("high", value_serde=serdes.INT)
        assert out.read_key_values_to_list() == [("a", 12), ("a", None)]


def test_stream_to_table_upserts_and_is_queryable():
    builder = StreamsBuilder()
    table = builder.stream("s").to_table(materialized="latest")
    assert table.queryable_store_name == "latest"
    with TopologyTestDriver(builder.build()) as driver:
        stream = driver.create_input_topic("s")
        stream.pipe_key_value_list([("a", 1), ("b", 2), ("a", 3)])
        store = driver.get_key_value_store("latest")
        assert list(store.all()) == [("a", 3), ("b", 2)]


def test_grouped_table_reduce_and_aggregate_subtract_old_values():
    builder = StreamsBuilder()
    balances = builder.table("accounts")
    by_bank = balances.group_by(lambda acct, a: (a["bank"], a["balance"]))
    by_bank.reduce(lambda agg, v: agg + v, lambda agg, v: agg - v, materialized="sum")
    balances.group_by(lambda acct, a: (a["bank"], a["balance"])).aggregate(
        lambda: {"n": 0, "total": 0},
        lambda bank, v, agg: {"n": agg["n"] + 1, "total": agg["total"] + v},
        lambda bank, v, agg: {"n": agg["n"] - 1, "total": agg["total"] - v},
        materialized="stats",
    )
    with TopologyTestDriver(builder.build()) as driver:
        accounts = driver.create_input_topic("accounts")
        accounts.pipe_input("x", {"bank": "b1", "balance": 100})
        accounts.pipe_input("y", {"bank": "b1", "balance": 50})
        accounts.pipe_input("x", {"bank": "b2", "balance": 70})
        assert driver.get_key_value_store("sum").get("b1") == 50
        assert driver.get_key_value_store("sum").get("b2") == 70
        assert driver.get_key_value_store("stats").get("b1") == {"n": 1, "total": 50}
        assert driver.get_key_value_store("stats").get("b2") == {"n": 1, "total": 70}


def test_table_group_by_repartitions_through_a_named_topic():
    builder = StreamsBuilder()
    builder.table("users").group_by(lambda k, v: (v["region"], v), name="by-region").count()
    with TopologyTestDriver(builder.build(), config={"application_id": "app"}) as driver:
        driver.create_input_topic("users").pipe_input("u", {"region": "eu"})
        assert "app-by-region-repartition" in driver.produced_topic_names()
