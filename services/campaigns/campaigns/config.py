from datetime import time, timedelta
from typing import Annotated

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from campaigns.calling_hours import DEFAULT_ZONE, CallingHours
from dialog_schemas.campaigns import FrequencyCap, FrequencyCaps
from dialog_schemas.common import Channel
from dialogkit.config import PersonalDataReaderSettings, Port

SERVICE = "campaigns"


class Settings(PersonalDataReaderSettings):
    model_config = SettingsConfigDict(env_prefix="CAMPAIGNS_", extra="ignore", frozen=True)

    http_port: Port = 8004
    worker_web_port: Port = 6604
    calling_hours_start: time = time(9)
    calling_hours_end: time = time(20)
    calling_weekdays: list[Annotated[int, Field(ge=0, le=6)]] = [0, 1, 2, 3, 4, 5]
    """Days calls may ring, 0 = Monday; Sundays are closed by default."""
    holiday_country: str | None = "DE"
    """Whose public holidays close calling hours (ISO country); empty for none."""
    holiday_subdivision: str | None = None
    default_time_zone: str = DEFAULT_ZONE
    cap_per_channel: Annotated[int, Field(ge=1, le=10_000)] | None = 2
    """Dispatched outreach per customer on one channel in the window; unset for no cap."""
    cap_across_channels: Annotated[int, Field(ge=1, le=10_000)] | None = 4
    cap_window_days: Annotated[int, Field(ge=1, le=3650)] = 30
    consent_expiry_days: Annotated[
        int,
        Field(
            ge=1,
            le=3650,
            validation_alias=AliasChoices(
                "CAMPAIGNS_CONSENT_EXPIRY_DAYS", "CONSENT_EXPIRY_DAYS", "consent_expiry_days"
            ),
        ),
    ] = 730
    """The consent service's expiry period: its own `CONSENT_EXPIRY_DAYS` unless set here."""
    plan_interval_s: Annotated[float, Field(gt=0, le=3600)] = 0.5
    """How often the worker looks for launched waves to plan."""
    plan_batch: Annotated[int, Field(ge=1, le=50_000)] = 2000
    """Customers looked at per planning transaction."""
    dispatch_interval_s: Annotated[float, Field(gt=0, le=3600)] = 0.2
    """How often the worker looks for due outreach (it then decides until none is due)."""
    dispatch_batch: Annotated[int, Field(ge=1, le=50_000)] = 2000
    """Outreach decided per transaction (and outbox rows published per round)."""
    response_window_phone_days: Annotated[int, Field(ge=0, le=3650)] = 7
    """A response without an outreach id is attributed to the latest outreach dispatched on
    its channel at most this many days before it (per channel; conversions use the window of
    the outreach's channel)."""
    response_window_email_days: Annotated[int, Field(ge=0, le=3650)] = 14
    response_window_sms_days: Annotated[int, Field(ge=0, le=3650)] = 7
    response_window_letter_days: Annotated[int, Field(ge=0, le=3650)] = 28
    read_barrier_timeout_s: Annotated[float, Field(gt=0, le=600)] = 30.0
    """How long a round waits for the consent view to reach the topics' ends before giving up
    (it is tried again at the next interval; nothing is decided on a stale view)."""
    trigger_cooldown_days: Annotated[int, Field(ge=1, le=3650)] = 30
    """A triggered campaign plans at most one outreach per customer within this many days
    (a campaign's trigger may override it)."""

    @property
    def calling_hours(self) -> CallingHours:
        return CallingHours(
            start=self.calling_hours_start,
            end=self.calling_hours_end,
            weekdays=frozenset(self.calling_weekdays),
            holiday_country=self.holiday_country or None,
            holiday_subdivision=self.holiday_subdivision,
            default_zone=self.default_time_zone,
        )

    @property
    def frequency_caps(self) -> FrequencyCaps:
        def cap(limit: int | None) -> FrequencyCap | None:
            return (
                None
                if limit is None
                else FrequencyCap(limit=limit, window_days=self.cap_window_days)
            )

        return FrequencyCaps(
            per_channel=cap(self.cap_per_channel), across_channels=cap(self.cap_across_channels)
        )

    @property
    def response_windows(self) -> dict[Channel, timedelta]:
        days = {
            Channel.PHONE: self.response_window_phone_days,
            Channel.EMAIL: self.response_window_email_days,
            Channel.SMS: self.response_window_sms_days,
            Channel.LETTER: self.response_window_letter_days,
        }
        return {channel: timedelta(days=n) for channel, n in days.items()}

    @property
    def trigger_cooldown(self) -> timedelta:
        return timedelta(days=self.trigger_cooldown_days)

    @property
    def consent_expiry(self) -> timedelta:
        return timedelta(days=self.consent_expiry_days)
