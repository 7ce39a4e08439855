"""Vocabulary shared by several topics: channels, purposes, legal bases, reasons to block."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

# Storage limits: values no projection (PostgreSQL text and jsonb, JSON of other languages,
# Python's calendar) can hold. Every type below refuses them, so what an API or ingress accepts
# every projection can apply. The compatibility gate knows them (`STORAGE_LIMITS`): adding one
# to a field refuses only values that were never applicable, so it is no break.
NO_NUL = r"^[^\x00]*$"
"""Text without the NUL character (PostgreSQL refuses it in text and jsonb); unpaired
surrogates are refused by every constrained string type (they are not valid UTF-8)."""
EMAIL_PATTERN = r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$"
EMAIL_PATTERN_V1 = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
"""The released email pattern: the same but for NUL."""
INT_MAX = 2**53 - 1
"""The largest integer every JSON reader holds exactly (I-JSON, RFC 7493)."""
INSTANT_MIN = datetime(1900, 1, 1, tzinfo=UTC)
INSTANT_MAX = datetime(2199, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
"""The platform's calendar: nothing it records happened before 1900 or after 2199 (UTC)."""
DATE_MIN, DATE_MAX = INSTANT_MIN.date(), INSTANT_MAX.date()
INSTANT_LIMITS = {
    "formatMinimum": INSTANT_MIN.isoformat().replace("+00:00", "Z"),
    "formatMaximum": INSTANT_MAX.isoformat().replace("+00:00", "Z"),
}
DATE_LIMITS = {"formatMinimum": DATE_MIN.isoformat(), "formatMaximum": DATE_MAX.isoformat()}
STORAGE_LIMITS: dict[str, object] = {"pattern": NO_NUL, "maximum": INT_MAX}
"""JSON Schema constraints the compatibility gate accepts as added within a version."""
HARDENED_PATTERNS = {EMAIL_PATTERN: EMAIL_PATTERN_V1}
"""Patterns that only add a storage limit to a released one."""


def _in_calendar(value: datetime) -> datetime:
    if not INSTANT_MIN <= value <= INSTANT_MAX:
        raise ValueError(
            f"must lie between {INSTANT_LIMITS['formatMinimum']} and"
            f" {INSTANT_LIMITS['formatMaximum']} (UTC)"
        )
    return value


def _date_in_calendar(value: date) -> date:
    if not DATE_MIN <= value <= DATE_MAX:
        raise ValueError(f"must lie between {DATE_MIN} and {DATE_MAX}")
    return value


Instant = Annotated[
    AwareDatetime, AfterValidator(_in_calendar), Field(json_schema_extra=INSTANT_LIMITS)
]
"""A moment with its UTC offset (a time without one is refused), within the platform's
calendar; the one datetime type of every event, command and query."""
CalendarDate = Annotated[
    date, AfterValidator(_date_in_calendar), Field(json_schema_extra=DATE_LIMITS)
]
"""A calendar date within the platform's calendar (1900 to 2199)."""
Count = Annotated[int, Field(ge=0, le=INT_MAX)]
"""A non-negative integer every JSON reader holds exactly."""

ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=NO_NUL)]
Label = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_NUL)]
FreeText = Annotated[str, StringConstraints(max_length=4000, pattern=NO_NUL)]
PhoneNumber = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,14}$")]
"""E.164: a plus sign, the country code and the subscriber number, at most 15 digits."""
EmailAddress = Annotated[
    str, StringConstraints(min_length=3, max_length=254, pattern=EMAIL_PATTERN)
]
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class Part(BaseModel):
    """A value object inside an event: frozen, no fields beyond the declared ones."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class Channel(StrEnum):
    PHONE = "phone"
    LETTER = "letter"
    EMAIL = "email"
    SMS = "sms"
    SOCIAL = "social"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Purpose(StrEnum):
    """Why the company contacts a customer; every purpose except `service` is advertising."""

    MARKETING = "marketing"
    CROSS_SELL = "cross_sell"
    RETENTION = "retention"
    SURVEYS = "surveys"
    SERVICE = "service"

    @property
    def is_advertising(self) -> bool:
        return self is not Purpose.SERVICE


class CustomerKind(StrEnum):
    CONSUMER = "consumer"
    BUSINESS = "business"


class LegalBasis(StrEnum):
    """Why a contact was allowed."""

    EXPRESS_CONSENT = "express_consent"
    EXISTING_CUSTOMER = "existing_customer"
    PRESUMED_BUSINESS_CONSENT = "presumed_business_consent"
    LETTER_WITHOUT_OBJECTION = "letter_without_objection"
    NOT_ADVERTISING = "not_advertising"


class BlockReason(StrEnum):
    """Why a contact was not allowed."""

    NO_CONSENT = "no_consent"
    PENDING_CONFIRMATION = "pending_confirmation"
    REVOKED = "revoked"
    OBJECTION = "objection"
    EXPIRED = "expired"
    SUPPRESSED = "suppressed"
    OUTSIDE_CALLING_HOURS = "outside_calling_hours"
    FREQUENCY_CAP = "frequency_cap"
    ERASED = "erased"
