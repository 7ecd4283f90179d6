"""Joins on a real broker: a stream-table join keeps its table across a restart (on the
same state directory, and restored from the changelog on a wiped one); a GlobalKTable is
loaded whole before the first stream record is joined; a KTable's rows already waiting
in its topic are read before the newer stream records waiting next to them. Checked where
a user looks: the output topic and ``app.store(name)``."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from kstreamlite import KafkaStreams, State, StreamsBuilder

from .kafka_helpers import (
    KafkaHelper,
    close_all,
    failed,
    json_value,
    key_str,
    start_app,
    streams_config,
    wait_running,
    wait_until,
)

pytestmark = pytest.mark.integration

TIERS = ("bronze", "silver", "gold")


def _customers(count: int) -> dict[str, dict[str, Any]]:
    return {
        f"c{i:05d}": {"name": f"Customer {i}", "tier": TIERS[i % len(TIERS)]} for i in range(count)
    }


def _orders(first: int, last: int, customer_ids: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """Orders ``first`` to ``last - 1``, keyed by customer id, every customer in turn."""
    return [
        (customer_ids[i * 7 % len(customer_ids)], {"order_id": i, "amount": i % 50 + 1})
        for i in range(first, last)
    ]


def _enrich(order: dict[str, Any], customer: dict[str, Any]) -> dict[str, Any]:
    return {**order, "name": customer["name"], "tier": customer["tier"]}


def _expected(
    orders: list[tuple[str, dict[str, Any]]], customers: dict[str, dict[str, Any]]
) -> Counter[tuple[str | None, bytes]]:
    return Counter(
        (key, orjson.dumps(_enrich(order, customers[key]), option=orjson.OPT_SORT_KEYS))
        for key, order in orders
    )


def _results(msgs: list[Any]) -> Counter[tuple[str | None, bytes]]:
    return Counter(
        (key_str(m), orjson.dumps(json_value(m), option=orjson.OPT_SORT_KEYS)) for m in msgs
    )


def _diff(got: Counter[Any], expected: Counter[Any]) -> str:
    missing, extra = expected - got, got - expected
    return (
        f"{sum(missing.values())} expected results missing, e.g. {list(missing)[:5]}; "
        f"{sum(extra.values())} unexpected, e.g. {list(extra)[:5]}"
    )


def _table_join(orders: str, customers: str, sink: str) -> Any:
    builder = StreamsBuilder()
    table = builder.table(customers, materialized="customers")
    builder.stream(orders).join(table, _enrich).to(sink)
    return builder.build()


def _store_contents(app: KafkaStreams, name: str) -> dict[str, Any]:
    return dict(app.store(name).all())


# ---- stream-table join across a restart ------------------------------------------------------


@pytest.mark.parametrize("wipe", [False, True], ids=["same-state-dir", "wiped-state-dir"])
def test_stream_table_join_keeps_table_rows_across_restart(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Path, wipe: bool
) -> None:
    partitions = 2
    orders = kafka.create_topic(f"jn-restart-orders-{unique}", partitions=partitions)
    customers = kafka.create_topic(f"jn-restart-customers-{unique}", partitions=partitions)
    sink = kafka.create_topic(f"jn-restart-out-{unique}", partitions=partitions)
    app_id = f"jn-restart-{unique}"
    state_dir = tmp_path / "state"
    rows = _customers(60)
    ids = sorted(rows)
    batch1, batch2 = _orders(0, 120, ids), _orders(120, 300, ids)
    topology = _table_join(orders, customers, sink)
    # Same partitioner for both topics: a customer's row and orders share a partition.
    kafka.produce(customers, rows.items(), partitioner="murmur2_random")

    app = start_app(topology, streams_config(app_id, bootstrap_servers, state_dir))
    try:
        wait_running(app)
        # The table is loaded before any order is sent: this test is about the restart.
        wait_until(
            lambda: _store_contents(app, "customers") == rows,
            timeout=20,
            what="the customers table loaded",
            abort_if=lambda: failed(app),
        )
        kafka.produce(orders, batch1, partitioner="murmur2_random")
        first = kafka.read(sink, len(batch1), timeout=20, settle=0.5, abort_if=lambda: failed(app))
        assert _results(first) == _expected(batch1, rows), _diff(
            _results(first), _expected(batch1, rows)
        )
    finally:
        closed = app.close(30_000)
    assert closed and app.state is State.NOT_RUNNING

    if wipe:
        shutil.rmtree(state_dir)  # a new machine: the table comes back from its changelog
    again = start_app(topology, streams_config(app_id, bootstrap_servers, state_dir))
    try:
        wait_running(again)
        # RUNNING comes after restore; the table topic's offsets were committed, so its rows
        # are not read again: they can only come from local state or the changelog.
        assert _store_contents(again, "customers") == rows
        kafka.produce(orders, batch2, partitioner="murmur2_random")  # no new table rows
        total = len(batch1) + len(batch2)
        msgs = kafka.read(sink, total, timeout=20, settle=1.0, abort_if=lambda: failed(again))
    finally:
        closed = again.close(30_000)
    assert closed and again.state is State.NOT_RUNNING
    got, expected = _results(msgs), _expected(batch1 + batch2, rows)
    assert got == expected, _diff(got, expected)


# ---- a global table is complete before the first join --------------------------------------


def test_global_table_is_loaded_whole_before_first_join(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Path
) -> None:
    accounts = kafka.create_topic(f"jn-global-accounts-{unique}", partitions=3)
    payments = kafka.create_topic(f"jn-global-payments-{unique}", partitions=2)
    sink = kafka.create_topic(f"jn-global-out-{unique}", partitions=2)
    rows = {f"a{i:05d}": {"owner": f"owner-{i}"} for i in range(5_000)}
    ids = sorted(rows)
    # Every payment names an account; a third name one of the last 100 rows produced.
    payment_list = [
        (f"p{i:04d}", {"account": ids[-1 - i % 100] if i % 3 == 0 else ids[i * 13 % 4_900]})
        for i in range(1_500)
    ]
    # The rows first, then the payments: all of it waits in the topics before the start.
    kafka.produce(accounts, rows.items())
    kafka.produce(payments, payment_list)

    builder = StreamsBuilder()
    table = builder.global_table(accounts)
    running: dict[str, KafkaStreams] = {}
    rows_at_first_payment: list[int] = []

    def count_rows(key: str, payment: dict[str, Any]) -> None:
        # In the stream thread, as the first payment reaches the join. Read from the
        # runtime's store, from the stream thread (app.store() is for other threads).
        if not rows_at_first_payment:
            store = running["app"]._thread._global_tables.stores[table.store_name]
            rows_at_first_payment.append(sum(1 for _ in store.all()))

    builder.stream(payments).peek(count_rows).join(
        table,
        lambda payment, account: {**payment, "owner": account["owner"]},
        key_selector=lambda key, payment: payment["account"],
    ).to(sink)
    app = running["app"] = KafkaStreams(
        builder.build(), streams_config(f"jn-global-{unique}", bootstrap_servers, tmp_path)
    )
    app.start()
    try:
        wait_running(app)
        msgs = kafka.read(
            sink, len(payment_list), timeout=20, settle=1.0, abort_if=lambda: failed(app)
        )
    finally:
        close_all(app)
    assert rows_at_first_payment == [len(rows)], (
        f"the first payment was processed with {rows_at_first_payment} of {len(rows)} rows loaded"
    )

    got = {key_str(m): json_value(m) for m in msgs}
    missing = [key for key, _ in payment_list if key not in got]
    assert not missing, (
        f"{len(missing)} of {len(payment_list)} payments were not joined (processed before "
        f"their account row was loaded?), e.g. {[dict(payment_list)[k] for k in missing[:5]]}"
    )
    assert len(msgs) == len(payment_list), f"{len(msgs) - len(payment_list)} duplicate results"
    wrong = {
        key: (got[key], rows[payment["account"]])
        for key, payment in payment_list
        if got[key] != {**payment, "owner": rows[payment["account"]]["owner"]}
    }
    assert not wrong, f"{len(wrong)} results with the wrong row, e.g. {list(wrong.items())[:5]}"


def test_global_table_store_is_queryable(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Path
) -> None:
    accounts = kafka.create_topic(f"jn-gquery-accounts-{unique}", partitions=3)
    payments = kafka.create_topic(f"jn-gquery-payments-{unique}")
    sink = kafka.create_topic(f"jn-gquery-out-{unique}")
    rows = {f"a{i:03d}": {"owner": f"owner-{i}"} for i in range(50)}
    kafka.produce(accounts, rows.items())
    builder = StreamsBuilder()
    table = builder.global_table(accounts)
    builder.stream(payments).join(
        table, lambda payment, account: payment, key_selector=lambda key, payment: key
    ).to(sink)
    app = start_app(
        builder.build(), streams_config(f"jn-gquery-{unique}", bootstrap_servers, tmp_path)
    )
    try:
        wait_running(app)
        assert _store_contents(app, table.queryable_store_name) == rows
    finally:
        close_all(app)


# ---- a table's waiting rows before the newer stream records ----------------------------------


def test_stream_table_join_reads_waiting_table_rows_before_newer_stream_records(
    kafka: KafkaHelper, bootstrap_servers: str, unique: str, tmp_path: Path
) -> None:
    """Rows and orders both wait in their topics when the app starts, every row older than
    every order. Kafka Streams processes a task's records in timestamp order and, with
    max.task.idle.ms=0 (its default), waits to fetch the data already on the broker for
    every input partition of the task (KIP-695) before choosing: every order is joined."""
    partitions = 2
    orders = kafka.create_topic(f"jn-waiting-orders-{unique}", partitions=partitions)
    customers = kafka.create_topic(f"jn-waiting-customers-{unique}", partitions=partitions)
    sink = kafka.create_topic(f"jn-waiting-out-{unique}", partitions=partitions)
    rows = _customers(1_000)
    batch = _orders(0, 20_000, sorted(rows))
    kafka.produce(customers, rows.items(), partitioner="murmur2_random")
    kafka.produce(orders, batch, partitioner="murmur2_random")  # produced later: newer

    app = start_app(
        _table_join(orders, customers, sink),
        streams_config(f"jn-waiting-{unique}", bootstrap_servers, tmp_path),
    )
    try:
        wait_running(app)
        msgs = kafka.read(sink, len(batch), timeout=10, settle=1.0, abort_if=lambda: failed(app))
    finally:
        close_all(app)
    got, expected = _results(msgs), _expected(batch, rows)
    assert got == expected, _diff(got, expected)
