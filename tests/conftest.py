"""One broker for the whole run (integration and system tests), chosen as BROKER-NOTES.md says:
an external broker from KSTREAMLITE_BOOTSTRAP_SERVERS, else Apache Kafka through
testcontainers when a Docker engine answers, else the local Tansu broker."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest

from .integration.kafka_helpers import KafkaHelper


def _docker_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def bootstrap_servers() -> Iterator[str]:
    external = os.environ.get("KSTREAMLITE_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer  # type: ignore[import-untyped]

        with KafkaContainer() as kafka:
            yield kafka.get_bootstrap_server()
        return
    from kstreamlite.local import LocalBroker

    global _local_broker
    with LocalBroker() as broker:
        _local_broker = broker
        yield broker.bootstrap_servers
    _local_broker = None


_local_broker: Any = None


@pytest.fixture
def broker_outage(bootstrap_servers: str) -> Callable[[], AbstractContextManager[None]]:
    """``with broker_outage(): ...`` makes the run's broker unreachable for the block;
    only the local broker can be frozen, so tests using it skip on any other."""
    if _local_broker is None:
        pytest.skip("an outage can be simulated only on the local broker this run started")
    return _local_broker.paused


@pytest.fixture(scope="session")
def kafka(bootstrap_servers: str) -> KafkaHelper:
    return KafkaHelper(bootstrap_servers)


@pytest.fixture
def unique() -> str:
    """A suffix that keeps one test's topics and group apart from every other's."""
    return uuid.uuid4().hex[:8]
