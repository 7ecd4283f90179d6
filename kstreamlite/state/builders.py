"""Store builders: how a topology declares a store; each task builds its own instance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import TopologyError
from ..serdes import Serde


@dataclass(frozen=True)
class KeyValueStoreBuilder:
    name: str
    key_serde: Serde[Any] | None = None
    value_serde: Serde[Any] | None = None
    persistent: bool = True
    logging: bool = True
    caching: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TopologyError("a state store needs a non-empty name")

    @property
    def changelog_suffix(self) -> str | None:
        """``<store>-changelog``; the real topic is ``<application_id>-<store>-changelog``."""
        return f"{self.name}-changelog" if self.logging else None


class Stores:
    """Factories for Processor API stores (add them with ``builder.add_state_store``)."""

    @staticmethod
    def key_value_store_builder(
        name: str,
        *,
        key_serde: Serde[Any] | None = None,
        value_serde: Serde[Any] | None = None,
        persistent: bool = True,
        logging: bool = True,
        caching: bool = True,
    ) -> KeyValueStoreBuilder:
        return KeyValueStoreBuilder(name, key_serde, value_serde, persistent, logging, caching)
