from typing import Annotated, ClassVar

from pydantic import AnyHttpUrl, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from dialogkit.config import LOCAL_DEV_TOKEN, Port, ServiceSettings

SERVICE = "contacts"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CONTACTS_", extra="ignore", frozen=True)

    http_port: Port = 8002
    worker_web_port: Port = 6602
    data_key_token: SecretStr = SecretStr(LOCAL_DEV_TOKEN)
    """Credential of the data-key routes, held by the services that seal or read personal data
    (consent, interactions, campaigns); separate from `api_token`."""
    suppression_salt: SecretStr = SecretStr("local-dev-suppression-salt")
    """Salt of the hashes that keep erased contact points blocked; keep it secret and stable."""

    # the data-subject export (GDPR Art. 15) reads the other services' read models over HTTP
    consent_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8001")
    consent_api_token: SecretStr = SecretStr(LOCAL_DEV_TOKEN)
    interactions_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8003")
    interactions_api_token: SecretStr = SecretStr(LOCAL_DEV_TOKEN)
    campaigns_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8004")
    campaigns_api_token: SecretStr = SecretStr(LOCAL_DEV_TOKEN)
    export_timeout_s: Annotated[float, Field(gt=0, le=300)] = 30.0
    """How long one request of the export to another service may take."""

    LOCAL_SECRETS: ClassVar[tuple[str, ...]] = (
        *ServiceSettings.LOCAL_SECRETS,
        "suppression_salt",
        "data_key_token",
        "consent_api_token",
        "interactions_api_token",
        "campaigns_api_token",
    )
