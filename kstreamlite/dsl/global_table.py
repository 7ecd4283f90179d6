"""GlobalKTable: a table every instance holds whole, for joins that need no co-partitioning."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..serdes import Serde

if TYPE_CHECKING:
    from .builder import StreamsBuilder


class GlobalKTable:
    """All partitions of a topic, on every instance, loaded before any task processes.

    >>> accounts = builder.global_table("accounts")
    >>> tx.join(accounts, lambda t, a: {**t, "owner": a["owner"]},
    ...         key_selector=lambda key, t: t["account_id"])
    """

    def __init__(
        self,
        builder: StreamsBuilder,
        store_name: str,
        key_serde: Serde[Any] | None,
        value_serde: Serde[Any] | None,
    ) -> None:
        self._builder = builder
        self.store_name = store_name
        self.key_serde = key_serde
        self.value_serde = value_serde

    @property
    def queryable_store_name(self) -> str:
        return self.store_name
