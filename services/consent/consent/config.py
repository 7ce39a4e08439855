from datetime import timedelta
from typing import Annotated

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from dialogkit.config import PersonalDataReaderSettings, Port

SERVICE = "consent"


class Settings(PersonalDataReaderSettings):
    model_config = SettingsConfigDict(env_prefix="CONSENT_", extra="ignore", frozen=True)

    http_port: Port = 8001
    worker_web_port: Port = 6601
    expiry_days: Annotated[int, Field(ge=1, le=3650)] = 730
    """A consent unused for this many days expires."""
    expiry_check_s: Annotated[float, Field(gt=0, le=86_400)] = 3600
    """How often the worker records expiries that fell due."""

    @property
    def expiry(self) -> timedelta:
        return timedelta(days=self.expiry_days)
