from typing import Annotated, ClassVar

from pydantic import AnyHttpUrl, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from dialogkit.config import Port, ServiceSettings

SERVICE = "contacts"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CONTACTS_", extra="ignore", frozen=True)

    http_port: Port = 8002
    worker_web_port: Port = 6602
    suppression_salt: SecretStr = SecretStr("local-dev-suppression-salt")
    """Salt of the hashes that keep erased contact points blocked; keep it secret and stable."""

    # the data-subject export (GDPR Art. 15) reads the other services' read models over HTTP,
    # with tokens of exactly the scopes in contacts.export.PEER_SCOPES
    consent_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8001")
    interactions_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8003")
    campaigns_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8004")
    export_timeout_s: Annotated[float, Field(gt=0, le=300)] = 30.0
    """How long one request of the export to another service may take."""

    audit_retention_days: Annotated[int, Field(ge=1, le=3650)] = 365
    """How long the audit trail of personal-data access is kept; audit.events.v1 keeps 400 days,
    so a rebuild restores up to that (raise the topic's retention.ms for longer periods)."""

    CALLS_OTHER_SERVICES: ClassVar[bool] = True
    LOCAL_SECRETS: ClassVar[tuple[str, ...]] = (
        *ServiceSettings.LOCAL_SECRETS,
        "suppression_salt",
    )
