"""Typed settings shared by every service; each service gives them its own env prefix."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Self

from pydantic import AnyHttpUrl, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from dialogkit.erasures import ErasedContactPoints
    from dialogkit.keys import KeyStore

LOCAL_DEV_TOKEN = "local-dev-token"


Port = Annotated[int, Field(ge=1, le=65535)]


class ServiceSettings(BaseSettings):
    """Settings of one service's API and worker; read from `<PREFIX>_<NAME>` variables."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    environment: Literal["local", "test", "production"] = "local"
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_idempotent_producer: bool = False
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_username: str | None = None
    kafka_password: SecretStr | None = None
    kafka_ca_file: str | None = None
    """PEM file of the CA that signed the brokers' certificates (SSL protocols); system CAs if
    unset."""
    database_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    database_pool_max: Annotated[int, Field(ge=1, le=100)] = 10
    http_host: str = "127.0.0.1"
    http_port: Port = 8000
    worker_web_port: Port = 6066
    api_token: SecretStr = SecretStr(LOCAL_DEV_TOKEN)
    topic_partitions: Annotated[int, Field(ge=1, le=1000)] = 6
    topic_replication: Annotated[int, Field(ge=1, le=10)] = 1
    batch_max: Annotated[int, Field(ge=1, le=50_000)] = 2000
    batch_within_s: Annotated[float, Field(gt=0, le=60)] = 0.2
    """The longest a worker gathers one batch, from its first record."""
    batch_idle_s: Annotated[float, Field(gt=0, le=60)] = 0.005
    """A batch is applied once no record arrived for this long: a lone record waits no more
    than this, while under a backlog batches grow to `batch_max`."""
    consumer_fetch_max_wait_ms: Annotated[int, Field(ge=0, le=30_000)] = 20
    """How long the broker may hold a worker's fetch that finds no new records."""
    publish_timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0
    """How long a command waits for the broker to confirm its events; then 504, outcome unknown."""
    readiness_timeout_s: Annotated[float, Field(gt=0, le=60)] = 2.0
    """How long each readiness check may take before it counts as failed."""
    retry_after_s: Annotated[int, Field(ge=1, le=3600)] = 5
    """The Retry-After a 503 or 504 answer suggests, in seconds."""
    worker_data_dir: Path | None = None
    """faust's data folder of the worker; default `<temp>/dialog-<service>-worker`."""
    command_wait_s: Annotated[float, Field(ge=0, le=30)] = 5.0
    """How long a command that waits for its events to be applied waits before answering 202."""
    otlp_endpoint: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    LOCAL_SECRETS: ClassVar[tuple[str, ...]] = ("api_token",)
    """Secret settings whose defaults serve local development only; a service adds its own."""

    def erased_contact_points(self) -> ErasedContactPoints:
        """Where this service asks whether a contact point was erased: nowhere by default."""
        from dialogkit.erasures import InMemoryErasedContactPoints

        return InMemoryErasedContactPoints()

    def key_store(self, pool: Any) -> KeyStore:
        """Where this service gets data keys: its own database by default (contacts keeps them)."""
        from dialogkit.keys import PostgresKeyStore

        return PostgresKeyStore(pool)

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> Self:
        if self.kafka_security_protocol.startswith("SASL") and not (
            self.kafka_username and self.kafka_password
        ):
            raise ValueError(
                f"kafka_security_protocol={self.kafka_security_protocol} needs kafka_username"
                " and kafka_password"
            )
        return self

    @model_validator(mode="after")
    def _refuse_default_secrets_outside_local(self) -> Self:
        if self.environment == "local":
            return self
        for name in self.LOCAL_SECRETS:
            if getattr(self, name) == type(self).model_fields[name].default:
                raise ValueError(
                    f"{name} still has the local development default; set a real secret "
                    f"for environment={self.environment}"
                )
        return self


class PersonalDataReaderSettings(ServiceSettings):
    """Settings of a service that seals or reads personal data with keys contacts keeps."""

    contacts_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8002")
    contacts_api_token: SecretStr = SecretStr(LOCAL_DEV_TOKEN)
    """The contacts API token, for asking whether a contact point was erased."""
    data_key_token: SecretStr = SecretStr(LOCAL_DEV_TOKEN)
    """The credential of the contacts service's data-key routes (its `CONTACTS_DATA_KEY_TOKEN`),
    not its API token: holding the contacts API token does not give access to keys."""
    data_key_cache_s: Annotated[float, Field(ge=0, le=3600)] = 30.0
    """How long a reader keeps a data key before asking again (sealing always asks afresh)."""

    LOCAL_SECRETS: ClassVar[tuple[str, ...]] = (
        *ServiceSettings.LOCAL_SECRETS,
        "contacts_api_token",
        "data_key_token",
    )

    def erased_contact_points(self) -> ErasedContactPoints:
        """The contacts service's erased contact points, over HTTP."""
        from dialogkit.erasures import HttpErasedContactPoints

        return HttpErasedContactPoints(
            str(self.contacts_url), self.contacts_api_token.get_secret_value()
        )

    def key_store(self, pool: Any = None) -> KeyStore:
        """The contacts service's keys, over HTTP."""
        from dialogkit.keys import HttpKeyStore

        return HttpKeyStore(
            str(self.contacts_url),
            self.data_key_token.get_secret_value(),
            cache_s=self.data_key_cache_s,
        )
