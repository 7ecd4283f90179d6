"""Foreign-key table joins: Kafka Streams' subscription/response design.

The left table's rows name a row of the right table by a foreign key. Three steps, two
internal topics:

1. ``FkSubscribe`` (left side): on each left change, subscribe the row to its foreign
   key (``s`` + hash of the left value + left key bytes) on the subscription topic,
   partitioned like the right table; unsubscribe from the old key when it changed
   (``u`` + left key bytes). A row with no foreign key, or a deleted row, is resolved at
   once, locally.
2. ``FkRespond`` / ``FkRightChange`` (right side): keep the subscriptions in a store
   keyed by right key then left key bytes; answer each subscription with the right row,
   and answer every subscriber again when the right row changes. Responses (hash + flag
   + right value bytes) go to the response topic keyed by the left key bytes, so they
   land on the left row's partition.
3. ``FkResolve`` (left side): join the response with the current left row, unless the
   row changed since it subscribed (hash mismatch: a newer response is on its way), and
   keep the result in a store so each update carries the old result too.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from typing import Any

from ..serdes import Serde
from ..state.kv import KeyValueStore
from ._aggregate import Change
from ._node import NodeContext, NodeProcessor

SUBSCRIBE, UNSUBSCRIBE = b"s", b"u"
_LEN = struct.Struct(">I")
_LOCAL = object()  # a resolution that needs no right row: the left side's own None


def _resolved(serde: Serde[Any] | None, default: Serde[Any]) -> Serde[Any]:
    return (serde or default).resolve(default)


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=8).digest()


def subscription_prefix(right_key_bytes: bytes) -> bytes:
    return _LEN.pack(len(right_key_bytes)) + right_key_bytes


class FkSubscribe(NodeProcessor):
    __slots__ = (
        "extract",
        "key_ser",
        "key_serde",
        "resolver",
        "resolver_name",
        "sink",
        "sink_name",
        "value_ser",
        "value_serde",
    )

    def __init__(
        self,
        extract: Callable[[Any], Any],
        key_serde: Serde[Any] | None,
        value_serde: Serde[Any] | None,
        sink_name: str,
        resolver_name: str,
    ) -> None:
        self.extract = extract
        self.key_serde = key_serde
        self.value_serde = value_serde
        self.sink_name = sink_name
        self.resolver_name = resolver_name

    def init(self, context: NodeContext) -> None:
        super().init(context)
        task = context.task
        self.key_ser = _resolved(self.key_serde, task.default_key_serde).ser
        self.value_ser = _resolved(self.value_serde, task.default_value_serde).ser
        self.sink = context.children[self.sink_name]
        self.resolver = context.children[self.resolver_name]

    def process(self, key: Any, change: Any, timestamp: int, headers: Any) -> None:
        if key is None:
            return
        new, old = change
        new_fk = None if new is None else self.extract(new)
        old_fk = None if old is None else self.extract(old)
        key_bytes = self.key_ser(key)
        if old_fk is not None and old_fk != new_fk:
            self.sink(old_fk, UNSUBSCRIBE + key_bytes, timestamp, None)
        if new_fk is not None:
            self.sink(new_fk, SUBSCRIBE + _digest(self.value_ser(new)) + key_bytes, timestamp, None)
        else:
            self.resolver(key, _LOCAL, timestamp, None)


class _RightSide(NodeProcessor):
    """What both right-side processors hold: the subscriptions and the right table's serdes."""

    __slots__ = ("key_ser", "key_serde", "subs", "subs_name", "value_ser", "value_serde")

    def __init__(
        self, subscriptions: str, key_serde: Serde[Any] | None, value_serde: Serde[Any] | None
    ) -> None:
        self.subs_name = subscriptions
        self.key_serde = key_serde
        self.value_serde = value_serde

    def init(self, context: NodeContext) -> None:
        super().init(context)
        task = context.task
        assert task.state is not None
        self.subs: KeyValueStore = task.state.stores[self.subs_name]
        self.key_ser = _resolved(self.key_serde, task.default_key_serde).ser
        self.value_ser = _resolved(self.value_serde, task.default_value_serde).ser


class FkRespond(_RightSide):
    """Right side: record subscriptions and answer each with the current right row."""

    __slots__ = ("right", "right_name")

    def __init__(
        self,
        subscriptions: str,
        right_store: str,
        key_serde: Serde[Any] | None,
        value_serde: Serde[Any] | None,
    ) -> None:
        super().__init__(subscriptions, key_serde, value_serde)
        self.right_name = right_store

    def init(self, context: NodeContext) -> None:
        super().init(context)
        assert context.task.state is not None
        self.right: KeyValueStore = context.task.state.stores[self.right_name]

    def process(self, key: Any, value: Any, timestamp: int, headers: Any) -> None:
        if key is None or not value:
            return
        prefix = subscription_prefix(self.key_ser(key))
        if value[:1] == UNSUBSCRIBE:
            self.subs.delete(prefix + value[1:])
            return
        digest, left_key = value[1:9], value[9:]
        self.subs.put(prefix + left_key, digest, timestamp)
        row = self.right.get(key)
        self.down(left_key, response(digest, row, self.value_ser), timestamp, None)


class FkRightChange(_RightSide):
    """Right side: a right row changed; answer every left row subscribed to it."""

    __slots__ = ()

    def process(self, key: Any, change: Any, timestamp: int, headers: Any) -> None:
        if key is None:
            return
        prefix = subscription_prefix(self.key_ser(key))
        for left_key, digest in self.subs.prefix_items(prefix):
            self.down(left_key, response(digest, change[0], self.value_ser), timestamp, None)


def response(digest: bytes, row: Any, value_ser: Callable[[Any], bytes]) -> bytes:
    return digest + (b"\x00" if row is None else b"\x01" + value_ser(row))


class FkResolve(NodeProcessor):
    """Left side: join a response (or a local resolution) with the current left row."""

    __slots__ = (
        "joiner",
        "key_de",
        "key_serde",
        "left",
        "left_name",
        "left_value_ser",
        "left_value_serde",
        "outer",
        "results",
        "results_name",
        "right_de",
        "right_value_serde",
    )

    def __init__(
        self,
        *,
        left_store: str,
        results: str,
        joiner: Callable[[Any, Any], Any],
        left_join: bool,
        key_serde: Serde[Any] | None,
        left_value_serde: Serde[Any] | None,
        right_value_serde: Serde[Any] | None,
    ) -> None:
        self.left_name = left_store
        self.results_name = results
        self.joiner = joiner
        self.outer = left_join
        self.key_serde = key_serde
        self.left_value_serde = left_value_serde
        self.right_value_serde = right_value_serde

    def init(self, context: NodeContext) -> None:
        super().init(context)
        task = context.task
        assert task.state is not None
        self.left: KeyValueStore = task.state.stores[self.left_name]
        self.results: KeyValueStore = task.state.stores[self.results_name]
        self.key_de = _resolved(self.key_serde, task.default_key_serde).de
        self.left_value_ser = _resolved(self.left_value_serde, task.default_value_serde).ser
        self.right_de = _resolved(self.right_value_serde, task.default_value_serde).de

    def process(self, key: Any, value: Any, timestamp: int, headers: Any) -> None:
        if value is _LOCAL:
            current, row = self.left.get(key), None
        else:
            key = self.key_de(key)
            current = self.left.get(key)
            if current is None or _digest(self.left_value_ser(current)) != value[:8]:
                return  # the row changed (or left) since it subscribed: a newer answer follows
            row = None if value[8:9] == b"\x00" else self.right_de(value[9:])
        result = None
        if current is not None and (row is not None or self.outer):
            result = self.joiner(current, row)
        old = self.results.get(key)
        if result is None and old is None:
            return
        self.results.put(key, result, timestamp)
        self.down(key, Change(result, old), timestamp, headers)
