"""Joins: stream-table (inner, left; on the key or on a re-keyed column) and
stream-stream (inner, left, full outer) WITHIN a time difference."""

from __future__ import annotations

from .support import T0, run

SOURCES = """
CREATE STREAM orders (order_id VARCHAR KEY, customer VARCHAR, amount DOUBLE, ts BIGINT)
    WITH (KAFKA_TOPIC='orders', TIMESTAMP='ts');
CREATE TABLE customers (id VARCHAR PRIMARY KEY, name VARCHAR, tier INT)
    WITH (KAFKA_TOPIC='customers');
CREATE STREAM payments (pay_id VARCHAR KEY, order_ref VARCHAR, paid DOUBLE, ts BIGINT)
    WITH (KAFKA_TOPIC='payments', TIMESTAMP='ts');
"""


def order(customer: str, amount: float, ts: int = T0) -> dict:
    return {"customer": customer, "amount": amount, "ts": ts}


def test_stream_table_inner_join_rekeys_the_stream_by_the_join_column() -> None:
    script = (
        SOURCES
        + """
        CREATE STREAM enriched AS SELECT o.order_id, o.amount, c.name, c.id AS cid
        FROM orders o JOIN customers c ON o.customer = c.id WHERE c.tier > 1;
    """
    )
    inputs = {
        "*": [
            ("customers", "c1", {"name": "Ann", "tier": 2}),
            ("customers", "c2", {"name": "Bob", "tier": 1}),
            ("orders", "o1", order("c1", 10.0)),
            ("orders", "o2", order("c2", 20.0)),  # tier 1: filtered
            ("orders", "o3", order("c9", 30.0)),  # no customer: inner join drops it
        ]
    }
    assert run(script, inputs, "enriched") == [
        ("c1", {"order_id": "o1", "amount": 10.0, "name": "Ann", "cid": "c1"})
    ]


def test_stream_table_left_join_keeps_unmatched_rows_with_nulls() -> None:
    script = (
        SOURCES
        + """
        CREATE STREAM enriched AS SELECT order_id, name, COALESCE(tier, 0) AS tier
        FROM orders LEFT JOIN customers ON customer = id;
    """
    )
    inputs = {
        "*": [
            ("customers", "c1", {"name": "Ann", "tier": 2}),
            ("orders", "o1", order("c1", 10.0)),
            ("orders", "o2", order("c9", 20.0)),
        ]
    }
    assert run(script, inputs, "enriched") == [
        ("c1", {"order_id": "o1", "name": "Ann", "tier": 2}),
        ("c9", {"order_id": "o2", "name": None, "tier": 0}),
    ]


def test_stream_table_join_on_the_stream_key_needs_no_rekey() -> None:
    script = (
        SOURCES
        + """
        CREATE STREAM visits (cust VARCHAR KEY, page VARCHAR) WITH (KAFKA_TOPIC='visits');
        CREATE STREAM named AS SELECT cust, page, name FROM visits JOIN customers ON cust = id;
    """
    )
    inputs = {
        "*": [
            ("customers", "c1", {"name": "Ann", "tier": 2}),
            ("visits", "c1", {"page": "/home"}),
        ]
    }
    assert run(script, inputs, "named") == [("c1", {"cust": "c1", "page": "/home", "name": "Ann"})]


def payment(order_ref: str, paid: float, ts: int) -> dict:
    return {"order_ref": order_ref, "paid": paid, "ts": ts}


def stream_stream(kind: str) -> str:
    return (
        SOURCES
        + f"""
        CREATE STREAM matched AS SELECT o.order_id AS oid, p.pay_id AS pid, amount, paid
        FROM orders o {kind} payments p WITHIN 1 MINUTE ON o.order_id = p.order_ref;
    """
    )


EVENTS = [
    ("orders", "o1", order("c1", 10.0, T0)),
    ("payments", "p1", payment("o1", 10.0, T0 + 30_000)),  # within a minute: joins
    ("orders", "o2", order("c1", 20.0, T0 + 1_000)),  # never paid
    ("payments", "p3", payment("o3", 5.0, T0 + 2_000)),  # no order
    ("orders", "o4", order("c1", 7.0, T0 + 3_000)),
    ("payments", "p4", payment("o4", 7.0, T0 + 3_000 + 61_000)),  # too late: no match
    ("orders", "o9", order("c1", 1.0, T0 + 10 * 60_000)),  # moves time on: windows close
]


def test_stream_stream_inner_join_within() -> None:
    assert run(stream_stream("JOIN"), {"*": EVENTS}, "matched") == [
        ("o1", {"oid": "o1", "pid": "p1", "amount": 10.0, "paid": 10.0})
    ]


def test_stream_stream_left_join_emits_unmatched_left_rows_once_the_window_closes() -> None:
    out = run(stream_stream("LEFT JOIN"), {"*": EVENTS}, "matched", flush=True)
    assert out[0] == ("o1", {"oid": "o1", "pid": "p1", "amount": 10.0, "paid": 10.0})
    unmatched = sorted(v["oid"] for _, v in out if v["pid"] is None)
    assert unmatched == ["o2", "o4", "o9"]
    assert len(out) == 4
    assert all(v["oid"] is not None for _, v in out)


def test_stream_stream_full_outer_join_emits_unmatched_rows_of_both_sides() -> None:
    out = run(stream_stream("FULL OUTER JOIN"), {"*": EVENTS}, "matched", flush=True)
    assert ("o1", {"oid": "o1", "pid": "p1", "amount": 10.0, "paid": 10.0}) in out
    assert sorted(v["oid"] for _, v in out if v["pid"] is None) == ["o2", "o4", "o9"]
    right_only = sorted((k, v["pid"], v["paid"]) for k, v in out if v["oid"] is None)
    assert right_only == [("o3", "p3", 5.0), ("o4", "p4", 7.0)]


def test_join_select_star_prefixes_columns_with_the_source() -> None:
    script = (
        SOURCES
        + """
        CREATE STREAM e AS SELECT * FROM orders o JOIN customers c ON o.customer = c.id;
    """
    )
    inputs = {
        "*": [("customers", "c1", {"name": "A", "tier": 1}), ("orders", "o1", order("c1", 1.0))]
    }
    assert run(script, inputs, "e") == [
        (
            "c1",
            {
                "O_order_id": "o1",
                "O_customer": "c1",
                "O_amount": 1.0,
                "O_ts": T0,
                "C_id": "c1",
                "C_name": "A",
                "C_tier": 1,
            },
        )
    ]


def test_aggregate_over_a_join() -> None:
    script = (
        SOURCES
        + """
        CREATE TABLE spend AS SELECT c.name, SUM(o.amount) AS total, COUNT(*) AS n
        FROM orders o JOIN customers c ON o.customer = c.id GROUP BY c.name;
    """
    )
    inputs = {
        "*": [
            ("customers", "c1", {"name": "Ann", "tier": 1}),
            ("orders", "o1", order("c1", 1.5)),
            ("orders", "o2", order("c1", 2.0)),
        ]
    }
    assert run(script, inputs, "spend")[-1] == ("Ann", {"name": "Ann", "total": 3.5, "n": 2})
