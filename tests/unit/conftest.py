"""Shared fixtures of the unit suite: no broker, no environment leaking into StreamsConfig."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _no_kstreamlite_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """StreamsConfig reads KSTREAMLITE_* variables; a developer's shell must not change results."""
    for name in list(os.environ):
        if name.startswith("KSTREAMLITE_"):
            monkeypatch.delenv(name)
