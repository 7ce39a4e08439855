"""The dispatch decision: may this outreach go out now, and if not, why, or when?

Made when the outreach falls due, from the consent state of that moment, in this order:

1. an erased customer is never contacted (blocked: `erased`);
2. the shared consent rules (`consentledger.eligibility`: UWG §7, GDPR Art. 7(3) and 21) decide
   whether the contact is allowed at all (blocked with their reason otherwise);
3. a call rings only within calling hours in the customer's local time; outside them the
   outreach is deferred to the next allowed moment (blocked `outside_calling_hours` if the
   campaign ends first);
4. advertising respects the frequency caps per customer: on the channel and across channels, in
   a rolling window, counted over outreach dispatched by any campaign; at a cap the outreach is
   deferred until a contact leaves the window (blocked `frequency_cap` if the campaign ends first).

Otherwise it is authorized, with the legal basis and the consent relied on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from campaigns.calling_hours import CallingHours, next_open
from consentledger.domain import ConsentState
from consentledger.eligibility import eligibility
from dialog_schemas.campaigns import DeferralReason, FrequencyCap, FrequencyCaps
from dialog_schemas.common import BlockReason, Channel, LegalBasis, Purpose


@dataclass(frozen=True)
class Authorized:
    legal_basis: LegalBasis
    consent_id: UUID | None = None


@dataclass(frozen=True)
class Blocked:
    reason: BlockReason
    consent_id: UUID | None = None


@dataclass(frozen=True)
class Deferred:
    until: datetime
    reason: DeferralReason


Outcome = Authorized | Blocked | Deferred


@dataclass(frozen=True)
class DueOutreach:
    """What the decision needs to know about one outreach."""

    channel: Channel
    purpose: Purpose
    product_category: str | None
    ends_at: datetime | None
    caps: FrequencyCaps


@dataclass(frozen=True)
class Contact:
    """An outreach dispatched to the customer earlier (by any campaign)."""

    channel: Channel
    at: datetime


@dataclass(frozen=True)
class Policy:
    calling_hours: CallingHours = field(default_factory=CallingHours)
    consent_expiry: timedelta = field(kw_only=True)
    """As the consent service is configured (CONSENT_EXPIRY_DAYS); CAMPAIGNS_CONSENT_EXPIRY_DAYS."""


def decide(
    due: DueOutreach,
    consent: ConsentState,
    *,
    erased: bool,
    zones: Sequence[ZoneInfo],
    contacts: Sequence[Contact],
    now: datetime,
    policy: Policy,
) -> Outcome:
    """The decision for one outreach at `now`; `consent` must be the state as of `now`."""
    if erased:
        return Blocked(BlockReason.ERASED)
    allowed = eligibility(
        consent,
        due.channel,
        due.purpose,
        now,
        product_category=due.product_category,
        expiry=policy.consent_expiry,
    )
    if not allowed.allowed:
        assert allowed.reason is not None
        return Blocked(allowed.reason, allowed.consent_id)
    assert allowed.legal_basis is not None
    if due.channel is Channel.PHONE:
        opens = next_open(now, zones, policy.calling_hours)
        if opens != now:
            return _later(opens, due, DeferralReason.OUTSIDE_CALLING_HOURS)
    if due.purpose.is_advertising:
        free = free_from(contacts, due.channel, due.caps, now)
        if free is not None:
            return _later(free, due, DeferralReason.FREQUENCY_CAP)
    return Authorized(allowed.legal_basis, allowed.consent_id)


def _later(until: datetime | None, due: DueOutreach, reason: DeferralReason) -> Outcome:
    if until is None or (due.ends_at is not None and until >= due.ends_at):
        return Blocked(BlockReason(reason.value))
    return Deferred(until, reason)


def free_from(
    contacts: Sequence[Contact], channel: Channel, caps: FrequencyCaps, now: datetime
) -> datetime | None:
    """None when under every cap at `now`; else when the customer is under all of them again."""
    times = [
        _free_from([c.at for c in contacts if c.channel == channel], caps.per_channel, now),
        _free_from([c.at for c in contacts], caps.across_channels, now),
    ]
    later = [t for t in times if t is not None]
    return max(later) if later else None


def _free_from(times: list[datetime], cap: FrequencyCap | None, now: datetime) -> datetime | None:
    if cap is None:
        return None
    window = timedelta(days=cap.window_days)
    recent = sorted(t for t in times if now - window < t <= now)
    if len(recent) < cap.limit:
        return None
    return recent[len(recent) - cap.limit] + window


def effective_caps(default: FrequencyCaps, override: FrequencyCaps | None) -> FrequencyCaps:
    """The campaign's caps where it sets them, the service's defaults elsewhere."""
    if override is None:
        return default
    return FrequencyCaps(
        per_channel=override.per_channel or default.per_channel,
        across_channels=override.across_channels or default.across_channels,
    )
