"""StreamsConfig: every setting of an application, validated once, each also readable from the
environment as ``KSTREAMLITE_<FIELD>`` (explicit arguments win over the environment)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from . import serdes
from .errors import ConfigError
from .serdes import Serde

ENV_PREFIX = "KSTREAMLITE_"

HandlerChoice = Literal["log_and_fail", "log_and_continue"]
Handler = HandlerChoice | Callable[..., Any]


class StreamsConfig(BaseModel):
    """Configuration of one kstreamlite application (one ``application_id``)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, validate_assignment=True, frozen=False)

    application_id: str = Field(min_length=1)
    bootstrap_servers: str | None = None
    processing_guarantee: Literal["at_least_once", "exactly_once_v2"] = "at_least_once"
    state_dir: str = Field(
        default_factory=lambda: os.path.join(tempfile.gettempdir(), "kstreamlite")
    )
    commit_interval_ms: int | None = Field(default=None, ge=0)
    cache_max_bytes: int = Field(default=10 * 1024 * 1024, ge=0)
    replication_factor: int = Field(default=1, ge=1)
    num_standby_replicas: int = Field(default=0, ge=0)
    default_key_serde: Serde[Any] = serdes.STRING
    default_value_serde: Serde[Any] = serdes.JSON
    deserialization_exception_handler: Handler = "log_and_fail"
    processing_exception_handler: Handler = "log_and_fail"
    production_exception_handler: Handler = "log_and_fail"
    dead_letter_queue_topic: str | None = None
    late_record_handler: Callable[..., Any] | None = None
    metrics_port: int | None = None  # serve /metrics, /health and the status page; 0 = any
    metrics_host: str = "0.0.0.0"
    startup_timeout_ms: int = Field(default=30_000, gt=0)
    poll_batch_size: int = Field(default=5_000, gt=0)
    poll_timeout_ms: int = Field(default=100, ge=0)
    # Kafka Streams' max.task.idle.ms (KIP-695): -1 never waits for an empty input partition
    # of a multi-input task; 0 waits only for records the broker holds but that are not yet
    # fetched; > 0 also waits that long for new records on a caught-up partition.
    max_task_idle_ms: int = Field(default=0, ge=-1)
    # A bounded run (app.run(bounded=True)) closes every window at its end; False keeps
    # them open for a streaming run that continues later.
    flush_windows_at_end: bool = True
    consumer_config: dict[str, Any] = Field(default_factory=dict)
    producer_config: dict[str, Any] = Field(default_factory=dict)
    admin_config: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        for name, field in cls.model_fields.items():
            if name in merged:
                continue
            raw = environment_value(name)
            if raw is None:
                continue
            merged[name] = _parse_env(name, raw, field.annotation)
        return merged

    @field_validator("default_key_serde", "default_value_serde", mode="before")
    @classmethod
    def _serde_by_name(cls, value: Any) -> Any:
        if isinstance(value, str):
            found = getattr(serdes, value.upper(), None)
            if not isinstance(found, Serde):
                raise ValueError(
                    f"unknown serde {value!r}; use one of BYTES, STRING, INT, LONG, DOUBLE, JSON"
                )
            return found
        return value

    @property
    def effective_commit_interval_ms(self) -> int:
        """Kafka Streams' defaults: 30 s at-least-once, 100 ms exactly-once."""
        if self.commit_interval_ms is not None:
            return self.commit_interval_ms
        return 100 if self.processing_guarantee == "exactly_once_v2" else 30_000

    def require_bootstrap_servers(self) -> str:
        if not self.bootstrap_servers:
            raise ConfigError(
                "no bootstrap_servers configured; pass StreamsConfig(bootstrap_servers="
                "'host:9092') or set KSTREAMLITE_BOOTSTRAP_SERVERS"
            )
        return self.bootstrap_servers


def environment_value(field: str) -> str | None:
    """The ``KSTREAMLITE_<FIELD>`` setting of a StreamsConfig field, if there is one."""
    return os.environ.get(ENV_PREFIX + field.upper())


def _parse_env(name: str, raw: str, annotation: Any) -> Any:
    """Turn an environment string into what the field expects; dicts are JSON objects."""
    if name.endswith("_config"):
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ConfigError(
                f"{ENV_PREFIX}{name.upper()} must be a JSON object, "
                f"e.g. '{{\"linger.ms\": 5}}': {exc}"
            ) from exc
        return parsed
    return raw
