"""The campaigns worker's customer facts for audiences, projected on real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from campaigns.audience import matches, select
from campaigns.audience_store import facts_for, facts_page
from campaigns.facts import (
    AudienceContactsProjection,
    AudienceObjectionsProjection,
    AudienceTouchesProjection,
)
from campaigns.phone_zones import PhoneZones
from dialog_schemas import Envelope, Event
from dialog_schemas.campaigns import Audience, AudienceRule, RecencyRule
from dialog_schemas.catalog import CONSENT_EVENTS, CONTACTS_EVENTS, INTERACTIONS_EVENTS
from dialog_schemas.common import Channel, CustomerKind, Direction, Purpose
from dialog_schemas.consent import ObjectionLifted, ObjectionRecorded
from dialog_schemas.contacts import (
    ContactErased,
    ContactRegistered,
    ContactsMerged,
    ContactUpdated,
    ContractCancelled,
    ContractStarted,
    ProductPurchased,
    SalesChannel,
)
from dialog_schemas.interactions import TouchpointRecorded
from dialogkit.codec import encode
from dialogkit.deadletters import DeadLetters
from dialogkit.pii import InMemoryKeyStore, encrypt
from dialogkit.projection import ProjectionRunner
from dialogkit.publishing import FakePublisher
from dialogkit.records import SourceRecord

NOW = datetime(2026, 3, 3, 10, tzinfo=UTC)
DAY = timedelta(days=1)
# the issue's example: home internet and no mobile plan, customer for more than a year, not
# contacted by phone in 30 days
EXAMPLE = AudienceRule(
    holds_any=["home-internet"],
    holds_none=["mobile"],
    customer_for_days=365,
    not_contacted=RecencyRule(channel=Channel.PHONE, within_days=30),
)


class Feed:
    def __init__(self, pool: asyncpg.Pool) -> None:
        dead = DeadLetters(FakePublisher(), "campaigns.deadletter.v1", "test")
        projections = (
            AudienceContactsProjection(),
            AudienceObjectionsProjection(),
            AudienceTouchesProjection(),
        )
        self.runners = {p.source.name: ProjectionRunner(pool, p, dead) for p in projections}
        self.offsets: dict[str, int] = {}

    async def send(self, topic: str, *items: tuple[str, Event]) -> None:
        start = self.offsets.get(topic, 0)
        self.offsets[topic] = start + len(items)
        records = [
            SourceRecord(topic, 0, start + n, subject.encode(), encode(wrap(event, subject)))
            for n, (subject, event) in enumerate(items)
        ]
        outcome = await self.runners[topic].handle(records)
        assert outcome.dead_lettered == 0


def wrap(event: Event, subject: str) -> Envelope:
    return Envelope.wrap(event, id=uuid.uuid4(), source="/test", subject=subject, time=NOW)


def registered(since: date | None = None, **extra: object) -> ContactRegistered:
    fields: dict[str, object] = {"phone_numbers": ["+493012345678"], **extra}
    return ContactRegistered(
        kind=CustomerKind.CONSUMER,
        name="Kim",
        registered_at=NOW - 30 * DAY,
        customer_since=since,
        **fields,  # type: ignore[arg-type]
    )


def purchase(category: str, at: datetime = NOW - 100 * DAY) -> ProductPurchased:
    return ProductPurchased(
        purchase_id=uuid.uuid4().hex,
        product_id="p-1",
        product_name="Product",
        category=category,
        purchased_at=at,
        sales_channel=SalesChannel.WEB_SHOP,
    )


def call(direction: Direction, at: datetime) -> TouchpointRecorded:
    return TouchpointRecorded(
        touchpoint_id=uuid.uuid4().hex,
        channel=Channel.PHONE,
        direction=direction,
        occurred_at=at,
        purpose=Purpose.MARKETING,
        reported_by="dialer",
    )


@pytest.fixture
async def pool(new_database, pool_for) -> asyncpg.Pool:
    return await pool_for(await new_database("campaigns"))


async def test_the_issues_example_rule_over_projected_facts(pool: asyncpg.Pool) -> None:
    feed = Feed(pool)
    long_ago = date(2024, 1, 1)
    await feed.send(
        CONTACTS_EVENTS.name,
        ("fits", registered(long_ago)),
        ("fits", purchase("home-internet")),
        ("mobile", registered(long_ago)),
        ("mobile", purchase("home-internet")),
        (
            "mobile",
            ContractStarted(
                contract_id="k-1",
                product_id="p-2",
                category="mobile",
                started_at=NOW - 50 * DAY,
                sales_channel=SalesChannel.PHONE,
            ),
        ),
        ("cancelled", registered(long_ago)),
        ("cancelled", purchase("home-internet")),
        (
            "cancelled",
            ContractStarted(
                contract_id="k-2",
                product_id="p-2",
                category="mobile",
                started_at=NOW - 50 * DAY,
                sales_channel=SalesChannel.PHONE,
            ),
        ),
        ("cancelled", ContractCancelled(contract_id="k-2", cancelled_at=NOW - 5 * DAY)),
        ("new", registered()),
        ("new", purchase("home-internet")),
        ("called", registered(long_ago)),
        ("called", purchase("home-internet")),
    )
    await feed.send(
        INTERACTIONS_EVENTS.name,
        ("called", call(Direction.OUTBOUND, NOW - 3 * DAY)),
        ("fits", call(Direction.INBOUND, NOW - 3 * DAY)),  # a call from them is no contact
    )
    facts = {f.customer_id: f for f in await facts_page(pool, "", 100)}
    chosen = sorted(c for c, f in facts.items() if matches(EXAMPLE, f, NOW))
    assert chosen == ["cancelled", "fits"]
    assert facts["cancelled"].cancelled["mobile"] == NOW - 5 * DAY
    assert facts["fits"].last_response == {Channel.PHONE: NOW - 3 * DAY}
    assert facts["called"].last_contact == {Channel.PHONE: NOW - 3 * DAY}


async def test_objection_erasure_and_merges_are_facts_audiences_respect(
    pool: asyncpg.Pool,
) -> None:
    feed = Feed(pool)
    await feed.send(
        CONTACTS_EVENTS.name,
        ("a", registered(interests=["cycling"])),
        ("a-dup", registered(interests=["hiking"])),
        ("b", registered()),
        ("gone", registered()),
        ("gone", ContactErased(erased_at=NOW, request_id=uuid.uuid4())),
        ("gone", registered()),  # a re-import does not undo the erasure
        ("b", ContactUpdated(time_zone="Europe/Vienna", updated_at=NOW)),
    )
    objection = ObjectionRecorded(
        objection_id=uuid.uuid4(), objected_at=NOW, via_channel=Channel.EMAIL
    )
    await feed.send(CONSENT_EVENTS.name, ("a-dup", objection), ("b", objection))
    await feed.send(
        CONTACTS_EVENTS.name, ("a", ContactsMerged(merged_customer_id="a-dup", merged_at=NOW))
    )
    lifted = ObjectionLifted(objection_id=uuid.uuid4(), lifted_at=NOW, consent_id=uuid.uuid4())
    await feed.send(CONSENT_EVENTS.name, ("b", lifted))

    facts = await facts_for(pool, ["a", "a-dup", "b", "gone"])
    assert sorted(facts) == ["a", "b", "gone"]  # the duplicate is its survivor now
    assert facts["a"].objected  # the duplicate's objection stays in force
    assert facts["a"].interests == {"cycling", "hiking"}
    assert not facts["b"].objected
    assert facts["b"].time_zone == "Europe/Vienna"
    gone = facts["gone"]
    assert gone.erased
    assert gone.reachable_on == frozenset()
    assert gone.kind is None

    everyone = Audience(rule=AudienceRule(), include_ids=["a-dup"])
    survivors = {"a-dup": "a"}
    advertising = select(everyone, facts, survivors, Channel.PHONE, Purpose.MARKETING, NOW)
    assert advertising == ["b"]
    service = select(everyone, facts, survivors, Channel.PHONE, Purpose.SERVICE, NOW)
    assert service == ["a", "b"]


async def test_the_zones_a_sealed_phone_number_implies_are_read_outside_the_stream(
    pool: asyncpg.Pool,
) -> None:
    keys = InMemoryKeyStore()

    async def sealed(customer: str, numbers: list[str]) -> str:
        key = await keys.key_for(customer, create=True)
        assert key is not None
        return encrypt(key, customer, "phone_numbers", numbers)

    feed = Feed(pool)
    lost = await sealed("lost", ["+12125550100"])
    await keys.destroy("lost")
    await feed.send(
        CONTACTS_EVENTS.name,
        ("us", registered(phone_numbers=await sealed("us", ["+12125550100", "+493012345678"]))),
        ("plain", registered()),
        ("zoned", registered(time_zone="Europe/Vienna")),
        ("lost", registered(phone_numbers=lost)),
    )
    job = PhoneZones(keys)
    assert await job.run(pool, FakePublisher()) == 3
    assert await job.run(pool, FakePublisher()) == 0, "each number is read once"

    async def zones() -> dict[str, list[str] | None]:
        rows = await pool.fetch("SELECT customer_id, phone_zones FROM audience_facts")
        return {r["customer_id"]: r["phone_zones"] for r in rows}

    assert await zones() == {
        "us": ["America/New_York"],  # the first number is the one called
        "plain": ["Europe/Berlin"],
        "zoned": None,  # the profile's zone holds
        "lost": [],  # no key: no zone known, the default applies
    }
    changed = ContactUpdated(phone_numbers=await sealed("us", ["+493012345678"]), updated_at=NOW)
    await feed.send(CONTACTS_EVENTS.name, ("us", changed))
    assert (await zones())["us"] is None, "a changed number is read again"
    await job.run(pool, FakePublisher())
    assert (await zones())["us"] == ["Europe/Berlin"]
