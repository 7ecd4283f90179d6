"""``kstreamlite demo``: a small order-routing pipeline on the local broker, end to end.

Orders flow into ``demo-orders``; the topology keeps paid orders, turns each into a
shipment and routes it by size to ``demo-shipments-large`` or ``demo-shipments-small``.
A reader prints what arrives. It exists so a newcomer sees the whole loop in one command.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from . import KafkaStreams, StreamsBuilder, StreamsConfig, Topology

_quiet = logging.getLogger("kstreamlite.demo.clients")
ORDERS = "demo-orders"
LARGE, SMALL = "demo-shipments-large", "demo-shipments-small"


def build_topology() -> Topology:
    builder = StreamsBuilder()
    shipments = (
        builder.stream(ORDERS)
        .filter(lambda key, order: order["status"] == "paid")
        .map_values(
            lambda order: {
                "order_id": order["order_id"],
                "customer": order["customer"],
                "total": round(order["quantity"] * order["price"], 2),
            }
        )
    )
    branches = (
        shipments.split(prefix="ship-")
        .branch(lambda key, shipment: shipment["total"] >= 100, name="large")
        .default_branch(name="small")
    )
    branches["ship-large"].to(LARGE)
    branches["ship-small"].to(SMALL)
    return builder.build()


@contextlib.contextmanager
def _bootstrap() -> Iterator[str]:
    external = os.environ.get("KSTREAMLITE_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    from .local import LocalBroker

    with LocalBroker() as broker:
        print(f"started a local broker at {broker.bootstrap_servers}")
        yield broker.bootstrap_servers


def _generate(bootstrap: str, stop: threading.Event, rate: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "logger": _quiet})
    rng = random.Random()
    customers = ["ada", "grace", "linus", "barbara", "ken", "margaret"]
    while not stop.is_set():
        customer = rng.choice(customers)
        order = {
            "order_id": uuid.uuid4().hex[:8],
            "customer": customer,
            "status": rng.choice(["paid", "paid", "paid", "pending"]),
            "quantity": rng.randint(1, 5),
            "price": round(rng.uniform(5, 60), 2),
        }
        producer.produce(ORDERS, orjson.dumps(order), customer.encode())
        producer.poll(0)
        time.sleep(1 / max(rate, 1))
    producer.flush(10)


def run_demo(duration: float = 15.0, records_per_second: int = 20) -> int:
    with _bootstrap() as bootstrap:
        admin = AdminClient({"bootstrap.servers": bootstrap, "logger": _quiet})
        existing = admin.list_topics(timeout=10).topics
        new = [NewTopic(t, 3, 1) for t in (ORDERS, LARGE, SMALL) if t not in existing]
        for future in admin.create_topics(new).values() if new else []:
            future.result(30)
        topology = build_topology()
        print(topology.describe())
        config = StreamsConfig(
            application_id=f"demo-{uuid.uuid4().hex[:6]}",
            bootstrap_servers=bootstrap,
            commit_interval_ms=500,
            consumer_config={"session.timeout.ms": 6000},
        )
        stop = threading.Event()
        counts = {LARGE: 0, SMALL: 0}
        with KafkaStreams(topology, config) as app:
            app.start()
            generator = threading.Thread(
                target=_generate, args=(bootstrap, stop, records_per_second), daemon=True
            )
            generator.start()
            reader = Consumer(
                {
                    "bootstrap.servers": bootstrap,
                    "group.id": f"demo-reader-{uuid.uuid4().hex[:6]}",
                    "auto.offset.reset": "earliest",
                    "session.timeout.ms": 6000,
                }
            )
            reader.subscribe([LARGE, SMALL])
            deadline = time.monotonic() + duration
            try:
                while time.monotonic() < deadline and app.state.name not in ("ERROR",):
                    for msg in reader.consume(100, 0.5):
                        if msg.error() is not None:
                            continue
                        shipment: dict[str, Any] = orjson.loads(msg.value())
                        counts[msg.topic()] += 1
                        print(
                            f"{msg.topic():<22} {shipment['customer']:<9} "
                            f"order {shipment['order_id']} total {shipment['total']:>7.2f}   "
                            f"(large {counts[LARGE]}, small {counts[SMALL]})"
                        )
            except KeyboardInterrupt:
                pass
            finally:
                stop.set()
                reader.close()
        if app.exception is not None:
            print(f"the application failed: {app.exception}")
            return 1
        print(f"done: {counts[LARGE]} large and {counts[SMALL]} small shipments")
        return 0
