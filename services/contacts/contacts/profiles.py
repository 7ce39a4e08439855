"""Customer profiles: validated commands and the events they become.

Phone numbers and email addresses are parsed and normalized as `dialogkit.contactpoints` says
(E.164; a number that could mean two numbers is refused); time zones must be IANA names.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict

from dialog_schemas.common import CalendarDate, CustomerKind, Instant, Label
from dialog_schemas.contacts import (
    Address,
    ContactRegistered,
    ContactsMerged,
    ContactUpdated,
    LanguageTag,
    SocialHandle,
    TimeZone,
)
from dialog_schemas.envelope import CustomerId
from dialogkit.contactpoints import Email, Phone
from dialogkit.limits import Few
from dialogkit.rules import Conflict, NotFound, RuleViolation, not_in_future


def known_time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Berlin") from None
    return value


TimeZoneName = Annotated[TimeZone, AfterValidator(known_time_zone)]


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RegisterContact(Command):
    """Register a customer with what is known about them."""

    kind: CustomerKind
    name: Label
    birth_date: CalendarDate | None = None
    addresses: Few[Address] = []
    phone_numbers: Few[Phone] = []
    email_addresses: Few[Email] = []
    social_handles: Few[SocialHandle] = []
    preferred_language: LanguageTag | None = None
    time_zone: TimeZoneName | None = None
    interests: Few[Label] = []
    customer_since: CalendarDate | None = None
    registered_at: Instant | None = None


class UpdateContact(Command):
    """Change some of a customer's details; fields left out stay as they are."""

    name: Label | None = None
    birth_date: CalendarDate | None = None
    addresses: Few[Address] | None = None
    phone_numbers: Few[Phone] | None = None
    email_addresses: Few[Email] | None = None
    social_handles: Few[SocialHandle] | None = None
    preferred_language: LanguageTag | None = None
    time_zone: TimeZoneName | None = None
    interests: Few[Label] | None = None
    kind: CustomerKind | None = None
    """A correction of the customer's kind; it holds from now on (eligibility as of an earlier
    time keeps the kind known then)."""


class MergeContacts(Command):
    """Merge a duplicate into this customer: the duplicate's history follows the survivor."""

    merged_customer_id: CustomerId


def merge(
    survivor_id: str,
    survivor_active: bool,
    duplicate_active: bool,
    command: MergeContacts,
    now: datetime,
) -> ContactsMerged:
    """Both must be registered and not erased, and a customer cannot merge into itself."""
    if command.merged_customer_id == survivor_id:
        raise RuleViolation("merged_customer_id", "a customer cannot be merged into itself")
    if not survivor_active:
        raise NotFound(f"customer {survivor_id} is not registered (or was erased or merged)")
    if not duplicate_active:
        raise NotFound(
            f"customer {command.merged_customer_id} is not registered (or was erased or merged)"
        )
    return ContactsMerged(merged_customer_id=command.merged_customer_id, merged_at=now)


def register(exists: bool, command: RegisterContact, now: datetime) -> ContactRegistered:
    if exists:
        raise Conflict("a customer with this id is already registered")
    at = command.registered_at or now
    not_in_future("registered_at", at, now)
    fields = command.model_dump(exclude={"registered_at"})
    return ContactRegistered(**fields, registered_at=at)


def update(exists: bool, command: UpdateContact, now: datetime) -> ContactUpdated:
    if not exists:
        raise NotFound("no such customer (or they were erased)")
    changed = command.model_dump(exclude_none=True)
    if not changed:
        raise Conflict("the update changes nothing")
    return ContactUpdated(**changed, updated_at=now)


def contact_point_hash(value: str, salt: str) -> str:
    """Salted SHA-256 of a normalized phone number or email address: blocks it, reveals nothing."""
    return hashlib.sha256(f"{salt}:{value.lower()}".encode()).hexdigest()
