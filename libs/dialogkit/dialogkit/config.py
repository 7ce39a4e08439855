"""Typed settings shared by every service; each service gives them its own env prefix."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Self

from pydantic import AnyHttpUrl, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dialogkit.tokens import LOCAL_ISSUER, PLATFORM_AUDIENCE

if TYPE_CHECKING:
    from dialogkit.erasures import ErasedContactPoints
    from dialogkit.issuer import TokenVerifier
    from dialogkit.keys import KeyStore
    from dialogkit.ledger import LedgerSigner, LedgerVerifier
    from dialogkit.tokens import TokenSource

DATA_KEYS_SCOPE = "data-keys"
"""Held only by the services that seal or open personal data: reads customers' data keys."""
SUPPRESSION_SCOPE = "contacts:suppression"
"""Held by the services that take contact points: asks whether one belongs to an erased customer."""

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
    http_max_body_bytes: Annotated[int, Field(ge=1024, le=64 * 1024 * 1024)] = 1024 * 1024
    """Larger request bodies are refused with 413 before a route reads them."""
    http_max_json_depth: Annotated[int, Field(ge=2, le=256)] = 32
    """JSON bodies nested deeper are refused with 422."""
    auth_issuer: str = LOCAL_ISSUER
    """The `iss` every token must carry: the OAuth2 issuer this service trusts."""
    auth_audience: str = PLATFORM_AUDIENCE
    """The `aud` every token must carry."""
    auth_jwks_url: AnyHttpUrl | None = None
    """Where the issuer publishes its signing keys (JWKS); or give `auth_public_key`."""
    auth_public_key: str | None = None
    """The issuer's public key (PEM), for issuers without a JWKS endpoint."""
    auth_algorithms: tuple[str, ...] = ("EdDSA", "ES256", "RS256")
    auth_leeway_s: Annotated[float, Field(ge=0, le=300)] = 30
    """Clock skew allowed when checking a token's `exp` and `nbf`."""
    auth_local_key_file: Path | None = None
    """The local development signing key (`make run` makes it); refused outside local."""
    auth_token_url: AnyHttpUrl | None = None
    """The issuer's token endpoint, for this service's own calls to other services."""
    auth_client_id: str | None = None
    auth_client_secret: SecretStr | None = None
    ledger_signing_key: SecretStr | None = None
    """The consent service's Ed25519 private key (PEM, PKCS#8), which signs every consent event;
    or give it as a file in `ledger_signing_key_file`."""
    ledger_signing_key_file: Path | None = None
    ledger_public_key: str | None = None
    """The consent service's public key (PEM, from `GET /v1/signing-key`): checks consent events."""
    ledger_local_key_file: Path | None = None
    """The local development ledger key (`make run` makes it); refused outside local."""
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
    consumer_session_timeout_s: Annotated[float, Field(ge=1, le=300)] = 10.0
    """How long the group waits for a silent worker before giving its partitions to the others:
    a worker killed without leaving holds its partitions this long, also from its own restart.
    Kafka refuses sessions shorter than its `group.min.session.timeout.ms` (6 s by default); the
    embedded broker holds every join for half of it, so workers there get 2 s
    (`devstack.broker.GROUP_SETTINGS`, docs/benchmarks.md)."""
    consumer_heartbeat_interval_s: Annotated[float, Field(gt=0, le=100)] = 1.0
    """How often a worker tells the group it is alive; at most a third of the session timeout."""
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

    LOCAL_SECRETS: ClassVar[tuple[str, ...]] = ()
    """Secret settings whose defaults serve local development only; a service adds its own."""
    CALLS_OTHER_SERVICES: ClassVar[bool] = False
    """True where the service calls other services' APIs with its own client credentials."""

    @property
    def service_name(self) -> str:
        return str(self.model_config.get("env_prefix", "")).rstrip("_").lower() or "service"

    def token_verifier(self) -> TokenVerifier:
        """How the API checks bearer tokens: the issuer's JWKS, its public key or the local key."""
        from dialogkit.issuer import JwksKeys, KeySource, StaticKey, TokenVerifier
        from dialogkit.tokens import local_signing_key

        keys: KeySource
        if self.auth_jwks_url is not None:
            keys = JwksKeys(str(self.auth_jwks_url))
        elif self.auth_public_key is not None:
            keys = StaticKey(self.auth_public_key.encode())
        elif self.auth_local_key_file is not None:
            keys = StaticKey(local_signing_key(self.auth_local_key_file).public_key())
        else:
            raise ValueError(
                "no token issuer: set AUTH_JWKS_URL or AUTH_PUBLIC_KEY"
                " (or AUTH_LOCAL_KEY_FILE in local development)"
            )
        return TokenVerifier(
            keys,
            issuer=self.auth_issuer,
            audience=self.auth_audience,
            algorithms=self.auth_algorithms,
            leeway_s=self.auth_leeway_s,
        )

    def ledger_signer(self) -> LedgerSigner:
        """The consent service's signer: its private key file, or the local development key."""
        from dialogkit.ledger import LedgerSigner, load_private_key, local_ledger_key, private_key

        if self.ledger_signing_key is not None:
            return LedgerSigner(private_key(self.ledger_signing_key.get_secret_value().encode()))
        if self.ledger_signing_key_file is not None:
            return LedgerSigner(load_private_key(self.ledger_signing_key_file))
        if self.ledger_local_key_file is not None:
            return LedgerSigner(local_ledger_key(self.ledger_local_key_file))
        raise ValueError(
            "no ledger signing key: set LEDGER_SIGNING_KEY or LEDGER_SIGNING_KEY_FILE"
            " (or LEDGER_LOCAL_KEY_FILE in local development)"
        )

    def topic_signers(self) -> dict[str, LedgerSigner]:
        """Topic -> signer for the topics whose records this service must sign (the catalog's
        `signed_by`); empty for a service that signs none."""
        from dialog_schemas.catalog import TOPICS

        signed = [t.name for t in TOPICS if t.signed_by == self.service_name]
        if not signed:
            return {}
        signer = self.ledger_signer()
        return {name: signer for name in signed}

    def ledger_verifier(self) -> LedgerVerifier:
        """How consent events are checked: the published public key, or the signer's own."""
        from dialogkit.ledger import LedgerVerifier, load_public_key

        if self.ledger_public_key is not None:
            return LedgerVerifier(load_public_key(self.ledger_public_key))
        try:
            return LedgerVerifier(self.ledger_signer().public_key)
        except ValueError:
            raise ValueError(
                "no ledger public key: set LEDGER_PUBLIC_KEY to the consent service's key"
                " (or LEDGER_LOCAL_KEY_FILE in local development)"
            ) from None

    def service_tokens(self, scopes: Sequence[str]) -> TokenSource:
        """Tokens with exactly `scopes` for this service's calls to another service."""
        from dialogkit.tokens import ClientCredentials, LocalTokens, NoTokens, local_signing_key

        if self.auth_token_url is not None and self.auth_client_id and self.auth_client_secret:
            return ClientCredentials(
                str(self.auth_token_url),
                self.auth_client_id,
                self.auth_client_secret.get_secret_value(),
                scopes,
            )
        if self.auth_local_key_file is not None:
            return LocalTokens(
                local_signing_key(self.auth_local_key_file),
                subject=f"service:{self.service_name}",
                scopes=scopes,
                audience=self.auth_audience,
            )
        return NoTokens(
            "no way to get tokens for calls to other services: set AUTH_TOKEN_URL,"
            " AUTH_CLIENT_ID and AUTH_CLIENT_SECRET"
        )

    def erased_contact_points(self) -> ErasedContactPoints:
        """Where this service asks whether a contact point was erased: nowhere by default."""
        from dialogkit.erasures import InMemoryErasedContactPoints

        return InMemoryErasedContactPoints()

    def key_store(self, pool: Any) -> KeyStore:
        """Where this service gets data keys: its own database by default (contacts keeps them)."""
        from dialogkit.keys import PostgresKeyStore

        return PostgresKeyStore(pool)

    @model_validator(mode="after")
    def _heartbeats_fit_in_a_session(self) -> Self:
        if self.consumer_heartbeat_interval_s * 3 > self.consumer_session_timeout_s:
            raise ValueError(
                f"consumer_heartbeat_interval_s={self.consumer_heartbeat_interval_s} must be at"
                f" most a third of consumer_session_timeout_s={self.consumer_session_timeout_s}:"
                " a worker that misses one heartbeat must not lose its partitions"
            )
        return self

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
        if self.auth_local_key_file is not None or self.auth_issuer == LOCAL_ISSUER:
            raise ValueError(
                f"the local development signing key and issuer are for local development only;"
                f" set auth_issuer and auth_jwks_url or auth_public_key for"
                f" environment={self.environment}"
            )
        if self.ledger_local_key_file is not None:
            raise ValueError(
                f"the local development ledger key is for local development only; set"
                f" ledger_signing_key_file or ledger_public_key for environment={self.environment}"
            )
        if self.auth_jwks_url is None and self.auth_public_key is None:
            raise ValueError("set auth_jwks_url or auth_public_key: tokens cannot be checked")
        if self.CALLS_OTHER_SERVICES and not (
            self.auth_token_url and self.auth_client_id and self.auth_client_secret
        ):
            raise ValueError(
                "set auth_token_url, auth_client_id and auth_client_secret: this service calls"
                " other services with tokens of its own"
            )
        for name in self.LOCAL_SECRETS:
            if getattr(self, name) == type(self).model_fields[name].default:
                raise ValueError(
                    f"{name} still has the local development default; set a real secret "
                    f"for environment={self.environment}"
                )
        return self


class PersonalDataReaderSettings(ServiceSettings):
    """Settings of a service that seals or reads personal data with keys contacts keeps."""

    CALLS_OTHER_SERVICES: ClassVar[bool] = True

    contacts_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8002")
    data_key_cache_s: Annotated[float, Field(ge=0, le=3600)] = 30.0
    """How long a reader keeps a data key before asking again (sealing always asks afresh)."""

    def erased_contact_points(self) -> ErasedContactPoints:
        """The contacts service's erased contact points, over HTTP."""
        from dialogkit.erasures import HttpErasedContactPoints

        return HttpErasedContactPoints(
            str(self.contacts_url), self.service_tokens([SUPPRESSION_SCOPE])
        )

    def key_store(self, pool: Any = None) -> KeyStore:
        """The contacts service's keys, over HTTP."""
        from dialogkit.keys import HttpKeyStore

        return HttpKeyStore(
            str(self.contacts_url),
            self.service_tokens([DATA_KEYS_SCOPE]),
            cache_s=self.data_key_cache_s,
        )
