"""Foreign-key table joins: rows follow their foreign key, both sides trigger, deletes and
key changes propagate, stale responses are dropped."""

from __future__ import annotations

import pytest

from kstreamlite import KeyValue, StreamsBuilder
from kstreamlite.errors import TopologyError
from kstreamlite.testing import TopologyTestDriver


def fk_join(mode: str = "join"):
    b = StreamsBuilder()
    orders = b.table("orders")
    customers = b.table("customers")
    joined = getattr(orders, mode)(
        customers,
        lambda order, customer: [order["n"], None if customer is None else customer["name"]],
        foreign_key_extractor=lambda order: order.get("customer"),
    )
    joined.to_stream().to("out")
    return b.build(), joined


@pytest.fixture
def inner():
    topology, joined = fk_join("join")
    with TopologyTestDriver(topology) as driver:
        yield driver, joined


@pytest.fixture
def left():
    topology, joined = fk_join("left_join")
    with TopologyTestDriver(topology) as driver:
        yield driver, joined


def pipe(driver, topic, key, value):
    driver.create_input_topic(topic).pipe_input(key, value)


def out(driver):
    return [
        (kv.key, kv.value) for kv in driver.create_output_topic("out").read_key_values_to_list()
    ]


def test_a_row_joins_the_row_its_foreign_key_names_whichever_arrives_first(inner):
    driver, _ = inner
    pipe(driver, "orders", "o1", {"n": 1, "customer": "c1"})
    assert out(driver) == []  # no customer yet: an inner join has no row
    pipe(driver, "customers", "c1", {"name": "ann"})
    pipe(driver, "customers", "c2", {"name": "bob"})
    pipe(driver, "orders", "o2", {"n": 2, "customer": "c2"})
    assert out(driver) == [("o1", [1, "ann"]), ("o2", [2, "bob"])]


def test_a_right_change_updates_every_subscribed_row(inner):
    driver, _ = inner
    pipe(driver, "customers", "c1", {"name": "ann"})
    pipe(driver, "orders", "o1", {"n": 1, "customer": "c1"})
    pipe(driver, "orders", "o2", {"n": 2, "customer": "c1"})
    out(driver)
    pipe(driver, "customers", "c1", {"name": "annie"})
    assert sorted(out(driver)) == [("o1", [1, "annie"]), ("o2", [2, "annie"])]


def test_a_foreign_key_change_moves_the_row_to_its_new_match_and_off_the_old(inner):
    driver, joined = inner
    pipe(driver, "customers", "c1", {"name": "ann"})
    pipe(driver, "customers", "c2", {"name": "bob"})
    pipe(driver, "orders", "o1", {"n": 1, "customer": "c1"})
    pipe(driver, "orders", "o1", {"n": 1, "customer": "c2"})
    assert out(driver) == [("o1", [1, "ann"]), ("o1", [1, "bob"])]
    pipe(driver, "customers", "c1", {"name": "annie"})  # o1 no longer follows c1
    assert out(driver) == []
    pipe(driver, "customers", "c2", {"name": "bobby"})
    assert out(driver) == [("o1", [1, "bobby"])]
    store = driver.get_key_value_store(joined.queryable_store_name)
    assert list(store.all()) == [KeyValue("o1", [1, "bobby"])]


def test_a_change_of_other_fields_rejoins_with_the_same_right_row(inner):
    driver, _ = inner
    pipe(driver, "customers", "c1", {"name": "ann"})
    pipe(driver, "orders", "o1", {"n": 1, "customer": "c1"})
    pipe(driver, "orders", "o1", {"n": 10, "customer": "c1"})
    assert out(driver) == [("o1", [1, "ann"]), ("o1", [10, "ann"])]


def test_deletes_on_either_side_remove_the_result(inner):
    driver, joined = inner
    pipe(driver, "customers", "c1", {"name": "ann"})
    pipe(driver, "orders", "o1", {"n": 1, "customer": "c1"})
    pipe(driver, "orders", "o2", {"n": 2, "customer": "c1"})
    out(driver)
    pipe(driver, "orders", "o1", None)
    assert out(driver) == [("o1", None)]
    pipe(driver, "customers", "c1", None)
    assert out(driver) == [("o2", None)]
    assert list(driver.get_key_value_store(joined.queryable_store_name).all()) == []
    pipe(driver, "customers", "c1", {"name": "again"})  # o1 was deleted, o2 still follows c1
    assert out(driver) == [("o2", [2, "again"])]


def test_a_row_without_a_foreign_key_has_no_inner_result(inner):
    driver, _ = inner
    pipe(driver, "customers", "c1", {"name": "ann"})
    pipe(driver, "orders", "o1", {"n": 1, "customer": "c1"})
    pipe(driver, "orders", "o1", {"n": 1})  # the key goes away: so does the result
    assert out(driver) == [("o1", [1, "ann"]), ("o1", None)]


def test_left_join_keeps_every_left_row(left):
    driver, _ = left
    pipe(driver, "orders", "o1", {"n": 1, "customer": "c1"})
    pipe(driver, "orders", "o2", {"n": 2})
    pipe(driver, "customers", "c1", {"name": "ann"})
    pipe(driver, "customers", "c1", None)
    pipe(driver, "orders", "o2", None)
    assert out(driver) == [
        ("o1", [1, None]),
        ("o2", [2, None]),
        ("o1", [1, "ann"]),
        ("o1", [1, None]),
        ("o2", None),
    ]


def test_a_foreign_key_extractor_that_is_not_a_function_is_rejected():
    b = StreamsBuilder()
    with pytest.raises(TopologyError, match="foreign_key_extractor"):
        b.table("a").join(b.table("b"), lambda x, y: x, foreign_key_extractor="customer")


def test_internal_topics_follow_the_tables_they_join():
    topology, _ = fk_join()
    topics = topology.repartition_topics
    registration = next(t for t in topics.values() if t.suffix.endswith("registration"))
    response = next(t for t in topics.values() if t.suffix.endswith("response"))
    subs = {n: s for s in topology.subtopologies() for n in s.nodes}
    # the registration topic is read beside the customers table, responses beside orders
    assert "customers" in subs[registration.copartition_node].source_topics
    assert "orders" in subs[response.copartition_node].source_topics
