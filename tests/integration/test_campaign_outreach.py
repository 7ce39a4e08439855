"""The campaigns outreach read model and its API on real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from campaigns.bootstrap import DEFINITION
from campaigns.projections import HANDLERS, CustomerMergesProjection, OutreachProjection
from dialog_schemas import Envelope, Event
from dialog_schemas.campaigns import CAMPAIGN_EVENTS as CAMPAIGN_EVENT_TYPES
from dialog_schemas.campaigns import (
    BehaviouralSignalRecorded,
    CampaignCreated,
    CancellationReason,
    DeferralReason,
    OutreachAuthorized,
    OutreachBlocked,
    OutreachCancelled,
    OutreachDeferred,
    OutreachDispatched,
    OutreachPlanned,
    ResponseKind,
    ResponseReceived,
)
from dialog_schemas.catalog import CAMPAIGNS_EVENTS, CONTACTS_EVENTS
from dialog_schemas.common import BlockReason, Channel, LegalBasis, Purpose
from dialog_schemas.contacts import ContactsMerged
from dialogkit.codec import encode
from dialogkit.config import ServiceSettings
from dialogkit.deadletters import DeadLetters
from dialogkit.http import ApiRuntime, Probe, create_api
from dialogkit.projection import BatchOutcome, ProjectionRunner
from dialogkit.publishing import FakePublisher
from dialogkit.records import SourceRecord
from tests.support import AUTH

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
CAMPAIGN = "spring-tariffs"


class Feed:
    """Runs the campaigns worker's projections over records at increasing offsets."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        dead = DeadLetters(FakePublisher(), "campaigns.deadletter.v1", "test")
        self.runners = {
            p.source.name: ProjectionRunner(pool, p, dead)
            for p in (OutreachProjection(), CustomerMergesProjection())
        }
        self.next_offset: dict[tuple[str, int], int] = {}

    def records(
        self, topic: str, envelopes: list[Envelope], partition: int = 0
    ) -> list[SourceRecord]:
        start = self.next_offset.get((topic, partition), 0)
        self.next_offset[(topic, partition)] = start + len(envelopes)
        return [
            SourceRecord(topic, partition, start + n, e.subject.encode(), encode(e))
            for n, e in enumerate(envelopes)
        ]

    async def handle(self, records: list[SourceRecord]) -> BatchOutcome:
        outcome = await self.runners[records[0].topic].handle(records)
        assert outcome.dead_lettered == 0
        return outcome

    async def send(self, topic: str, envelopes: list[Envelope], partition: int = 0) -> None:
        await self.handle(self.records(topic, envelopes, partition))


def wrap(event: Event, subject: str, at: datetime = T0) -> Envelope:
    return Envelope.wrap(event, id=uuid.uuid4(), source="/campaigns/test", subject=subject, time=at)


def campaign() -> Envelope:
    created = CampaignCreated(
        campaign_id=CAMPAIGN,
        name="Spring tariffs",
        channel=Channel.PHONE,
        purpose=Purpose.MARKETING,
        product_category="mobile",
        created_at=T0 - timedelta(days=7),
    )
    return wrap(created, CAMPAIGN)


def lifecycle(
    customer: str, outreach: uuid.UUID, consent: uuid.UUID, planned_for: datetime = T0
) -> list[Envelope]:
    common: dict[str, Any] = {
        "outreach_id": outreach,
        "campaign_id": CAMPAIGN,
        "channel": Channel.PHONE,
    }
    events: list[Event] = [
        OutreachPlanned(**common, purpose=Purpose.MARKETING, planned_for=planned_for),
        OutreachAuthorized(
            **common,
            purpose=Purpose.MARKETING,
            decided_at=T0 + timedelta(minutes=1),
            legal_basis=LegalBasis.EXPRESS_CONSENT,
            consent_id=consent,
        ),
        OutreachDispatched(**common, dispatched_at=T0 + timedelta(minutes=2)),
        ResponseReceived(
            **common,
            response_id="r-1",
            received_at=T0 + timedelta(minutes=5),
            response=ResponseKind.INTERESTED,
        ),
        ResponseReceived(
            **common,
            response_id="r-2",
            received_at=T0 + timedelta(days=2),
            response=ResponseKind.PURCHASED,
        ),
    ]
    return [wrap(e, customer) for e in events]


async def outreach_rows(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT * FROM outreach ORDER BY outreach_id")
    return [dict(r) for r in rows]


@pytest.fixture
async def pool(new_database, pool_for) -> asyncpg.Pool:
    return await pool_for(await new_database("campaigns"))


def test_every_campaigns_event_has_a_handler() -> None:
    handled = {*HANDLERS, OutreachDeferred, *CAMPAIGN_EVENT_TYPES} - {CampaignCreated}
    handled.add(BehaviouralSignalRecorded)  # a trigger: the campaign projection plans from it
    assert handled | {CampaignCreated} == set(CAMPAIGNS_EVENTS.events.values())


async def test_a_whole_lifecycle_makes_one_row_with_everything(pool: asyncpg.Pool) -> None:
    outreach, consent = uuid.uuid4(), uuid.uuid4()
    await Feed(pool).send(CAMPAIGNS_EVENTS.name, [campaign(), *lifecycle("c-1", outreach, consent)])

    [row] = await outreach_rows(pool)
    assert {k: v for k, v in row.items() if k != "responses"} == {
        "outreach_id": outreach,
        "customer_id": "c-1",
        "campaign_id": CAMPAIGN,
        "channel": "phone",
        "purpose": "marketing",
        "planned_for": T0,
        "decision": "authorized",
        "decided_at": T0 + timedelta(minutes=1),
        "legal_basis": "express_consent",
        "consent_id": consent,
        "block_reason": None,
        "dispatched_at": T0 + timedelta(minutes=2),
        "wave": None,
        "deferred_until": None,
        "deferral_reason": None,
        "deferrals": 0,
        "last_deferral": None,
        "cancelled_at": None,
        "cancel_reason": None,
    }
    responses = await pool.fetchval("SELECT responses FROM outreach")
    assert [(r["response_id"], r["kind"]) for r in orjson.loads(responses)] == [
        ("r-1", "interested"),
        ("r-2", "purchased"),
    ]
    name = await pool.fetchval("SELECT name FROM campaigns WHERE campaign_id = $1", CAMPAIGN)
    assert name == "Spring tariffs"


async def test_the_same_batch_applied_twice_changes_nothing(pool: asyncpg.Pool) -> None:
    feed = Feed(pool)
    batch = [campaign(), *lifecycle("c-1", uuid.uuid4(), uuid.uuid4())]
    records = feed.records(CAMPAIGNS_EVENTS.name, batch)
    await feed.handle(records)
    before = (await outreach_rows(pool), await pool.fetch("SELECT * FROM campaigns"))

    redelivered = await feed.handle(records)  # the same records: their positions are stored
    assert redelivered.skipped == len(batch)
    republished = await feed.handle(feed.records(CAMPAIGNS_EVENTS.name, batch))
    assert republished.applied == len(batch)  # the same events again, at new offsets

    assert (await outreach_rows(pool), await pool.fetch("SELECT * FROM campaigns")) == before


async def test_a_blocked_outreach_keeps_its_reason(pool: asyncpg.Pool) -> None:
    outreach = uuid.uuid4()
    common: dict[str, Any] = {
        "outreach_id": outreach,
        "campaign_id": CAMPAIGN,
        "channel": Channel.EMAIL,
        "purpose": Purpose.CROSS_SELL,
    }
    events = [
        OutreachPlanned(**common, planned_for=T0),
        OutreachBlocked(**common, decided_at=T0, reason=BlockReason.REVOKED),
    ]
    await Feed(pool).send(CAMPAIGNS_EVENTS.name, [wrap(e, "c-1") for e in events])

    [row] = await outreach_rows(pool)
    assert (row["decision"], row["block_reason"], row["legal_basis"], row["dispatched_at"]) == (
        "blocked",
        "revoked",
        None,
        None,
    )


async def test_events_read_before_the_plan_are_kept(new_database, pool_for) -> None:
    outreach, consent = uuid.uuid4(), uuid.uuid4()
    in_order = await pool_for(await new_database("campaigns"))
    await Feed(in_order).send(CAMPAIGNS_EVENTS.name, lifecycle("c-1", outreach, consent))
    backwards = await pool_for(await new_database("campaigns"))
    feed = Feed(backwards)
    for envelope in reversed(lifecycle("c-1", outreach, consent)):  # one batch each
        await feed.send(CAMPAIGNS_EVENTS.name, [envelope])

    assert await outreach_rows(backwards) == await outreach_rows(in_order)


@pytest.mark.parametrize("merge_read_first", [False, True], ids=["live-order", "rebuild-order"])
async def test_a_merged_duplicates_outreach_follows_the_survivor(
    pool: asyncpg.Pool, merge_read_first: bool
) -> None:
    feed = Feed(pool)
    survivor, duplicate = f"s-{uuid.uuid4().hex[:8]}", f"d-{uuid.uuid4().hex[:8]}"
    own, theirs = uuid.uuid4(), uuid.uuid4()
    merged = wrap(ContactsMerged(merged_customer_id=duplicate, merged_at=T0), survivor)
    steps = [
        (CAMPAIGNS_EVENTS.name, lifecycle(survivor, own, uuid.uuid4()), 0),
        (CAMPAIGNS_EVENTS.name, lifecycle(duplicate, theirs, uuid.uuid4()), 1),
        (CONTACTS_EVENTS.name, [merged], 0),
    ]
    if merge_read_first:
        steps.reverse()
    for topic, envelopes, partition in steps:
        await feed.send(topic, envelopes, partition)

    owners = {r["outreach_id"]: r["customer_id"] for r in await outreach_rows(pool)}
    assert owners == {own: survivor, theirs: survivor}


@pytest.fixture
async def api(pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    """The campaigns API, its routes as the service registers them, on the test database."""

    @asynccontextmanager
    async def on_test_database(
        service: str, settings: ServiceSettings
    ) -> AsyncIterator[tuple[ApiRuntime, dict[str, Probe]]]:
        yield ApiRuntime(service, settings, pool, FakePublisher()), {}

    settings = DEFINITION.settings()
    app = create_api(
        DEFINITION.name, settings, DEFINITION.routers, runtime_factory=on_test_database
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://campaigns"
        ) as client,
    ):
        yield client


async def test_the_api_lists_a_customers_outreach_in_order_of_plan(
    pool: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    first, second, unplanned, consent = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    dispatched_only = OutreachDispatched(
        outreach_id=unplanned, campaign_id="unknown", channel=Channel.SMS, dispatched_at=T0
    )
    await Feed(pool).send(
        CAMPAIGNS_EVENTS.name,
        [
            campaign(),
            wrap(dispatched_only, "c-1"),
            *lifecycle("c-1", second, uuid.uuid4(), planned_for=T0 + timedelta(days=30)),
            *lifecycle("c-1", first, consent),
            *lifecycle("c-2", uuid.uuid4(), uuid.uuid4()),
        ],
    )

    response = await api.get("/v1/customers/c-1/outreach", headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    assert body["customer_id"] == "c-1"
    listed = body["outreach"]
    assert [(o["outreach_id"], o["planned_for"]) for o in listed] == [
        (str(first), "2026-03-02T09:00:00Z"),
        (str(second), "2026-04-01T09:00:00Z"),
        (str(unplanned), None),
    ]
    assert listed[0] == {
        "outreach_id": str(first),
        "campaign_id": CAMPAIGN,
        "campaign_name": "Spring tariffs",
        "channel": "phone",
        "purpose": "marketing",
        "planned_for": "2026-03-02T09:00:00Z",
        "decision": "authorized",
        "decided_at": "2026-03-02T09:01:00Z",
        "legal_basis": "express_consent",
        "consent_id": str(consent),
        "block_reason": None,
        "dispatched_at": "2026-03-02T09:02:00Z",
        "responses": [
            {
                "response_id": "r-1",
                "kind": "interested",
                "channel": "phone",
                "received_at": "2026-03-02T09:05:00Z",
            },
            {
                "response_id": "r-2",
                "kind": "purchased",
                "channel": "phone",
                "received_at": "2026-03-04T09:00:00Z",
            },
        ],
    }
    assert (listed[2]["campaign_name"], listed[2]["dispatched_at"]) == (
        None,
        "2026-03-02T09:00:00Z",
    )


async def test_the_api_answers_an_empty_list_for_a_customer_without_outreach(
    api: httpx.AsyncClient,
) -> None:
    response = await api.get("/v1/customers/nobody/outreach", headers=AUTH)
    assert (response.status_code, response.json()) == (
        200,
        {"customer_id": "nobody", "outreach": []},
    )


async def test_the_api_needs_the_token_and_a_valid_customer_id(api: httpx.AsyncClient) -> None:
    anonymous = await api.get("/v1/customers/c-1/outreach")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    invalid = await api.get("/v1/customers/-not*valid/outreach", headers=AUTH)
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in invalid.json()["errors"]] == ["path.customer_id"]


async def test_deferrals_count_once_each_and_the_latest_until_holds(pool: asyncpg.Pool) -> None:
    outreach = uuid.uuid4()

    def deferred(until: datetime) -> Envelope:
        return wrap(
            OutreachDeferred(
                outreach_id=outreach,
                campaign_id=CAMPAIGN,
                channel=Channel.PHONE,
                purpose=Purpose.MARKETING,
                decided_at=T0,
                until=until,
                reason=DeferralReason.OUTSIDE_CALLING_HOURS,
            ),
            "c-1",
        )

    first, second = deferred(T0 + timedelta(hours=12)), deferred(T0 + timedelta(days=1))
    feed = Feed(pool)
    await feed.send(CAMPAIGNS_EVENTS.name, [first, second, second])
    cancelled = OutreachCancelled(
        outreach_id=outreach,
        campaign_id=CAMPAIGN,
        channel=Channel.PHONE,
        cancelled_at=T0 + timedelta(days=2),
        reason=CancellationReason.CAMPAIGN_STOPPED,
    )
    await feed.send(CAMPAIGNS_EVENTS.name, [wrap(cancelled, "c-1")])
    [row] = await outreach_rows(pool)
    assert (row["deferrals"], row["deferred_until"], row["deferral_reason"]) == (
        2,
        T0 + timedelta(days=1),
        "outside_calling_hours",
    )
    assert (row["cancel_reason"], row["cancelled_at"]) == (
        "campaign_stopped",
        T0 + timedelta(days=2),
    )
