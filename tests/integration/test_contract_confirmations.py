"""Contract confirmations through the interactions API on real PostgreSQL: only for a call of the
customer with a `sale` disposition, and the withdrawal period counted in the customer's calendar
(§§ 187, 188, 193 BGB)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from dialog_schemas.catalog import INTERACTIONS_EVENTS
from dialogkit.codec import encode
from dialogkit.config import ServiceSettings
from dialogkit.deadletters import DeadLetters
from dialogkit.http import ApiRuntime, Probe, create_api
from dialogkit.pii import InMemoryKeyStore
from dialogkit.projection import ProjectionRunner
from dialogkit.publishing import FakePublisher
from dialogkit.records import SourceRecord
from interactions.bootstrap import DEFINITION
from interactions.config import Settings
from interactions.projections import TimelineProjection
from tests.support import AUTH

SALE_AT = datetime(2026, 11, 27, 15, tzinfo=UTC)


class Interactions:
    """The interactions API on a test database; what it publishes is projected on request."""

    def __init__(self, pool: asyncpg.Pool, client: httpx.AsyncClient, sent: FakePublisher):
        self.pool, self.client, self.sent = pool, client, sent
        dead = DeadLetters(FakePublisher(), "interactions.deadletter.v1", "test")
        timeline = TimelineProjection(INTERACTIONS_EVENTS, "interactions.timeline")
        self.runner = ProjectionRunner(pool, timeline, dead)
        self.offset = 0

    async def project(self) -> None:
        envelopes = self.sent.sent.pop(INTERACTIONS_EVENTS.name, [])
        records = [
            SourceRecord(
                INTERACTIONS_EVENTS.name, 0, self.offset + n, e.subject.encode(), encode(e)
            )
            for n, e in enumerate(envelopes)
        ]
        self.offset += len(records)
        if records:
            await self.runner.handle(records)

    async def call(
        self, customer: str, touchpoint: str, disposition: str, at: datetime = SALE_AT
    ) -> None:
        body = {
            "customer_id": customer,
            "touchpoint_id": touchpoint,
            "channel": "phone",
            "direction": "outbound",
            "occurred_at": at.isoformat(),
            "details": {"kind": "call", "disposition": disposition, "duration_s": 300},
        }
        response = await self.client.post("/v1/touchpoints", json=body)
        assert response.status_code == 202, response.text
        await self.project()

    async def confirm(self, customer: str, **body: Any) -> httpx.Response:
        fields = {"sent_via": "email", "sent_at": "2026-11-27T23:30:00Z"} | body
        return await self.client.post(
            f"/v1/customers/{customer}/contract-confirmations", json=fields
        )


@pytest.fixture
async def interactions(new_database, pool_for) -> AsyncIterator[Interactions]:
    pool = await pool_for(await new_database("interactions"))
    sent = FakePublisher()

    @asynccontextmanager
    async def on_test_database(
        service: str, settings: ServiceSettings
    ) -> AsyncIterator[tuple[ApiRuntime, dict[str, Probe]]]:
        yield ApiRuntime(service, settings, pool, sent, InMemoryKeyStore()), {}

    settings = Settings(sale_wait_s=0.2)
    app = create_api(
        DEFINITION.name, settings, DEFINITION.routers, runtime_factory=on_test_database
    )
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://interactions", headers=AUTH) as c,
    ):
        yield Interactions(pool, c, sent)


def customer() -> str:
    return f"cust-{uuid.uuid4().hex[:12]}"


async def test_a_confirmation_for_a_sale_call_counts_the_period_in_the_customers_calendar(
    interactions: Interactions,
) -> None:
    buyer = customer()
    await interactions.call(buyer, "call-sale", "sale")
    response = await interactions.confirm(buyer, touchpoint_id="call-sale")
    assert response.status_code == 202, response.text
    [sent] = interactions.sent.sent[INTERACTIONS_EVENTS.name]
    # 23:30Z on 27 November is 00:30 on 28 November in Berlin: 12 December is a Saturday
    assert sent.data["withdrawal_ends_on"] == "2026-12-14"
    assert (sent.data["time_zone"], sent.data["federal_state"]) == ("Europe/Berlin", None)
    again = await interactions.confirm(buyer, touchpoint_id="call-sale")
    assert again.json()["event_id"] == response.json()["event_id"], "the same confirmation"


async def test_a_confirmation_names_the_customers_calendar(interactions: Interactions) -> None:
    buyer = customer()
    await interactions.call(buyer, "call-sale", "sale", datetime(2026, 5, 21, 9, tzinfo=UTC))
    response = await interactions.confirm(
        buyer,
        touchpoint_id="call-sale",
        sent_at="2026-05-21T10:00:00Z",
        federal_state="DE-BY",
    )
    assert response.status_code == 202, response.text
    [sent] = interactions.sent.sent[INTERACTIONS_EVENTS.name]
    assert sent.data["withdrawal_ends_on"] == "2026-06-05", "Corpus Christi in Bavaria"
    bad = await interactions.confirm(buyer, touchpoint_id="call-sale", federal_state="DE-XX")
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "body.federal_state")


@pytest.mark.parametrize(
    "other",
    [
        lambda i, c: i.call(c, "call-1", "not_interested"),  # a call without a sale
        lambda i, c: i.call(customer(), "call-1", "sale"),  # another customer's sale
        lambda i, c: i.project(),  # no such touchpoint
    ],
    ids=["no-sale", "another-customers-sale", "unknown-touchpoint"],
)
async def test_a_confirmation_without_a_sale_call_of_the_customer_is_refused(
    interactions: Interactions, other: Callable[[Interactions, str], Any]
) -> None:
    buyer = customer()
    await other(interactions, buyer)
    interactions.sent.sent.clear()
    refused = await interactions.confirm(buyer, touchpoint_id="call-1")
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert "not a call with a sale" in refused.json()["detail"]
    assert not interactions.sent.sent.get(INTERACTIONS_EVENTS.name), "nothing published"


async def test_a_confirmation_before_the_sale_is_refused(interactions: Interactions) -> None:
    buyer = customer()
    await interactions.call(buyer, "call-sale", "sale")
    before = (SALE_AT - timedelta(hours=1)).isoformat()
    refused = await interactions.confirm(buyer, touchpoint_id="call-sale", sent_at=before)
    assert (refused.status_code, refused.json()["field"]) == (422, "sent_at")
