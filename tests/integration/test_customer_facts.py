"""Customer facts in the consent ledger's read model are historical: eligibility as of a time
applies the kind and purchases known to hold then, and nothing before the registration."""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg

from consentledger.eligibility import eligibility
from consentledger.store import load_state
from dialog_schemas.catalog import CONTACTS_EVENTS
from dialog_schemas.common import BlockReason, Channel, CustomerKind, LegalBasis, Purpose
from dialog_schemas.contacts import (
    ContactRegistered,
    ContactUpdated,
    ProductPurchased,
    SalesChannel,
)
from dialogkit.codec import encode
from dialogkit.records import SourceRecord
from tests.integration.test_consent_projection import EXPIRY, T0, runners, wrap

CORRECTED = T0 + timedelta(days=10)
BOUGHT = T0 + timedelta(days=3)


async def facts_of(pool: asyncpg.Pool, customer: str) -> None:
    registered = ContactRegistered(kind=CustomerKind.BUSINESS, name="B", registered_at=T0)
    purchase = ProductPurchased(
        purchase_id="o-1",
        product_id="p",
        product_name="Fiber",
        category="home-internet",
        purchased_at=BOUGHT,
        sales_channel=SalesChannel.WEB_SHOP,
        email_address="b@example.org",
        objection_notice_given=True,
    )
    corrected = ContactUpdated(kind=CustomerKind.CONSUMER, updated_at=CORRECTED)
    envelopes = wrap(customer, [registered, purchase, corrected], CORRECTED)
    runner = runners(pool)[CONTACTS_EVENTS.name]
    await runner.handle(
        [
            SourceRecord(CONTACTS_EVENTS.name, 0, n, customer.encode(), encode(e))
            for n, e in enumerate(envelopes)
        ]
    )


async def test_eligibility_as_of_a_time_applies_the_kind_and_purchases_of_that_time(
    new_database, pool_for
) -> None:
    pool = await pool_for(await new_database("consent"))
    customer = f"facts-{uuid.uuid4().hex[:10]}"
    await facts_of(pool, customer)

    async def decide(channel: Channel, at, **kw: str):  # type: ignore[no-untyped-def]
        state = await load_state(pool, customer, at)
        assert state is not None
        return eligibility(state, channel, Purpose.MARKETING, at, expiry=EXPIRY, **kw)  # type: ignore[arg-type]

    while_business = CORRECTED - timedelta(days=1)
    phone = await decide(Channel.PHONE, while_business)
    assert phone.legal_basis is LegalBasis.PRESUMED_BUSINESS_CONSENT
    after = await decide(Channel.PHONE, CORRECTED + timedelta(minutes=1))
    assert after.reason is BlockReason.NO_CONSENT, "corrected to a consumer"

    before_registration = T0 - timedelta(days=1)
    assert (await decide(Channel.PHONE, before_registration)).reason is BlockReason.NO_CONSENT
    state = await load_state(pool, customer, before_registration)
    assert state is not None
    assert (state.kind, state.purchases) == (None, ())

    email = {"product_category": "home-internet"}
    assert not (await decide(Channel.EMAIL, BOUGHT - timedelta(minutes=1), **email)).allowed
    assert (await decide(Channel.EMAIL, BOUGHT, **email)).legal_basis is (
        LegalBasis.EXISTING_CUSTOMER
    )
    now = await load_state(pool, customer)
    assert now is not None
    assert now.kind is CustomerKind.CONSUMER
