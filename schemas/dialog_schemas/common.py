"""Vocabulary shared by several topics: channels, purposes, legal bases, reasons to block."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Label = Annotated[str, StringConstraints(min_length=1, max_length=200)]
FreeText = Annotated[str, StringConstraints(max_length=4000)]
PhoneNumber = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,14}$")]
"""E.164: a plus sign, the country code and the subscriber number, at most 15 digits."""
EmailAddress = Annotated[
    str, StringConstraints(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
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
