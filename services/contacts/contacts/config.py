from typing import Self

from pydantic import SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from dialogkit.config import Port, ServiceSettings

SERVICE = "contacts"
LOCAL_SALT = "local-dev-suppression-salt"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CONTACTS_", extra="ignore", frozen=True)

    http_port: Port = 8002
    worker_web_port: Port = 6602
    suppression_salt: SecretStr = SecretStr(LOCAL_SALT)
    """Salt of the hashes that keep erased contact points blocked; keep it secret and stable."""

    @model_validator(mode="after")
    def _refuse_default_salt_outside_local(self) -> Self:
        if self.environment != "local" and self.suppression_salt.get_secret_value() == LOCAL_SALT:
            raise ValueError(
                "suppression_salt still has the local development default; set a secret salt"
            )
        return self
