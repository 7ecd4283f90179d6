"""StreamsConfig: validation, KSTREAMLITE_<FIELD> environment variables, derived settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kstreamlite import StreamsConfig, serdes
from kstreamlite.errors import ConfigError

# ---- defaults ----


def test_defaults_follow_the_api_contract():
    config = StreamsConfig(application_id="app")
    assert config.bootstrap_servers is None
    assert config.processing_guarantee == "at_least_once"
    assert config.default_key_serde is serdes.STRING
    assert config.default_value_serde is serdes.JSON
    assert config.deserialization_exception_handler == "log_and_fail"
    assert config.processing_exception_handler == "log_and_fail"
    assert config.production_exception_handler == "log_and_fail"
    assert config.dead_letter_queue_topic is None
    assert config.replication_factor == 1
    assert config.consumer_config == {}
    assert config.producer_config == {}
    assert config.admin_config == {}


def test_effective_commit_interval_is_30_seconds_for_at_least_once():
    assert StreamsConfig(application_id="app").effective_commit_interval_ms == 30_000


def test_effective_commit_interval_is_100_ms_for_exactly_once_v2():
    config = StreamsConfig(application_id="app", processing_guarantee="exactly_once_v2")
    assert config.effective_commit_interval_ms == 100


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once_v2"])
def test_explicit_commit_interval_overrides_the_guarantee_default(guarantee):
    config = StreamsConfig(
        application_id="app", processing_guarantee=guarantee, commit_interval_ms=2_500
    )
    assert config.effective_commit_interval_ms == 2_500


def test_commit_interval_of_zero_is_kept_not_replaced_by_the_default():
    assert (
        StreamsConfig(application_id="app", commit_interval_ms=0).effective_commit_interval_ms == 0
    )


# ---- validation ----


def test_application_id_is_required():
    with pytest.raises(ValidationError, match="application_id"):
        StreamsConfig()


def test_empty_application_id_is_rejected():
    with pytest.raises(ValidationError, match="application_id"):
        StreamsConfig(application_id="")


def test_unknown_processing_guarantee_is_rejected():
    with pytest.raises(ValidationError, match="processing_guarantee"):
        StreamsConfig(application_id="app", processing_guarantee="exactly_once")


def test_negative_commit_interval_is_rejected():
    with pytest.raises(ValidationError, match="commit_interval_ms"):
        StreamsConfig(application_id="app", commit_interval_ms=-1)


def test_assignment_is_validated_too():
    config = StreamsConfig(application_id="app")
    with pytest.raises(ValidationError):
        config.replication_factor = 0
    assert config.replication_factor == 1


def test_unknown_handler_name_is_rejected():
    with pytest.raises(ValidationError, match="deserialization_exception_handler"):
        StreamsConfig(application_id="app", deserialization_exception_handler="log_and_skip")


def test_a_callable_handler_is_accepted_as_is():
    def handler(exc, ctx):
        return "continue"

    config = StreamsConfig(application_id="app", processing_exception_handler=handler)
    assert config.processing_exception_handler is handler


# ---- default serdes by name ----


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("BYTES", serdes.BYTES),
        ("STRING", serdes.STRING),
        ("INT", serdes.INT),
        ("LONG", serdes.LONG),
        ("DOUBLE", serdes.DOUBLE),
        ("JSON", serdes.JSON),
        ("long", serdes.LONG),
        ("String", serdes.STRING),
    ],
)
def test_default_serdes_can_be_given_by_name_case_insensitively(name, expected):
    config = StreamsConfig(application_id="app", default_key_serde=name, default_value_serde=name)
    assert config.default_key_serde is expected
    assert config.default_value_serde is expected


def test_unknown_serde_name_is_rejected_listing_the_known_ones():
    with pytest.raises(ValidationError, match=r"unknown serde 'UUID'.*STRING"):
        StreamsConfig(application_id="app", default_value_serde="UUID")


def test_a_serde_object_is_accepted_as_default():
    custom = serdes.Serde(lambda v: v, lambda b: b, name="raw")
    assert StreamsConfig(application_id="app", default_value_serde=custom).default_value_serde is (
        custom
    )


# ---- environment variables ----


def test_every_field_can_come_from_its_environment_variable(monkeypatch):
    monkeypatch.setenv("KSTREAMLITE_APPLICATION_ID", "from-env")
    monkeypatch.setenv("KSTREAMLITE_BOOTSTRAP_SERVERS", "broker:9092")
    monkeypatch.setenv("KSTREAMLITE_COMMIT_INTERVAL_MS", "250")
    monkeypatch.setenv("KSTREAMLITE_PROCESSING_GUARANTEE", "exactly_once_v2")
    monkeypatch.setenv("KSTREAMLITE_DESERIALIZATION_EXCEPTION_HANDLER", "log_and_continue")
    monkeypatch.setenv("KSTREAMLITE_DEAD_LETTER_QUEUE_TOPIC", "dlq")
    monkeypatch.setenv("KSTREAMLITE_REPLICATION_FACTOR", "3")
    monkeypatch.setenv("KSTREAMLITE_METRICS_PORT", "9108")
    config = StreamsConfig()
    assert config.application_id == "from-env"
    assert config.bootstrap_servers == "broker:9092"
    assert config.commit_interval_ms == 250
    assert config.processing_guarantee == "exactly_once_v2"
    assert config.deserialization_exception_handler == "log_and_continue"
    assert config.dead_letter_queue_topic == "dlq"
    assert config.replication_factor == 3
    assert config.metrics_port == 9108


def test_default_serdes_can_come_from_the_environment_by_name(monkeypatch):
    monkeypatch.setenv("KSTREAMLITE_DEFAULT_KEY_SERDE", "long")
    monkeypatch.setenv("KSTREAMLITE_DEFAULT_VALUE_SERDE", "DOUBLE")
    config = StreamsConfig(application_id="app")
    assert config.default_key_serde is serdes.LONG
    assert config.default_value_serde is serdes.DOUBLE


def test_client_override_dicts_come_from_the_environment_as_json_objects(monkeypatch):
    monkeypatch.setenv("KSTREAMLITE_PRODUCER_CONFIG", '{"linger.ms": 5, "acks": "all"}')
    monkeypatch.setenv("KSTREAMLITE_CONSUMER_CONFIG", '{"fetch.min.bytes": 1}')
    config = StreamsConfig(application_id="app")
    assert config.producer_config == {"linger.ms": 5, "acks": "all"}
    assert config.consumer_config == {"fetch.min.bytes": 1}


def test_malformed_json_in_a_client_override_variable_raises_config_error_naming_it(monkeypatch):
    monkeypatch.setenv("KSTREAMLITE_PRODUCER_CONFIG", "linger.ms=5")
    with pytest.raises(ConfigError, match="KSTREAMLITE_PRODUCER_CONFIG must be a JSON object"):
        StreamsConfig(application_id="app")


def test_an_invalid_environment_value_is_rejected(monkeypatch):
    monkeypatch.setenv("KSTREAMLITE_COMMIT_INTERVAL_MS", "soon")
    with pytest.raises(ValidationError, match="commit_interval_ms"):
        StreamsConfig(application_id="app")


def test_explicit_arguments_win_over_the_environment(monkeypatch):
    monkeypatch.setenv("KSTREAMLITE_APPLICATION_ID", "from-env")
    monkeypatch.setenv("KSTREAMLITE_BOOTSTRAP_SERVERS", "env:9092")
    monkeypatch.setenv("KSTREAMLITE_COMMIT_INTERVAL_MS", "250")
    config = StreamsConfig(
        application_id="explicit", bootstrap_servers="arg:9092", commit_interval_ms=7
    )
    assert config.application_id == "explicit"
    assert config.bootstrap_servers == "arg:9092"
    assert config.commit_interval_ms == 7


def test_an_explicit_none_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("KSTREAMLITE_BOOTSTRAP_SERVERS", "env:9092")
    assert StreamsConfig(application_id="app", bootstrap_servers=None).bootstrap_servers is None


def test_variables_with_another_prefix_are_ignored(monkeypatch):
    monkeypatch.setenv("BOOTSTRAP_SERVERS", "plain:9092")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    assert StreamsConfig(application_id="app").bootstrap_servers is None


# ---- require_bootstrap_servers ----


def test_require_bootstrap_servers_returns_the_configured_value():
    config = StreamsConfig(application_id="app", bootstrap_servers="h:1")
    assert config.require_bootstrap_servers() == "h:1"


def test_require_bootstrap_servers_without_one_names_the_environment_variable():
    with pytest.raises(ConfigError, match="KSTREAMLITE_BOOTSTRAP_SERVERS"):
        StreamsConfig(application_id="app").require_bootstrap_servers()


def test_exactly_once_is_accepted_and_reads_committed_with_a_transactional_producer():
    from kstreamlite import KafkaStreams, StreamsBuilder
    from kstreamlite.runtime import clients

    builder = StreamsBuilder()
    builder.stream("in").to("out")
    config = StreamsConfig(
        application_id="eos",
        bootstrap_servers="127.0.0.1:9",
        processing_guarantee="exactly_once_v2",
    )
    KafkaStreams(builder.build(), config)  # nothing refused before start()
    assert clients.consumer_config(config)["isolation.level"] == "read_committed"
    producer = clients.producer_config(config, "eos-abc")
    assert producer["transactional.id"] == "eos-abc"
    assert producer["transaction.timeout.ms"] == 10_000
    assert "transactional.id" not in clients.producer_config(config)
