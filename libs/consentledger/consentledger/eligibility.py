"""May we contact this customer on this channel for this purpose at this time, and why (not)?

The rules of UWG §7 and GDPR Art. 7(3), 17 and 21, in the order they are checked:

0. An erased customer (GDPR Art. 17) is contacted for nothing, on no channel, from the moment
   of the erasure on; asked about a time before it, the answer is what it was then (§7a proof).
1. Contact that is not advertising (`service`) needs no permission.
2. An objection to direct marketing (Art. 21) blocks all advertising, whatever else holds.
3. An express consent for the channel and purpose, confirmed where double opt-in applies, not
   withdrawn, not expired, given after any objection on that channel, allows it.
4. Without consent, and unless the customer objected on that channel or it is suppressed:
   letters are allowed; phone calls to a business are allowed (presumed consent); email is
   allowed to an existing customer who bought a similar product, gave the address with that
   purchase and was told they may object (§7(3)).
5. Otherwise it is blocked, with the most specific reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from consentledger.domain import Consent, ConsentState
from dialog_schemas.common import BlockReason, Channel, CustomerKind, LegalBasis, Purpose
from dialog_schemas.consent import ConsentStatus

GENERAL_ADVERTISING = frozenset({Purpose.MARKETING, Purpose.CROSS_SELL, Purpose.RETENTION})
"""Purposes a consent for `marketing` covers; surveys need a consent of their own."""
PRODUCT_ADVERTISING = GENERAL_ADVERTISING
"""Purposes the existing-customer exemption can cover: advertising for own similar products."""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    legal_basis: LegalBasis | None = None
    reason: BlockReason | None = None
    consent_id: UUID | None = None

    @classmethod
    def allow(cls, basis: LegalBasis, consent_id: UUID | None = None) -> Decision:
        return cls(True, legal_basis=basis, consent_id=consent_id)

    @classmethod
    def block(cls, reason: BlockReason, consent_id: UUID | None = None) -> Decision:
        return cls(False, reason=reason, consent_id=consent_id)


# Decisions are immutable: those that name no consent are built once and shared.
_ERASED = Decision.block(BlockReason.ERASED)
_NOT_ADVERTISING = Decision.allow(LegalBasis.NOT_ADVERTISING)
_OBJECTION = Decision.block(BlockReason.OBJECTION)
_SUPPRESSED = Decision.block(BlockReason.SUPPRESSED)
_NO_CONSENT = Decision.block(BlockReason.NO_CONSENT)
_WITHOUT_CONSENT = {basis: Decision.allow(basis) for basis in LegalBasis}


def covers(consent: Consent, channel: Channel, purpose: Purpose) -> bool:
    if consent.channel != channel:
        return False
    return consent.purpose == purpose or (
        consent.purpose is Purpose.MARKETING and purpose in GENERAL_ADVERTISING
    )


def eligibility(
    state: ConsentState,
    channel: Channel,
    purpose: Purpose,
    at: datetime,
    *,
    product_category: str | None = None,
    expiry: timedelta,
) -> Decision:
    """The decision for one contact; `state` must hold what had taken effect by `at`, `expiry`
    is the configured period after which an unused consent lapses."""
    erased_at = state.erased_at
    if erased_at is not None and erased_at <= at:
        return _ERASED
    if not purpose.is_advertising:
        return _NOT_ADVERTISING
    if state.objecting:
        return _OBJECTION
    channel_objection = state.channel_objections.get(channel)
    candidates = [c for c in state.consents.values() if covers(c, channel, purpose)]
    if len(candidates) > 1:
        candidates.sort(key=_granted_at, reverse=True)
    for consent in candidates:
        if state.status(consent, at, expiry) is ConsentStatus.ACTIVE:
            return Decision.allow(LegalBasis.EXPRESS_CONSENT, consent.consent_id)
    if channel_objection is not None:
        return _OBJECTION
    if channel in state.suppressed:
        return _SUPPRESSED
    basis = _without_consent(state, channel, purpose, at, product_category)
    if basis is not None:
        return _WITHOUT_CONSENT[basis]
    if candidates:
        latest = candidates[0]
        return Decision.block(_reason(state.status(latest, at, expiry)), latest.consent_id)
    return _NO_CONSENT


def _granted_at(consent: Consent) -> datetime:
    return consent.granted_at


def _without_consent(
    state: ConsentState,
    channel: Channel,
    purpose: Purpose,
    at: datetime,
    product_category: str | None,
) -> LegalBasis | None:
    if channel is Channel.LETTER:
        return LegalBasis.LETTER_WITHOUT_OBJECTION
    if channel is Channel.PHONE and state.kind is CustomerKind.BUSINESS:
        return LegalBasis.PRESUMED_BUSINESS_CONSENT
    if channel is Channel.EMAIL and existing_customer_exemption(
        state, purpose, at, product_category
    ):
        return LegalBasis.EXISTING_CUSTOMER
    return None


def existing_customer_exemption(
    state: ConsentState, purpose: Purpose, at: datetime, product_category: str | None
) -> bool:
    """§7(3) UWG: a purchase of a similar product, the address obtained with it, notice given."""
    if purpose not in PRODUCT_ADVERTISING or product_category is None:
        return False
    return any(
        p.email_obtained
        and p.objection_notice_given
        and p.category == product_category
        and p.purchased_at <= at
        for p in state.purchases
    )


_REASONS = {
    ConsentStatus.PENDING: BlockReason.PENDING_CONFIRMATION,
    ConsentStatus.REVOKED: BlockReason.REVOKED,
    ConsentStatus.EXPIRED: BlockReason.EXPIRED,
}


def _reason(status: ConsentStatus) -> BlockReason:
    return _REASONS.get(status, BlockReason.NO_CONSENT)
