"""Read queries of the consent service: state, consents, eligibility and the proof bundle."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from consent import ledger
from consent.proof import open_contact_points, proof_bundle
from consentledger.domain import ConsentState
from consentledger.eligibility import eligibility
from consentledger.store import Connection, load_state
from dialog_schemas.common import BlockReason, Channel, LegalBasis, Purpose
from dialog_schemas.consent import ConsentStatus
from dialogkit.pii import PersonalDataCipher
from dialogkit.rules import NotFound


class ConsentView(BaseModel):
    consent_id: UUID
    channel: Channel
    purpose: Purpose
    status: ConsentStatus
    granted_at: datetime
    confirmed_at: datetime | None
    revoked_at: datetime | None
    expired_at: datetime | None
    last_used_at: datetime | None
    evidence: dict[str, Any]


class ConsentsView(BaseModel):
    customer_id: str
    as_of: datetime
    kind: str | None
    objection: bool
    channel_objections: dict[Channel, datetime]
    suppressed_channels: list[Channel]
    erased_at: datetime | None = None
    """Set once the customer was erased: every decision from then on is blocked (`erased`)."""
    consents: list[ConsentView]


class EligibilityView(BaseModel):
    customer_id: str
    channel: Channel
    purpose: Purpose
    at: datetime
    allowed: bool
    legal_basis: LegalBasis | None
    blocking_reason: BlockReason | None
    consent_id: UUID | None


async def known_state(db: Connection, customer_id: str, at: datetime | None = None) -> ConsentState:
    """The customer's consent state (as of `at`); NotFound for a customer never registered."""
    state = await load_state(db, customer_id, at)
    if state is None:
        raise NotFound(unknown(customer_id))
    return state


def unknown(customer_id: str) -> str:
    """What a 404 for a customer never registered says."""
    return (
        f"customer {customer_id} is not known; customers become known when contacts registers them"
    )


async def consents(
    db: Connection, customer_id: str, at: datetime, expiry: timedelta
) -> ConsentsView:
    """The customer's consents and objections as they stood at `at`."""
    state = await known_state(db, customer_id, at)
    return ConsentsView(
        customer_id=customer_id,
        as_of=at,
        kind=state.kind,
        objection=state.objecting,
        channel_objections=dict(state.channel_objections),
        suppressed_channels=sorted(state.suppressed),
        erased_at=state.erased_at,
        consents=[
            ConsentView(
                consent_id=c.consent_id,
                channel=c.channel,
                purpose=c.purpose,
                status=state.status(c, at, expiry),
                granted_at=c.granted_at,
                confirmed_at=c.confirmed_at,
                revoked_at=c.revoked_at,
                expired_at=c.expired_at,
                last_used_at=c.last_used_at,
                evidence=c.evidence.model_dump(mode="json"),
            )
            for c in sorted(state.consents.values(), key=lambda c: c.granted_at)
        ],
    )


async def may_contact(
    db: Connection,
    customer_id: str,
    channel: Channel,
    purpose: Purpose,
    at: datetime,
    product_category: str | None,
    expiry: timedelta,
) -> EligibilityView:
    """May we contact the customer on this channel for this purpose at `at`, and why."""
    state = await known_state(db, customer_id, at)
    decision = eligibility(
        state, channel, purpose, at, product_category=product_category, expiry=expiry
    )
    return EligibilityView(
        customer_id=customer_id,
        channel=channel,
        purpose=purpose,
        at=at,
        allowed=decision.allowed,
        legal_basis=decision.legal_basis,
        blocking_reason=decision.reason,
        consent_id=decision.consent_id,
    )


async def proof(
    db: Connection, customer_id: str, now: datetime, cipher: PersonalDataCipher, key_id: str
) -> dict[str, Any]:
    """The §7a UWG proof bundle, contact points opened (those of merged duplicates too), with
    the signed ledger of the customer and its duplicates (`key_id`: the signing key's id)."""
    state = await known_state(db, customer_id)
    bundle = await proof_bundle(db, customer_id, state, now)
    merged = await db.fetch(
        "SELECT duplicate FROM customer_merges WHERE survivor = $1 ORDER BY 1", customer_id
    )
    owners = [customer_id, *(r["duplicate"] for r in merged)]
    bundle["ledger"] = await ledger.chains(db, owners, key_id)
    return await open_contact_points(bundle, owners, cipher)
