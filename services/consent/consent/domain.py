"""Consent decisions: the commands and the events each one decides, given the state and now."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, model_validator

from consentledger.domain import DOUBLE_OPT_IN, Consent, ConsentState
from consentledger.eligibility import DEFAULT_EXPIRY
from dialog_schemas import Event, Personal
from dialog_schemas.common import Channel, EmailAddress, ExternalId, PhoneNumber, Purpose
from dialog_schemas.consent import (
    ChannelObjectionRecorded,
    ConsentConfirmed,
    ConsentExpired,
    ConsentGranted,
    ConsentRevoked,
    ConsentStatus,
    ConsentUsed,
    Evidence,
    ObjectionLifted,
    ObjectionRecorded,
)
from dialogkit.rules import Conflict, RuleViolation, not_in_future


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GrantConsent(Command):
    """Record a consent the customer gave, with the evidence that proves it."""

    channel: Channel
    purpose: Purpose
    evidence: Evidence
    contact_point: Personal[PhoneNumber | EmailAddress | None] = None
    lifts_objection: bool = False
    """The customer, having objected before, now expressly consents again."""


class ConfirmConsent(Command):
    """The double opt-in confirmation of a pending consent arrived."""

    source_ref: ExternalId
    confirmed_at: AwareDatetime | None = None


class WithdrawConsent(Command):
    """Withdraw one consent by id, or every consent on a channel (optionally one purpose)."""

    via_channel: Channel
    consent_id: UUID | None = None
    channel: Channel | None = None
    purpose: Purpose | None = None
    withdrawn_at: AwareDatetime | None = None
    source_ref: ExternalId | None = None

    @model_validator(mode="after")
    def _says_what(self) -> WithdrawConsent:
        if self.consent_id is None and self.channel is None:
            raise ValueError("name the consent_id, or the channel whose consents end")
        return self


class RecordObjection(Command):
    """Object to direct marketing: on every channel, or with `channel` on that one only."""

    via_channel: Channel
    channel: Channel | None = None
    objected_at: AwareDatetime | None = None
    source_ref: ExternalId | None = None


class RecordUse(Command):
    """A consent was relied on to contact the customer."""

    reference: ExternalId
    purpose: Purpose
    used_at: AwareDatetime | None = None


def grant(
    state: ConsentState, command: GrantConsent, *, consent_id: UUID, now: datetime
) -> list[Event]:
    """A consent is pending until confirmed on double-opt-in channels; it may lift an objection."""
    not_in_future("evidence.captured_at", command.evidence.captured_at, now)
    if command.channel in (Channel.EMAIL, Channel.SMS) and command.contact_point is None:
        raise RuleViolation("contact_point", f"a {command.channel} consent names its address")
    pending = command.channel in DOUBLE_OPT_IN
    lifts = command.lifts_objection and state.objecting
    events: list[Event] = [
        ConsentGranted(
            consent_id=consent_id,
            channel=command.channel,
            purpose=command.purpose,
            evidence=command.evidence,
            pending_confirmation=pending,
            contact_point=command.contact_point,
            lifts_objection=lifts,
        )
    ]
    if lifts and not pending:
        events.append(_lift(state, command.evidence.captured_at, consent_id))
    return events


def confirm(
    state: ConsentState, consent_id: UUID, command: ConfirmConsent, *, now: datetime
) -> list[Event]:
    consent = state.consent(consent_id)
    at = command.confirmed_at or now
    not_in_future("confirmed_at", at, now)
    _must_be_open(state, consent, at, "confirm")
    if not consent.pending:
        raise Conflict(f"consent {consent_id} needs no confirmation ({consent.channel})")
    if consent.confirmed_at is not None:
        raise Conflict(f"consent {consent_id} is already confirmed")
    if at < consent.granted_at:
        raise RuleViolation("confirmed_at", "is before the consent was given")
    events: list[Event] = [
        ConsentConfirmed(consent_id=consent_id, confirmed_at=at, source_ref=command.source_ref)
    ]
    if consent.lifts_objection and state.objecting:
        events.append(_lift(state, at, consent_id))
    return events


def withdraw(state: ConsentState, command: WithdrawConsent, *, now: datetime) -> list[Event]:
    """Withdrawal is possible at any time, over any channel; it ends what it names."""
    at = command.withdrawn_at or now
    not_in_future("withdrawn_at", at, now)
    if command.consent_id is not None:
        targets = [state.consent(command.consent_id)]
        _must_be_open(state, targets[0], at, "withdraw")
    else:
        targets = [
            c
            for c in state.consents.values()
            if c.channel == command.channel
            and (command.purpose is None or c.purpose == command.purpose)
            and _open(state, c, at)
        ]
        if not targets:
            raise Conflict(f"no consent on {command.channel} to withdraw")
    return [
        ConsentRevoked(
            consent_id=c.consent_id,
            channel=c.channel,
            purpose=c.purpose,
            revoked_at=at,
            via_channel=command.via_channel,
            source_ref=command.source_ref,
        )
        for c in targets
    ]


def object_to_marketing(
    state: ConsentState, command: RecordObjection, *, objection_id: UUID, now: datetime
) -> list[Event]:
    """An objection needs no reason and is never refused.

    On one channel it ends that channel's consents given before it (they count as withdrawn from
    then on, see `ConsentState.status`) and every permission there that is not such a consent.
    """
    at = command.objected_at or now
    not_in_future("objected_at", at, now)
    if command.channel is None:
        if state.objecting:
            return []
        return [
            ObjectionRecorded(
                objection_id=objection_id,
                objected_at=at,
                via_channel=command.via_channel,
                source_ref=command.source_ref,
            )
        ]
    return [
        ChannelObjectionRecorded(
            channel=command.channel,
            objected_at=at,
            via_channel=command.via_channel,
            source_ref=command.source_ref,
        )
    ]


def record_use(
    state: ConsentState,
    consent_id: UUID,
    command: RecordUse,
    *,
    now: datetime,
    expiry: timedelta = DEFAULT_EXPIRY,
) -> list[Event]:
    """Only a consent that is valid at the time of use can be used (kept as §7a proof)."""
    consent = state.consent(consent_id)
    at = command.used_at or now
    not_in_future("used_at", at, now)
    status = state.status(consent, at, expiry)
    if status is not ConsentStatus.ACTIVE:
        raise Conflict(f"consent {consent_id} is {status} at {at.isoformat()}; it cannot be used")
    return [
        ConsentUsed(
            consent_id=consent_id,
            used_at=at,
            channel=consent.channel,
            purpose=command.purpose,
            reference=command.reference,
        )
    ]


def expire(state: ConsentState, now: datetime, expiry: timedelta = DEFAULT_EXPIRY) -> list[Event]:
    """Record the expiry of every consent unused for longer than `expiry`."""
    return [
        ConsentExpired(
            consent_id=c.consent_id,
            expired_at=c.last_activity + expiry,
            last_used_at=c.last_activity,
        )
        for c in state.consents.values()
        if c.revoked_at is None and c.expired_at is None and c.last_activity + expiry < now
    ]


def _open(state: ConsentState, consent: Consent, at: datetime) -> bool:
    closed = (ConsentStatus.REVOKED, ConsentStatus.EXPIRED)
    return consent.expired_at is None and state.status(consent, at, DEFAULT_EXPIRY) not in closed


def _must_be_open(state: ConsentState, consent: Consent, at: datetime, action: str) -> None:
    status = state.status(consent, max(at, consent.granted_at), DEFAULT_EXPIRY)
    if consent.revoked_at is not None or status is ConsentStatus.REVOKED:
        raise Conflict(f"consent {consent.consent_id} was withdrawn; cannot {action} it")
    if consent.expired_at is not None or status is ConsentStatus.EXPIRED:
        raise Conflict(f"consent {consent.consent_id} has expired; cannot {action} it")


def _lift(state: ConsentState, at: datetime, consent_id: UUID) -> ObjectionLifted:
    assert state.objection is not None
    return ObjectionLifted(
        objection_id=state.objection.objection_id, lifted_at=at, consent_id=consent_id
    )
