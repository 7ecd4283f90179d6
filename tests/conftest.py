"""One broker for the whole run (integration and system tests), chosen as BROKER-NOTES.md says:
an external broker from KSTREAMLITE_BOOTSTRAP_SERVERS, else Apache Kafka through
testcontainers when a Docker engine answers, else the local Tansu broker."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

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

    with LocalBroker() as broker:
        yield broker.bootstrap_servers


@pytest.fixture(scope="session")
def kafka(bootstrap_servers: str) -> KafkaHelper:
    return KafkaHelper(bootstrap_servers)


@pytest.fixture
def unique() -> str:
    """A suffix that keeps one test's topics and group apart from every other's."""
    return uuid.uuid4().hex[:8]
