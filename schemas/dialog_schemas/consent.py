"""Events of the consent service: permissions, their evidence and use, withdrawals, objections."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from dialog_schemas.common import (
    Channel,
    EmailAddress,
    ExternalId,
    Instant,
    Label,
    Part,
    PhoneNumber,
    Purpose,
    Sha256Hex,
)
from dialog_schemas.envelope import Event
from dialog_schemas.personal import Personal


class CaptureMedium(StrEnum):
    WEB_FORM = "web_form"
    PHONE_CALL = "phone_call"
    EMAIL = "email"
    SMS = "sms"
    LETTER = "letter"
    IN_PERSON = "in_person"
    SOCIAL = "social"


class Evidence(Part):
    """How a consent was captured, enough to prove it (§7a UWG)."""

    medium: CaptureMedium
    wording_version: Label
    wording_sha256: Sha256Hex
    captured_at: Instant
    source_ref: ExternalId
    """Form snapshot id, call recording id or double-opt-in token."""
    actor: ExternalId
    """Who captured it: an agent id or a system name."""


class ConsentGranted(Event):
    """The customer gave consent to be contacted on a channel for a purpose."""

    consent_id: UUID
    channel: Channel
    purpose: Purpose
    evidence: Evidence
    pending_confirmation: bool
    """True until the double opt-in confirmation arrives (email, SMS); pending allows nothing."""
    contact_point: Personal[PhoneNumber | EmailAddress | None] = None
    """The number or address the consent covers, when it covers one."""
    lifts_objection: bool = False
    """A new express consent given to end an earlier objection."""
    confirmation_token_sha256: Sha256Hex | None = None
    """SHA-256 of the double opt-in token only whose holder can confirm this grant; the token
    itself is never recorded."""


class ConsentConfirmed(Event):
    """The double opt-in confirmation of a pending consent arrived."""

    consent_id: UUID
    confirmed_at: Instant
    source_ref: ExternalId
    """`sha256:<hex>` of the token that confirmed it (before tokens were hashed: the token)."""


class ConsentRevoked(Event):
    """The customer withdrew a consent; effective for every decision after `revoked_at`."""

    consent_id: UUID
    channel: Channel
    purpose: Purpose
    revoked_at: Instant
    via_channel: Channel
    source_ref: ExternalId | None = None


class ObjectionRecorded(Event):
    """The customer objected to direct marketing: all channels, all purposes (GDPR Art. 21)."""

    objection_id: UUID
    objected_at: Instant
    via_channel: Channel
    source_ref: ExternalId | None = None


class ChannelObjectionRecorded(Event):
    """The customer objected to advertising on one channel (an unsubscribe, a 'do not call').

    It ends every permission on that channel that is not an express consent given later: the
    existing-customer exemption, presumed consent of a business, letters without objection.
    """

    channel: Channel
    objected_at: Instant
    via_channel: Channel
    source_ref: ExternalId | None = None


class ObjectionLifted(Event):
    """A new express consent ended an objection; nothing else can."""

    objection_id: UUID
    lifted_at: Instant
    consent_id: UUID


class ConsentUsed(Event):
    """A consent was relied on to contact the customer (kept as proof, §7a UWG)."""

    consent_id: UUID
    used_at: Instant
    channel: Channel
    purpose: Purpose
    reference: ExternalId
    """The outreach or touchpoint that used it."""


class ConsentExpired(Event):
    """A consent lapsed after the configured period without use."""

    consent_id: UUID
    expired_at: Instant
    last_used_at: Instant


class ContactPointSuppressed(Event):
    """A contact point matched a suppression list (e.g. the Robinson list) of a given version."""

    channel: Channel
    list_name: Label
    list_version: Label
    matched_at: Instant
    contact_point_hash: Sha256Hex
    """Salted SHA-256 of the normalized contact point: blocks it without revealing it."""


class ConsentStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    REVOKED = "revoked"
    EXPIRED = "expired"


class ConsentSummary(Part):
    consent_id: UUID
    channel: Channel
    purpose: Purpose
    status: ConsentStatus
    granted_at: Instant
    last_used_at: Instant | None = None


class ConsentStateChanged(Event):
    """A customer's current consent state, as a whole; the latest one per customer is the truth."""

    as_of: Instant
    objection: bool
    consents: list[ConsentSummary]
    suppressed_channels: list[Channel] = []
