"""How services connect to Kafka: plaintext locally, SCRAM over TLS where settings say so."""

from __future__ import annotations

import ssl

import pytest
from faust.types.auth import AuthProtocol, SASLMechanism

from campaigns.bootstrap import DEFINITION
from dialogkit.kafka_security import faust_credentials, kafka_client_options
from dialogkit.service import SettingsError, load_settings
from dialogkit.worker_setup import faust_settings


def test_local_settings_connect_in_plaintext() -> None:
    settings = DEFINITION.settings()
    assert kafka_client_options(settings) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(settings) is None


def test_scram_over_tls_carries_user_password_and_a_tls_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CAMPAIGNS_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("CAMPAIGNS_KAFKA_USERNAME", "campaigns")
    monkeypatch.setenv("CAMPAIGNS_KAFKA_PASSWORD", "s3cret")
    settings = load_settings(DEFINITION)
    options = kafka_client_options(settings)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "campaigns",
        "s3cret",
    )
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    credentials = faust_settings("campaigns", settings)["broker_credentials"]
    assert credentials.protocol is AuthProtocol.SASL_SSL
    assert credentials.mechanism is SASLMechanism.SCRAM_SHA_512
    assert credentials.username == "campaigns"


def test_sasl_without_credentials_is_refused_naming_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CAMPAIGNS_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(SettingsError, match="needs kafka_username and kafka_password"):
        load_settings(DEFINITION)


def test_an_unknown_protocol_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMPAIGNS_KAFKA_SECURITY_PROTOCOL", "KERBEROS")
    with pytest.raises(SettingsError, match="CAMPAIGNS_KAFKA_SECURITY_PROTOCOL"):
        load_settings(DEFINITION)


async def test_the_bulk_consumer_and_the_admin_client_get_the_same_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dialogkit import replay, topics

    monkeypatch.setenv("CAMPAIGNS_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("CAMPAIGNS_KAFKA_USERNAME", "campaigns")
    monkeypatch.setenv("CAMPAIGNS_KAFKA_PASSWORD", "s3cret")
    options = kafka_client_options(load_settings(DEFINITION))
    seen: list[dict[str, object]] = []

    class Refused(Exception):
        pass

    def recorder(*args: object, **kwargs: object) -> object:
        seen.append(kwargs)
        raise Refused

    monkeypatch.setattr(replay, "AIOKafkaConsumer", recorder)
    monkeypatch.setattr(topics, "AIOKafkaAdminClient", recorder)
    with pytest.raises(Refused):
        await anext(replay.read_topic_in_batches("kafka:9093", "t", {}, 10, security=options))
    with pytest.raises(Refused):
        await topics.ensure_topics("kafka:9093", [], partitions=1, replication=1, security=options)
    assert len(seen) == 2
    for kwargs in seen:
        assert kwargs["security_protocol"] == "SASL_SSL"
        assert kwargs["sasl_plain_username"] == "campaigns"
        assert isinstance(kwargs["ssl_context"], ssl.SSLContext)


def test_the_read_barrier_and_the_lag_read_topic_ends_on_the_same_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import kafka

    from campaigns.bootstrap import periodic
    from campaigns.planning import Planner
    from dialogkit import offsets

    monkeypatch.setenv("CAMPAIGNS_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("CAMPAIGNS_KAFKA_USERNAME", "campaigns")
    monkeypatch.setenv("CAMPAIGNS_KAFKA_PASSWORD", "s3cret")
    settings = load_settings(DEFINITION)
    seen: list[dict[str, object]] = []

    class Refused(Exception):
        pass

    def recorder(*args: object, **kwargs: object) -> object:
        seen.append(kwargs)
        raise Refused

    monkeypatch.setattr(kafka, "KafkaConsumer", recorder)  # offsets imports it on first use
    [planner] = [job for job in periodic(settings) if isinstance(job, Planner)]
    ends = planner._barrier._ends  # the worker's read barrier, as composed for the settings
    assert isinstance(ends, offsets.KafkaTopicEnds)
    with pytest.raises(Refused):
        ends.read(["consent.events.v1"])
    with pytest.raises(Refused):
        offsets.end_offsets("kafka:9093", ["t"], kafka_client_options(settings))
    for options in seen:
        assert options["security_protocol"] == "SASL_SSL"
        assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
            "campaigns",
            "s3cret",
        )
