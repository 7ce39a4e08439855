"""Consent decisions: the commands and the events each one decides, given the state and now."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator

from consentledger.domain import DOUBLE_OPT_IN, Consent, ConsentState, token_sha256
from dialog_schemas import Event
from dialog_schemas.common import Channel, ExternalId, Instant, Purpose
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
from dialogkit.contactpoints import ContactPoint
from dialogkit.rules import Conflict, RuleViolation, not_in_future

ConfirmationToken = Annotated[str, StringConstraints(min_length=16, max_length=256)]


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GrantConsent(Command):
    """Record a consent the customer gave, with the evidence that proves it."""

    channel: Channel
    purpose: Purpose
    evidence: Evidence
    contact_point: ContactPoint | None = None
    """The phone number or email address it covers, as typed; normalized as contacts does."""
    lifts_objection: bool = False
    """The customer, having objected before, now expressly consents again."""
    confirmation_token: ConfirmationToken | None = None
    """Email and SMS: the token of your own double opt-in link; without one the service issues
    one. Only its SHA-256 is recorded."""


class ConfirmConsent(Command):
    """The double opt-in confirmation of a pending consent arrived, carrying its token."""

    source_ref: ExternalId
    """The token of the double opt-in link the customer followed."""
    confirmed_at: Instant | None = None


class WithdrawConsent(Command):
    """Withdraw one consent by id, or every consent on a channel (optionally one purpose)."""

    via_channel: Channel
    consent_id: UUID | None = None
    channel: Channel | None = None
    purpose: Purpose | None = None
    withdrawn_at: Instant | None = None
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
    objected_at: Instant | None = None
    source_ref: ExternalId | None = None


class RecordUse(Command):
    """A consent was relied on to contact the customer."""

    reference: ExternalId
    purpose: Purpose
    used_at: Instant | None = None


def grant(
    state: ConsentState,
    command: GrantConsent,
    *,
    consent_id: UUID,
    now: datetime,
    issued_token: str | None = None,
) -> list[Event]:
    """A consent is pending until confirmed on double-opt-in channels (UWG §7(2) Nr. 2), by the
    holder of the grant's token (the command's, else `issued_token`); it may lift an objection."""
    not_in_future("evidence.captured_at", command.evidence.captured_at, now)
    if command.channel in (Channel.EMAIL, Channel.SMS) and command.contact_point is None:
        raise RuleViolation("contact_point", f"a {command.channel} consent names its address")
    pending = command.channel in DOUBLE_OPT_IN
    token = command.confirmation_token or issued_token
    if not pending and command.confirmation_token is not None:
        raise RuleViolation("confirmation_token", f"a {command.channel} consent is not confirmed")
    if pending and token is None:
        raise RuleViolation("confirmation_token", "a double opt-in consent needs a token")
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
            confirmation_token_sha256=token_sha256(token) if pending and token else None,
        )
    ]
    if lifts and not pending:
        events.append(_lift(state, command.evidence.captured_at, consent_id))
    return events


def confirm(
    state: ConsentState,
    consent_id: UUID,
    command: ConfirmConsent,
    *,
    now: datetime,
    expiry: timedelta,
    confirm_within: timedelta,
) -> list[Event]:
    """Only the grant's own token confirms it, once, within `confirm_within` of the grant; a
    wrong token is refused and the consent stays pending (UWG §7(2) Nr. 2, double opt-in)."""
    consent = state.consent(consent_id)
    at = command.confirmed_at or now
    not_in_future("confirmed_at", at, now)
    _must_be_open(state, consent, at, "confirm", expiry)
    if consent.revoked_at is not None or consent.expired_at is not None:
        raise Conflict(f"consent {consent_id} has ended; cannot confirm it")
    if not consent.pending:
        raise Conflict(f"consent {consent_id} needs no confirmation ({consent.channel})")
    if consent.confirmed_at is not None:
        raise Conflict(f"consent {consent_id} is already confirmed; a token confirms once")
    if at < consent.granted_at:
        raise RuleViolation("confirmed_at", "is before the consent was given")
    if not consent.answers(command.source_ref):
        raise RuleViolation("source_ref", "is not the confirmation token of this consent")
    if at > consent.granted_at + confirm_within:
        raise Conflict(
            f"the confirmation period of consent {consent_id} ended"
            f" {(consent.granted_at + confirm_within).isoformat()}; ask for consent again"
        )
    proof = f"sha256:{token_sha256(command.source_ref)}"
    events: list[Event] = [
        ConsentConfirmed(consent_id=consent_id, confirmed_at=at, source_ref=proof)
    ]
    if consent.lifts_objection and state.objecting:
        events.append(_lift(state, at, consent_id))
    return events


def withdraw(
    state: ConsentState, command: WithdrawConsent, *, now: datetime, expiry: timedelta
) -> list[Event]:
    """Withdrawal is possible at any time, over any channel; it ends what it names (GDPR
    Art. 7(3)). Only a consent already withdrawn or expired under `expiry` is refused."""
    at = command.withdrawn_at or now
    not_in_future("withdrawn_at", at, now)
    if command.consent_id is not None:
        targets = [state.consent(command.consent_id)]
        _must_be_open(state, targets[0], at, "withdraw", expiry)
    else:
        targets = [
            c
            for c in state.consents.values()
            if c.channel == command.channel
            and (command.purpose is None or c.purpose == command.purpose)
            and _open(state, c, at, expiry)
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
    expiry: timedelta,
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


def expire(state: ConsentState, now: datetime, expiry: timedelta) -> list[Event]:
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


def _open(state: ConsentState, consent: Consent, at: datetime, expiry: timedelta) -> bool:
    closed = (ConsentStatus.REVOKED, ConsentStatus.EXPIRED)
    return state.status(consent, at, expiry) not in closed


def _must_be_open(
    state: ConsentState, consent: Consent, at: datetime, action: str, expiry: timedelta
) -> None:
    """Refuse only what the state shows closed at `at`, under the configured `expiry`."""
    status = state.status(consent, max(at, consent.granted_at), expiry)
    if status is ConsentStatus.REVOKED:
        raise Conflict(f"consent {consent.consent_id} was withdrawn; cannot {action} it")
    if status is ConsentStatus.EXPIRED:
        raise Conflict(f"consent {consent.consent_id} has expired; cannot {action} it")


def _lift(state: ConsentState, at: datetime, consent_id: UUID) -> ObjectionLifted:
    assert state.objection is not None
    return ObjectionLifted(
        objection_id=state.objection.objection_id, lifted_at=at, consent_id=consent_id
    )
