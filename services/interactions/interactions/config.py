from datetime import timedelta
from typing import Annotated

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from dialogkit.config import PersonalDataReaderSettings, Port

SERVICE = "interactions"


class Settings(PersonalDataReaderSettings):
    model_config = SettingsConfigDict(env_prefix="INTERACTIONS_", extra="ignore", frozen=True)

    http_port: Port = 8003
    worker_web_port: Port = 6603
    compliance_check_s: Annotated[float, Field(gt=0, le=3600)] = 5.0
    """How often the worker checks advertising touchpoints against the consent history."""
    compliance_settle_s: Annotated[float, Field(ge=0, le=3600)] = 10.0
    """How long a touchpoint waits before its check, so consent events of the moment arrive."""
    consent_expiry_days: Annotated[
        int,
        Field(
            ge=1,
            le=3650,
            validation_alias=AliasChoices(
                "INTERACTIONS_CONSENT_EXPIRY_DAYS", "CONSENT_EXPIRY_DAYS", "consent_expiry_days"
            ),
        ),
    ] = 730
    """The consent service's expiry period: its own `CONSENT_EXPIRY_DAYS` unless set here."""
    sale_wait_s: Annotated[float, Field(ge=0, le=30)] = 5.0
    """How long a contract confirmation waits for its sale call to reach the read model (a
    call recorded a moment ago) before it is refused."""

    @property
    def compliance_settle(self) -> timedelta:
        return timedelta(seconds=self.compliance_settle_s)

    @property
    def consent_expiry(self) -> timedelta:
        return timedelta(days=self.consent_expiry_days)
