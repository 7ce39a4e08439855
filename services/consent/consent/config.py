from datetime import timedelta
from typing import Annotated, ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from dialogkit.config import PersonalDataReaderSettings, Port

SERVICE = "consent"


class Settings(PersonalDataReaderSettings):
    model_config = SettingsConfigDict(env_prefix="CONSENT_", extra="ignore", frozen=True)

    http_port: Port = 8001
    worker_web_port: Port = 6601
    expiry_days: Annotated[int, Field(ge=1, le=3650)] = 730
    """A consent unused for this many days expires."""
    confirmation_expiry_days: Annotated[int, Field(ge=1, le=365)] = 30
    """A pending consent can be confirmed for this many days after the grant."""
    confirmation_secret: SecretStr = SecretStr("local-dev-confirmation-secret")
    """Key of the double opt-in tokens the service issues (HMAC of the consent id)."""
    expiry_check_s: Annotated[float, Field(gt=0, le=86_400)] = 3600
    """How often the worker records expiries that fell due."""

    LOCAL_SECRETS: ClassVar[tuple[str, ...]] = (
        *PersonalDataReaderSettings.LOCAL_SECRETS,
        "confirmation_secret",
    )

    @property
    def expiry(self) -> timedelta:
        return timedelta(days=self.expiry_days)

    @property
    def confirm_within(self) -> timedelta:
        return timedelta(days=self.confirmation_expiry_days)
