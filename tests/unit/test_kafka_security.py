"""Kafka security settings reach every client: producers, the bulk consumer, the admin client and
the faust worker; plaintext stays the default for the embedded broker on loopback."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
import trustme
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from dialogkit import replay, topics
from dialogkit.config import ServiceSettings
from dialogkit.publishing import KafkaPublisher
from dialogkit.service import SettingsError, load_settings
from dialogkit.worker import faust_settings
from interactions.bootstrap import DEFINITION as INTERACTIONS


@pytest.fixture
def cluster_ca(tmp_path: Path) -> Path:
    """A CA certificate file as ops mount it from the cluster's CA secret."""
    ca = trustme.CA()
    path = tmp_path / "ca.crt"
    ca.cert_pem.write_to_path(str(path))
    return path


def scram(ca_file: Path, **more: Any) -> ServiceSettings:
    return ServiceSettings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_username="interactions",
        kafka_sasl_password="scram-s3cr3t",  # type: ignore[arg-type]
        kafka_ssl_ca_file=ca_file,
        **more,
    )


def assert_scram_over_tls(options: dict[str, Any]) -> None:
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "interactions"
    assert options["sasl_plain_password"] == "scram-s3cr3t"
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.cert_store_stats()["x509_ca"] == 1  # the cluster's CA, nothing else


def test_plaintext_is_the_local_default() -> None:
    settings = ServiceSettings()
    assert settings.kafka_security.client_options() == {"security_protocol": "PLAINTEXT"}
    assert "broker_credentials" not in faust_settings("interactions", settings)


def test_producers_connect_with_the_services_scram_user_over_tls(cluster_ca: Path) -> None:
    settings = scram(cluster_ca)
    publisher = KafkaPublisher(
        "kafka:9093", client_id="x", security=settings.kafka_security.client_options()
    )
    assert_scram_over_tls(publisher._options)


def test_the_faust_worker_gets_the_same_credentials(cluster_ca: Path) -> None:
    conf = faust_settings("interactions", scram(cluster_ca))
    # what faust's aiokafka transport hands its consumer and producer
    assert_scram_over_tls(dict(credentials_to_aiokafka_auth(conf["broker_credentials"])))


async def test_the_bulk_consumer_and_the_admin_client_get_them_too(
    cluster_ca: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = scram(cluster_ca).kafka_security.client_options()
    seen: list[dict[str, Any]] = []

    class Refused(Exception):
        pass

    def recorder(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        raise Refused

    monkeypatch.setattr(replay, "AIOKafkaConsumer", recorder)
    monkeypatch.setattr(topics, "AIOKafkaAdminClient", recorder)
    with pytest.raises(Refused):
        await anext(replay.read_topic_in_batches("kafka:9093", "t", {}, 10, options))
    with pytest.raises(Refused):
        await topics.ensure_topics("kafka:9093", [], partitions=1, replication=1, security=options)
    for kwargs in seen:
        assert_scram_over_tls(kwargs)


def test_mutual_tls_without_sasl(cluster_ca: Path, tmp_path: Path) -> None:
    ca = trustme.CA()
    client = ca.issue_cert("interactions")
    client.cert_chain_pems[0].write_to_path(str(tmp_path / "client.crt"))
    client.private_key_pem.write_to_path(str(tmp_path / "client.key"))
    settings = ServiceSettings(
        kafka_security_protocol="SSL",
        kafka_ssl_ca_file=cluster_ca,
        kafka_ssl_cert_file=tmp_path / "client.crt",
        kafka_ssl_key_file=tmp_path / "client.key",
    )
    options = settings.kafka_security.client_options()
    assert options["security_protocol"] == "SSL"
    assert "sasl_mechanism" not in options
    conf = faust_settings("interactions", settings)
    assert credentials_to_aiokafka_auth(conf["broker_credentials"])["security_protocol"] == "SSL"


def test_sasl_without_a_password_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERACTIONS_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("INTERACTIONS_KAFKA_SASL_USERNAME", "interactions")
    with pytest.raises(SettingsError, match="needs kafka_sasl_username and kafka_sasl_password"):
        load_settings(INTERACTIONS)


def test_production_refuses_a_plaintext_broker_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERACTIONS_ENVIRONMENT", "production")
    with pytest.raises(SettingsError, match="must be SASL_SSL or SSL in production"):
        load_settings(INTERACTIONS)
