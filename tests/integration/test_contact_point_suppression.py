"""Every contacts path that gives a customer a contact point checks it against erased ones.

The contacts API on its real database with a recording publisher: registration, an update, a
merge and a purchase each carry the channels suppression found on their event. Then the consent
ledger, fed those events, keeps the channels suppressed for the customer.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from consent.bootstrap import DEFINITION as CONSENT
from consentledger.eligibility import eligibility
from consentledger.projections import CustomerFactsProjection
from consentledger.store import load_state
from contacts.bootstrap import DEFINITION as CONTACTS
from contacts.config import Settings as ContactsSettings
from contacts.profiles import contact_point_hash
from dialog_schemas import Envelope, Event
from dialog_schemas.catalog import CONTACTS_EVENTS
from dialog_schemas.common import BlockReason, Channel, CustomerKind, LegalBasis, Purpose
from dialog_schemas.contacts import (
    ContactRegistered,
    ContactsMerged,
    ContactUpdated,
    ProductPurchased,
    SalesChannel,
)
from dialogkit.codec import encode
from dialogkit.config import ServiceSettings
from dialogkit.deadletters import DeadLetters
from dialogkit.http import ApiRuntime, Probe, create_api
from dialogkit.projection import ProjectionRunner
from dialogkit.publishing import FakePublisher
from dialogkit.records import SourceRecord
from tests.support import AUTH

ERASED_PHONE, ERASED_EMAIL = "+493055501234", "gone@example.org"
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
AFTER = T0 + timedelta(hours=1)
EXPIRY = timedelta(days=730)


def salted(value: str) -> str:
    return contact_point_hash(value, ContactsSettings().suppression_salt.get_secret_value())


@pytest.fixture
async def contacts(
    new_database: Callable[..., Any], pool_for: Callable[..., Any]
) -> AsyncIterator[tuple[httpx.AsyncClient, asyncpg.Pool, FakePublisher]]:
    pool = await pool_for(await new_database("contacts"))
    await pool.executemany(
        "INSERT INTO suppressed_contact_points (hash, erased_at) VALUES ($1, $2)",
        [(salted(ERASED_PHONE), T0), (salted(ERASED_EMAIL), T0)],
    )
    publisher = FakePublisher()

    @asynccontextmanager
    async def on_test_database(
        service: str, settings: ServiceSettings
    ) -> AsyncIterator[tuple[ApiRuntime, dict[str, Probe]]]:
        yield ApiRuntime(service, settings, pool, publisher), {}

    app = create_api(
        CONTACTS.name, CONTACTS.settings(), CONTACTS.routers, runtime_factory=on_test_database
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://c") as client,
    ):
        yield client, pool, publisher


async def profile(pool: asyncpg.Pool, customer: str, **points: list[str]) -> None:
    """A registered customer as the contacts read model holds one."""
    await pool.execute(
        "INSERT INTO profiles (customer_id, kind, profile, registered_at, updated_at)"
        " VALUES ($1, 'business', $2::jsonb, $3, $3)",
        customer,
        orjson.dumps({"name": customer, **points}).decode(),
        T0,
    )


def published(publisher: FakePublisher) -> Envelope:
    return publisher.sent[CONTACTS_EVENTS.name][-1]


async def test_a_registration_with_an_erased_number_is_suppressed_on_phone_and_sms(
    contacts: tuple[httpx.AsyncClient, asyncpg.Pool, FakePublisher],
) -> None:
    client, _, publisher = contacts
    body = {"kind": "business", "name": "Acme", "phone_numbers": ["030 55501234"]}
    response = await client.post("/v1/customers/b-1", json=body, headers=AUTH)
    assert response.json()["suppressed_channels"] == ["phone", "sms"]
    assert published(publisher).data["suppressed_channels"] == ["phone", "sms"]


async def test_an_update_giving_an_erased_number_is_suppressed_like_a_registration(
    contacts: tuple[httpx.AsyncClient, asyncpg.Pool, FakePublisher],
) -> None:
    client, pool, publisher = contacts
    await profile(pool, "b-2")
    patch = {"phone_numbers": ["+49 30 55501234"]}
    response = await client.patch("/v1/customers/b-2", json=patch, headers=AUTH)
    assert response.status_code == 202, response.text
    assert response.json()["suppressed_channels"] == ["phone", "sms"]
    event = ContactUpdated.model_validate(published(publisher).data)
    assert event.suppressed_channels == [Channel.PHONE, Channel.SMS]

    fresh = await client.patch(
        "/v1/customers/b-2", json={"phone_numbers": ["+49 30 55509999"]}, headers=AUTH
    )
    assert fresh.json()["suppressed_channels"] == []


async def test_a_merge_taking_an_erased_address_from_the_duplicate_is_suppressed(
    contacts: tuple[httpx.AsyncClient, asyncpg.Pool, FakePublisher],
) -> None:
    client, pool, publisher = contacts
    await profile(pool, "b-3")
    await profile(pool, "b-3-dup", email_addresses=[ERASED_EMAIL])
    body = {"merged_customer_id": "b-3-dup"}
    response = await client.post("/v1/customers/b-3/merge", json=body, headers=AUTH)
    assert response.status_code == 202, response.text
    assert response.json()["suppressed_channels"] == ["email"]
    assert ContactsMerged.model_validate(published(publisher).data).suppressed_channels == [
        Channel.EMAIL
    ]


async def test_a_purchase_obtaining_an_erased_address_is_suppressed(
    contacts: tuple[httpx.AsyncClient, asyncpg.Pool, FakePublisher],
) -> None:
    client, pool, publisher = contacts
    await profile(pool, "b-4")
    purchase = {
        "purchase_id": "order-1",
        "product_id": "p-1",
        "product_name": "Fiber 250",
        "category": "home-internet",
        "purchased_at": T0.isoformat(),
        "sales_channel": "web_shop",
        "email_address": "Gone@Example.org",
        "objection_notice_given": True,
    }
    response = await client.post("/v1/customers/b-4/purchases", json=purchase, headers=AUTH)
    assert response.status_code == 202, response.text
    assert response.json()["suppressed_channels"] == ["email"]
    assert published(publisher).data["suppressed_channels"] == ["email"]


async def test_the_suppression_check_answers_for_any_format(
    contacts: tuple[httpx.AsyncClient, asyncpg.Pool, FakePublisher],
) -> None:
    client, _, _ = contacts
    query = {"phone_numbers": ["030 55501234"], "email_addresses": ["someone@example.org"]}
    response = await client.post("/v1/contact-points/suppression", json=query, headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["suppressed_channels"] == ["phone", "sms"]
    [match] = body["matches"]
    assert match["contact_point_hash"] == salted(ERASED_PHONE)
    bad = await client.post(
        "/v1/contact-points/suppression", json={"phone_numbers": ["12"]}, headers=AUTH
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "body.phone_numbers.0"


@pytest.mark.parametrize(
    "later",
    [
        ContactUpdated(updated_at=T0, suppressed_channels=[Channel.PHONE, Channel.SMS]),
        ContactsMerged(
            merged_customer_id="other", merged_at=T0, suppressed_channels=[Channel.PHONE]
        ),
        ProductPurchased(
            purchase_id="o-1",
            product_id="p-1",
            product_name="Fiber",
            category="home-internet",
            purchased_at=T0,
            sales_channel=SalesChannel.WEB_SHOP,
            suppressed_channels=[Channel.PHONE],
        ),
    ],
    ids=["update", "merge", "purchase"],
)
async def test_the_consent_ledger_keeps_channels_suppressed_by_any_later_event(
    later: Event, new_database: Callable[..., Any], pool_for: Callable[..., Any]
) -> None:
    pool = await pool_for(await new_database(CONSENT.name))
    runner = ProjectionRunner(
        pool,
        CustomerFactsProjection("consent.customer-facts"),
        DeadLetters(FakePublisher(), "consent.deadletter.v1", "test"),
    )
    registered = ContactRegistered(
        kind=CustomerKind.BUSINESS, name="Acme", registered_at=T0 - timedelta(days=1)
    )
    for offset, event in enumerate([registered, later]):
        envelope = Envelope.wrap(
            event, id=uuid.uuid4(), source="/contacts/api", subject="b-5", time=T0
        )
        await runner.handle(
            [SourceRecord(CONTACTS_EVENTS.name, 0, offset, b"b-5", encode(envelope))]
        )
    state = await load_state(pool, "b-5")
    assert state is not None
    decision = eligibility(state, Channel.PHONE, Purpose.MARKETING, AFTER, expiry=EXPIRY)
    assert decision.reason is BlockReason.SUPPRESSED, "no presumed business consent any more"
    letter = eligibility(state, Channel.LETTER, Purpose.MARKETING, AFTER, expiry=EXPIRY)
    assert letter.legal_basis is LegalBasis.LETTER_WITHOUT_OBJECTION
