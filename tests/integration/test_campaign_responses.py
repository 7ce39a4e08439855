"""Responses on the real broker and PostgreSQL: a survey answer posted over the interactions API
with its outreach id is attributed by id, a purchase posted over the contacts API without one by
the window, an unsubscribe (a touchpoint and its opt-out) once; read again, nothing new."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from campaigns.attribution import DEFAULT_WINDOWS
from campaigns.outbox import OutboxRelay
from campaigns.projections import OutreachProjection
from campaigns.responses import (
    ContactResponsesProjection,
    DispatchedOutreachProjection,
    InteractionResponsesProjection,
)
from contacts.projections import ProfileProjection
from dialog_schemas import Envelope, Event
from dialog_schemas.campaigns import (
    AttributionMethod,
    CampaignCreated,
    OutreachDispatched,
    ResponseKind,
    ResponseReceived,
)
from dialog_schemas.catalog import CAMPAIGNS_EVENTS, CONTACTS_EVENTS
from dialog_schemas.common import Channel, Purpose
from dialog_schemas.contacts import ContactsMerged, ProductPurchased, SalesChannel
from dialogkit.codec import decode_envelope, encode
from dialogkit.config import ServiceSettings
from dialogkit.deadletters import DeadLetters
from dialogkit.http import ApiRuntime, Probe, create_api
from dialogkit.pii import InMemoryKeyStore
from dialogkit.projection import Projection, ProjectionRunner
from dialogkit.publishing import EventPublisher, FakePublisher, KafkaPublisher, Position
from dialogkit.records import SourceRecord
from tests.support import AUTH

NOW = datetime.now(UTC).replace(microsecond=0)


class Recorder:
    """Publishes to the broker and remembers where each event landed."""

    def __init__(self, inner: KafkaPublisher) -> None:
        self.inner = inner
        self.positions: list[Position] = []

    async def publish(self, topic: str, envelopes: Sequence[Envelope]) -> Sequence[Position]:
        positions = await self.inner.publish(topic, envelopes)
        self.positions += positions
        return positions

    async def send_raw(self, topic: str, key: bytes | None, value: bytes, headers: Any) -> None:
        await self.inner.send_raw(topic, key, value, headers)

    def take(self) -> list[Position]:
        taken, self.positions = self.positions, []
        return taken


async def fetch(bootstrap: str, positions: Sequence[Position]) -> list[SourceRecord]:
    """The records at these positions, read back from the broker, in topic order."""
    wanted = {(p.topic, p.partition, p.offset) for p in positions}
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await reader.start()
    try:
        partitions = {TopicPartition(p.topic, p.partition) for p in positions}
        reader.assign(list(partitions))
        for tp in partitions:
            reader.seek(tp, min(o for t, p, o in wanted if (t, p) == (tp.topic, tp.partition)))
        found: dict[tuple[str, int, int], SourceRecord] = {}
        while len(found) < len(wanted):
            for batch in (await reader.getmany(timeout_ms=500)).values():
                for r in batch:
                    if (r.topic, r.partition, r.offset) in wanted:
                        headers = tuple((k, bytes(v)) for k, v in r.headers)
                        found[(r.topic, r.partition, r.offset)] = SourceRecord(
                            r.topic, r.partition, r.offset, r.key, r.value, headers
                        )
        return [found[k] for k in sorted(found)]
    finally:
        await reader.stop()


def api(definition_module: str, pool: asyncpg.Pool, publisher: EventPublisher) -> Any:
    definition = __import__(f"{definition_module}.bootstrap", fromlist=["DEFINITION"]).DEFINITION

    @asynccontextmanager
    async def on_test_database(
        service: str, settings: ServiceSettings
    ) -> AsyncIterator[tuple[ApiRuntime, dict[str, Probe]]]:
        keys = None if service == "contacts" else InMemoryKeyStore()
        yield ApiRuntime(service, settings, pool, publisher, keys), {}

    settings = definition.settings(command_wait_s=0)
    return create_api(
        definition.name, settings, definition.routers, runtime_factory=on_test_database
    )


@asynccontextmanager
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test", headers=AUTH
        ) as http,
    ):
        yield http


class Worker:
    """The campaigns worker's projections that responses go through, on its database."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        dead = DeadLetters(FakePublisher(), "campaigns.deadletter.v1", "test")
        projections: list[Projection] = [
            OutreachProjection(),
            DispatchedOutreachProjection(),
            InteractionResponsesProjection(DEFAULT_WINDOWS),
            ContactResponsesProjection(DEFAULT_WINDOWS),
        ]
        self.runners = [(p.source.name, ProjectionRunner(pool, p, dead)) for p in projections]

    async def read(self, records: Sequence[SourceRecord]) -> None:
        for topic, runner in self.runners:
            mine = [r for r in records if r.topic == topic]
            if mine:
                outcome = await runner.handle(mine)
                assert outcome.dead_lettered == 0


def wrap(event: Event, subject: str) -> Envelope:
    return Envelope.wrap(
        event, id=uuid.uuid4(), source="/campaigns/worker", subject=subject, time=NOW
    )


def campaign(campaign_id: str, category: str) -> Envelope:
    created = CampaignCreated(
        campaign_id=campaign_id,
        name=campaign_id,
        channel=Channel.EMAIL,
        purpose=Purpose.MARKETING,
        product_category=category,
        created_at=NOW - timedelta(days=30),
    )
    return wrap(created, campaign_id)


def dispatched(customer: str, campaign_id: str, outreach: uuid.UUID, days_ago: int) -> Envelope:
    event = OutreachDispatched(
        outreach_id=outreach,
        campaign_id=campaign_id,
        channel=Channel.EMAIL,
        dispatched_at=NOW - timedelta(days=days_ago),
    )
    return wrap(event, customer)


@pytest.fixture
async def pools(new_database, pool_for) -> dict[str, asyncpg.Pool]:
    return {
        s: await pool_for(await new_database(s)) for s in ("campaigns", "contacts", "interactions")
    }


async def test_responses_are_attributed_by_outreach_id_and_by_window_once_each(
    pools: dict[str, asyncpg.Pool],
    publisher: KafkaPublisher,
    platform_topics_ready: str,
    customer_id: str,
) -> None:
    bootstrap, customer, run = platform_topics_ready, customer_id, uuid.uuid4().hex[:8]
    recorder = Recorder(publisher)
    worker = Worker(pools["campaigns"])
    fibre, tv = f"fibre-{run}", f"tv-{run}"
    old, new = uuid.uuid4(), uuid.uuid4()  # emails of the fibre (10 days ago) and tv campaigns
    await recorder.publish(CAMPAIGNS_EVENTS.name, [campaign(fibre, "fibre"), campaign(tv, "tv")])
    await recorder.publish(
        CAMPAIGNS_EVENTS.name,
        [dispatched(customer, fibre, old, 10), dispatched(customer, tv, new, 1)],
    )
    await worker.read(await fetch(bootstrap, recorder.take()))

    async with (
        client(api("contacts", pools["contacts"], recorder)) as contacts,
        client(api("interactions", pools["interactions"], recorder)) as interactions,
    ):
        registered = await contacts.post(
            f"/v1/customers/{customer}", json={"kind": "consumer", "name": "Erika Muster"}
        )
        assert registered.status_code in (201, 202), registered.text
        dead = DeadLetters(FakePublisher(), "contacts.deadletter.v1", "test")
        profile = ProjectionRunner(pools["contacts"], ProfileProjection(), dead)
        await profile.handle(await fetch(bootstrap, recorder.take()))

        touchpoint = {"customer_id": customer, "channel": "email", "direction": "inbound"}
        answer = await interactions.post(
            "/v1/touchpoints",
            json=touchpoint
            | {
                "touchpoint_id": f"survey-{run}",
                "occurred_at": (NOW - timedelta(hours=2)).isoformat(),
                "campaign_id": fibre,
                "outreach_id": str(old),
                "survey": {"score": 9},
            },
        )
        assert answer.status_code == 202, answer.text
        unsubscribed = await interactions.post(
            "/v1/touchpoints",
            json=touchpoint
            | {
                "touchpoint_id": f"unsubscribe-{run}",
                "occurred_at": (NOW - timedelta(hours=1)).isoformat(),
                "details": {"kind": "email", "message_id": "m-1", "status": "unsubscribed"},
            },
        )
        assert unsubscribed.status_code == 202, unsubscribed.text
        bought = {"product_id": "p", "product_name": "Fibre 500", "sales_channel": "web_shop"}
        for purchase, category in (("fibre", "fibre"), ("sofa", "furniture")):
            posted = await contacts.post(
                f"/v1/customers/{customer}/purchases",
                json=bought
                | {
                    "purchase_id": f"{purchase}-{run}",
                    "category": category,
                    "purchased_at": NOW.isoformat(),
                },
            )
            assert posted.status_code == 202, posted.text
    sources = await fetch(bootstrap, recorder.take())
    assert {decode_envelope(r.value, r.headers).type for r in sources} >= {
        "TouchpointRecorded",
        "OptOutReceived",
        "ProductPurchased",
    }
    await worker.read(sources)

    relay = OutboxRelay(InMemoryKeyStore())
    assert await relay.flush(pools["campaigns"], recorder) == 3
    published = await fetch(bootstrap, recorder.take())
    responses = {}
    for record in published:
        envelope = decode_envelope(record.value, record.headers)
        event = ResponseReceived.model_validate(envelope.data)
        responses[event.response.value] = (event.outreach_id, event.attributed_by, envelope)
    assert {k: v[:2] for k, v in responses.items()} == {
        "answered": (old, "outreach_id"),
        "unsubscribed": (new, "window"),
        "purchased": (old, "window"),
    }
    fibre_bought = next(
        e
        for r in sources
        if (e := decode_envelope(r.value, r.headers)).type == "ProductPurchased"
        and e.data["category"] == "fibre"
    )
    conversion = responses["purchased"][2]
    assert conversion.causationid == fibre_bought.id
    assert conversion.data["source_event_id"] == str(fibre_bought.id)

    await worker.read(published)
    rows = await pools["campaigns"].fetch(
        "SELECT outreach_id, responses FROM outreach WHERE customer_id = $1", customer
    )
    entries = {r["outreach_id"]: orjson.loads(r["responses"]) for r in rows}
    assert [(e["kind"], e["attributed_by"]) for e in entries[old]] == [
        ("answered", "outreach_id"),
        ("purchased", "window"),
    ]
    assert [e["kind"] for e in entries[new]] == ["unsubscribed"]
    assert {*entries[new][0]} == {"response_id", "kind", "channel", "received_at", "attributed_by"}

    # read again from the start (a rebuild): every response is there, nothing is published again
    await pools["campaigns"].execute(
        "DELETE FROM projection_positions WHERE projection LIKE 'campaigns.responses-%'"
    )
    await worker.read(sources)
    assert await relay.flush(pools["campaigns"], recorder) == 0


def record(topic: str, offset: int, envelope: Envelope) -> SourceRecord:
    return SourceRecord(topic, 0, offset, envelope.subject.encode(), encode(envelope))


async def test_a_merged_duplicates_outreach_counts_for_the_survivors_conversion_once(
    pools: dict[str, asyncpg.Pool],
) -> None:
    worker, run = Worker(pools["campaigns"]), uuid.uuid4().hex[:8]
    duplicate, survivor, outreach = f"dup-{run}", f"surv-{run}", uuid.uuid4()
    await worker.read(
        [
            record(CAMPAIGNS_EVENTS.name, 0, campaign("fibre", "fibre")),
            record(CAMPAIGNS_EVENTS.name, 1, dispatched(duplicate, "fibre", outreach, 2)),
        ]
    )
    merged = ContactsMerged(merged_customer_id=duplicate, merged_at=NOW)
    bought = ProductPurchased(
        purchase_id="p-1",
        product_id="fibre-500",
        product_name="Fibre 500",
        category="fibre",
        purchased_at=NOW,
        sales_channel=SalesChannel.WEB_SHOP,
    )
    purchase = wrap(bought, survivor)
    sources = [
        record(CONTACTS_EVENTS.name, 0, wrap(merged, survivor)),
        record(CONTACTS_EVENTS.name, 1, purchase),
    ]
    await worker.read(sources)
    assert (
        await pools["campaigns"].fetchval(
            "SELECT customer_id FROM dispatched_outreach WHERE outreach_id = $1", outreach
        )
        == survivor
    )

    published = FakePublisher()
    assert await OutboxRelay(InMemoryKeyStore()).flush(pools["campaigns"], published) == 1
    [response] = published.sent[CAMPAIGNS_EVENTS.name]
    event = ResponseReceived.model_validate(response.data)
    assert (response.subject, response.causationid) == (survivor, purchase.id)
    assert (event.outreach_id, event.response, event.attributed_by) == (
        outreach,
        ResponseKind.PURCHASED,
        AttributionMethod.WINDOW,
    )
    assert event.channel is Channel.EMAIL, "a conversion is counted on the outreach's channel"
