"""Materialized: how a table or aggregation keeps its state (store name, serdes, layers)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ..serdes import Serde


@dataclass(frozen=True)
class Materialized:
    name: str | None = None
    key_serde: Serde[Any] | None = None
    value_serde: Serde[Any] | None = None
    persistent: bool = True
    logging: bool = True
    caching: bool = True
    retention: timedelta | int | None = None

    @classmethod
    def of(cls, spec: str | Materialized | None) -> Materialized:
        """Accept what API.md allows for ``materialized=``: a store name or a Materialized."""
        if spec is None:
            return cls()
        if isinstance(spec, str):
            return cls(name=spec)
        if isinstance(spec, Materialized):
            return spec
        raise TypeError(
            f"materialized must be a store name or a Materialized, not {type(spec).__name__}"
        )
