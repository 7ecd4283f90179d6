"""KTable.join(other, joiner, foreign_key_extractor=fn): the topology of a foreign-key join.

Nodes and topics (see processor/_foreign_key.py for the protocol):
``<name>-subscription-registration`` (keyed by the right key, as many partitions as the
right table) and ``<name>-subscription-response`` (keyed by the left key, as many as
the left table); the subscription store beside the right table, and the result store
beside the left table (the result table's queryable store).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import serdes
from ..errors import TopologyError
from ..processor._foreign_key import FkResolve, FkRespond, FkRightChange, FkSubscribe
from ..state.builders import KeyValueStoreBuilder
from .joins import table_store

if TYPE_CHECKING:
    from .ktable import KTable


def join_foreign_key(
    table: KTable,
    other: KTable,
    joiner: Callable[[Any, Any], Any],
    extract: Callable[[Any], Any],
    name: str | None,
    mode: str,
) -> KTable:
    from .ktable import KTable

    if mode not in ("inner", "left"):
        raise TopologyError("a foreign-key join is join() or left_join(), not outer_join()")
    if not callable(joiner) or not callable(extract):
        raise TopologyError("a foreign-key join needs joiner(v1, v2) and foreign_key_extractor(v)")
    if not isinstance(other, KTable) or other._builder is not table._builder:
        raise TopologyError("KTable joins take a KTable from the same StreamsBuilder")
    builder = table._builder
    topology = builder.topology
    base = name or builder.new_name("KTABLE-FK-JOIN-")
    left_store, right_store = table_store(table), table_store(other)
    left_node, right_node = table._node, other._node
    subscriptions = f"{base}-subscription-store"
    results = f"{base}-result-store"
    for store in (subscriptions, results):
        key_serde = serdes.BYTES if store == subscriptions else table.key_serde
        value_serde = serdes.BYTES if store == subscriptions else None
        topology.add_state_store(KeyValueStoreBuilder(store, key_serde, value_serde, caching=False))

    registration = f"{base}-subscription-registration"
    responses = f"{base}-subscription-response"
    respond, right_change = f"{base}-subscription-respond", f"{base}-right-change"
    subscribe, resolve = f"{base}-subscribe", f"{base}-resolve"
    topology.add_repartition_topic(registration, copartition_node=respond)
    topology.add_repartition_topic(responses, copartition_node=resolve)

    # Left side: subscribe each row to its foreign key.
    topology.add_processor(
        subscribe,
        lambda: FkSubscribe(
            extract, table.key_serde, table.value_serde, f"{registration}-sink", resolve
        ),
        left_node,
    )
    topology.add_sink(
        f"{registration}-sink",
        registration,
        subscribe,
        key_serde=other.key_serde,
        value_serde=serdes.BYTES,
        internal=True,
    )
    # Right side: record subscriptions and answer them; answer again on right changes.
    topology.add_source(
        f"{registration}-source",
        registration,
        key_serde=other.key_serde,
        value_serde=serdes.BYTES,
        internal=True,
        table=True,
    )
    topology.add_processor(
        respond,
        lambda: FkRespond(subscriptions, right_store, other.key_serde, other.value_serde),
        f"{registration}-source",
        stores=[subscriptions, right_store],
    )
    topology.add_processor(
        right_change,
        lambda: FkRightChange(subscriptions, other.key_serde, other.value_serde),
        right_node,
        stores=[subscriptions],
    )
    topology.add_sink(
        f"{responses}-sink",
        responses,
        respond,
        right_change,
        key_serde=serdes.BYTES,
        value_serde=serdes.BYTES,
        internal=True,
    )
    # Left side again: resolve responses against the current row.
    topology.add_source(
        f"{responses}-source",
        responses,
        key_serde=serdes.BYTES,
        value_serde=serdes.BYTES,
        internal=True,
        table=True,
    )
    left_join = mode == "left"
    topology.add_processor(
        resolve,
        lambda: FkResolve(
            left_store=left_store,
            results=results,
            joiner=joiner,
            left_join=left_join,
            key_serde=table.key_serde,
            left_value_serde=table.value_serde,
            right_value_serde=other.value_serde,
        ),
        f"{responses}-source",
        subscribe,
        stores=[left_store, results],
    )
    return KTable(builder, resolve, results, table.key_serde, None)
