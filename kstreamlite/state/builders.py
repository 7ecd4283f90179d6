"""Store builders: how a topology declares a store; each task builds its own instance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

from .._time import to_millis
from ..errors import TopologyError
from ..serdes import Serde

# Windowed changelogs are compacted *and* time-limited (Kafka Streams'
# windowstore.changelog.additional.retention.ms): old windows leave the topic too.
CHANGELOG_EXTRA_RETENTION_MS = 24 * 60 * 60 * 1000


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

    @property
    def changelog_config(self) -> dict[str, str]:
        return {"cleanup.policy": "compact"}


@dataclass(frozen=True)
class RetainedStoreBuilder(KeyValueStoreBuilder):
    """A store whose entries expire ``retention_ms`` after their time (windows, sessions)."""

    kind: ClassVar[str] = "windowed"
    retention_ms: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.retention_ms <= 0:
            raise TopologyError(f"{self.kind} store {self.name!r} needs a positive retention")

    @property
    def changelog_config(self) -> dict[str, str]:
        return {
            "cleanup.policy": "compact,delete",
            "retention.ms": str(self.retention_ms + CHANGELOG_EXTRA_RETENTION_MS),
        }


@dataclass(frozen=True)
class WindowStoreBuilder(RetainedStoreBuilder):
    """Values per (key, window start), dropped ``retention_ms`` after their start."""

    window_size_ms: int = 0

    def __post_init__(self) -> None:
        KeyValueStoreBuilder.__post_init__(self)  # the name; retention >= size > 0 below
        if self.window_size_ms <= 0:
            raise TopologyError(f"window store {self.name!r} needs a positive window_size")
        if self.retention_ms < self.window_size_ms:
            raise TopologyError(
                f"window store {self.name!r}: retention ({self.retention_ms} ms) must be at "
                f"least the window size ({self.window_size_ms} ms)"
            )


@dataclass(frozen=True)
class SessionStoreBuilder(RetainedStoreBuilder):
    """Sessions per key, dropped ``retention_ms`` after they end."""

    kind: ClassVar[str] = "session"


@dataclass(frozen=True)
class SuppressBufferBuilder(KeyValueStoreBuilder):
    """The buffer of a ``suppress`` node: in memory, changelogged, no cache."""

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "persistent", False)
        object.__setattr__(self, "caching", False)


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

    @staticmethod
    def window_store_builder(
        name: str,
        *,
        retention: timedelta | int,
        window_size: timedelta | int,
        key_serde: Serde[Any] | None = None,
        value_serde: Serde[Any] | None = None,
        persistent: bool = True,
        logging: bool = True,
        caching: bool = False,
    ) -> WindowStoreBuilder:
        return WindowStoreBuilder(
            name,
            key_serde,
            value_serde,
            persistent,
            logging,
            caching,
            retention_ms=to_millis(retention, "retention"),
            window_size_ms=to_millis(window_size, "window_size"),
        )

    @staticmethod
    def session_store_builder(
        name: str,
        *,
        retention: timedelta | int,
        key_serde: Serde[Any] | None = None,
        value_serde: Serde[Any] | None = None,
        persistent: bool = True,
        logging: bool = True,
        caching: bool = False,
    ) -> SessionStoreBuilder:
        return SessionStoreBuilder(
            name,
            key_serde,
            value_serde,
            persistent,
            logging,
            caching,
            retention_ms=to_millis(retention, "retention"),
        )
