"""A customer's consent state, evolved from events; what each command decides on it.

Everything here is pure: time is passed in, nothing is read or written. The state holds what the
eligibility rules need: consents with their lifecycle, the Art. 21 objection, objections per
channel, suppressed channels, and from the contacts topic the customer's kind and purchases.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import singledispatch
from typing import Any
from uuid import UUID

from consentledger.effective import effective_at
from dialog_schemas import Event
from dialog_schemas.common import Channel, CustomerKind, Purpose
from dialog_schemas.consent import (
    ChannelObjectionRecorded,
    ConsentConfirmed,
    ConsentExpired,
    ConsentGranted,
    ConsentRevoked,
    ConsentStatus,
    ConsentUsed,
    ContactPointSuppressed,
    Evidence,
    ObjectionLifted,
    ObjectionRecorded,
)
from dialog_schemas.contacts import (
    ContactErased,
    ContactRegistered,
    ContactUpdated,
    ProductPurchased,
)
from dialogkit.rules import NotFound

DOUBLE_OPT_IN = frozenset({Channel.EMAIL, Channel.SMS})
"""Channels whose consent is valid only once the double opt-in confirmation arrived."""


def token_sha256(token: str) -> str:
    """SHA-256 (hex) of a double opt-in token: what is recorded to check it, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Consent:
    consent_id: UUID
    channel: Channel
    purpose: Purpose
    evidence: Evidence
    contact_point: str | None
    pending: bool
    lifts_objection: bool
    confirmed_at: datetime | None = None
    revoked_at: datetime | None = None
    expired_at: datetime | None = None
    last_used_at: datetime | None = None
    token_sha256: str | None = None

    @property
    def granted_at(self) -> datetime:
        return self.evidence.captured_at

    def answers(self, token: str) -> bool:
        """Whether `token` is the one this grant recorded (grants recorded before tokens were
        hashed recorded theirs as the evidence's source reference)."""
        expected = self.token_sha256 or token_sha256(self.evidence.source_ref)
        return hmac.compare_digest(token_sha256(token), expected)

    @property
    def last_activity(self) -> datetime:
        """Grant, confirmation or last use, whichever is latest: expiry counts from here."""
        latest = self.evidence.captured_at
        for t in (self.confirmed_at, self.last_used_at):
            if t is not None and t > latest:
                latest = t
        return latest

    def status(self, at: datetime, expiry: timedelta) -> ConsentStatus:
        if self.revoked_at is not None and self.revoked_at <= at:
            return ConsentStatus.REVOKED
        if (self.expired_at is not None and self.expired_at <= at) or (
            self.last_activity + expiry < at
        ):
            return ConsentStatus.EXPIRED
        if self.pending and (self.confirmed_at is None or self.confirmed_at > at):
            return ConsentStatus.PENDING
        return ConsentStatus.ACTIVE


@dataclass(frozen=True)
class Objection:
    objection_id: UUID
    objected_at: datetime
    lifted_at: datetime | None = None


@dataclass(frozen=True)
class Purchase:
    purchase_id: str
    category: str
    purchased_at: datetime
    email_obtained: bool
    objection_notice_given: bool


@dataclass(frozen=True)
class ConsentState:
    consents: Mapping[UUID, Consent] = field(default_factory=dict)
    objection: Objection | None = None
    channel_objections: Mapping[Channel, datetime] = field(default_factory=dict)
    suppressed: Mapping[Channel, datetime] = field(default_factory=dict)
    kind: CustomerKind | None = None
    """None while nothing is known about the customer: treated as a consumer."""
    kind_since: datetime | None = None
    purchases: tuple[Purchase, ...] = ()
    erased_at: datetime | None = None
    """When the customer was erased (GDPR Art. 17); from then on nothing is allowed."""

    @property
    def objecting(self) -> bool:
        return self.objection is not None and self.objection.lifted_at is None

    def status(self, consent: Consent, at: datetime, expiry: timedelta) -> ConsentStatus:
        """A consent's status at `at`, counting a later objection on its channel as withdrawal."""
        objected = self.channel_objections.get(consent.channel)
        if objected is not None and consent.granted_at < objected <= at:
            return ConsentStatus.REVOKED
        return consent.status(at, expiry)

    def consent(self, consent_id: UUID) -> Consent:
        found = self.consents.get(consent_id)
        if found is None:
            raise NotFound(f"consent {consent_id} is not known for this customer")
        return found


def evolve(state: ConsentState, event: Event) -> ConsentState:
    """The state after one event; events this state does not track leave it unchanged."""
    return _apply(event, state)


@singledispatch
def _apply(event: Event, state: ConsentState) -> ConsentState:
    return state


@_apply.register
def _granted(event: ConsentGranted, state: ConsentState) -> ConsentState:
    consent = Consent(
        event.consent_id,
        event.channel,
        event.purpose,
        event.evidence,
        event.contact_point,
        event.pending_confirmation,
        event.lifts_objection,
        token_sha256=event.confirmation_token_sha256,
    )
    return replace(state, consents={**state.consents, event.consent_id: consent})


def _change(state: ConsentState, consent_id: UUID, **changes: Any) -> ConsentState:
    consent = state.consents.get(consent_id)
    if consent is None:
        return state
    return replace(state, consents={**state.consents, consent_id: replace(consent, **changes)})


@_apply.register
def _confirmed(event: ConsentConfirmed, state: ConsentState) -> ConsentState:
    return _change(state, event.consent_id, confirmed_at=event.confirmed_at)


@_apply.register
def _revoked(event: ConsentRevoked, state: ConsentState) -> ConsentState:
    consent = state.consents.get(event.consent_id)
    earlier = consent.revoked_at if consent else None
    return _change(
        state, event.consent_id, revoked_at=min(filter(None, (earlier, event.revoked_at)))
    )


@_apply.register
def _used(event: ConsentUsed, state: ConsentState) -> ConsentState:
    consent = state.consents.get(event.consent_id)
    latest = max(event.used_at, consent.last_used_at or event.used_at) if consent else None
    return _change(state, event.consent_id, last_used_at=latest)


@_apply.register
def _expired(event: ConsentExpired, state: ConsentState) -> ConsentState:
    return _change(state, event.consent_id, expired_at=event.expired_at)


@_apply.register
def _objected(event: ObjectionRecorded, state: ConsentState) -> ConsentState:
    return replace(state, objection=Objection(event.objection_id, event.objected_at))


@_apply.register
def _lifted(event: ObjectionLifted, state: ConsentState) -> ConsentState:
    if state.objection is None or state.objection.objection_id != event.objection_id:
        return state
    return replace(state, objection=replace(state.objection, lifted_at=event.lifted_at))


@_apply.register
def _channel_objected(event: ChannelObjectionRecorded, state: ConsentState) -> ConsentState:
    return replace(
        state, channel_objections={**state.channel_objections, event.channel: event.objected_at}
    )


@_apply.register
def _suppressed(event: ContactPointSuppressed, state: ConsentState) -> ConsentState:
    return replace(state, suppressed={**state.suppressed, event.channel: event.matched_at})


def with_kind(state: ConsentState, kind: CustomerKind, since: datetime) -> ConsentState:
    """The kind with the latest effective time wins (a later record of an earlier fact loses)."""
    if state.kind_since is not None and since < state.kind_since:
        return state
    return replace(state, kind=kind, kind_since=since)


@_apply.register
def _registered(event: ContactRegistered, state: ConsentState) -> ConsentState:
    return with_kind(state, event.kind, event.registered_at)


@_apply.register
def _updated(event: ContactUpdated, state: ConsentState) -> ConsentState:
    return state if event.kind is None else with_kind(state, event.kind, event.updated_at)


@_apply.register
def _purchased(event: ProductPurchased, state: ConsentState) -> ConsentState:
    purchase = Purchase(
        event.purchase_id,
        event.category,
        event.purchased_at,
        event.email_address is not None,
        event.objection_notice_given,
    )
    return replace(state, purchases=(*state.purchases, purchase))


@_apply.register
def _erased(event: ContactErased, state: ConsentState) -> ConsentState:
    earlier = state.erased_at
    return replace(state, erased_at=min(filter(None, (earlier, event.erased_at))))


def with_customer_facts(
    state: ConsentState,
    kinds: Iterable[tuple[CustomerKind, datetime]],
    purchases: Iterable[Purchase],
    at: datetime | None = None,
) -> ConsentState:
    """Add the customer's facts from contacts, as known to hold at `at` (all, without it): the
    kind with the latest effective time by then, purchases made by then. Before anything was
    known the kind stays None (a consumer) and there are no purchases."""
    kind, kind_since = state.kind, state.kind_since
    for new, since in kinds:  # as `with_kind`, without a copy of the state for each
        if (at is None or since <= at) and (kind_since is None or since >= kind_since):
            kind, kind_since = new, since
    bought = tuple(p for p in purchases if at is None or p.purchased_at <= at)
    return replace(state, kind=kind, kind_since=kind_since, purchases=(*state.purchases, *bought))


def state_as_of(
    history: Iterable[Event], at: datetime | None = None, start: ConsentState | None = None
) -> ConsentState:
    """Fold a customer's history; with `at`, only what had taken effect by then. `start` is the
    fold of the events before `history` (a snapshot), which must all have taken effect by `at`."""
    state = start or ConsentState()
    for event in history:
        when = effective_at(event)
        if at is None or when is None or when <= at:
            state = evolve(state, event)
    return state
