"""Triggered campaigns on the real broker and database: events on the contacts, interactions
and campaigns topics are applied by the worker's projections (by replay), which plan the
triggered outreach in their transaction; the dispatcher decides it with a clock set to moments
inside and outside calling hours. Also: the cool-down holds when two transactions fire for one
customer at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from campaigns.barrier import ReadBarrier
from campaigns.bootstrap import CONSENT_VIEW, projections
from campaigns.calling_hours import CallingHours, next_open
from campaigns.config import Settings
from campaigns.dispatch import Policy
from campaigns.dispatcher import Dispatcher
from campaigns.outbox import OutboxRelay
from campaigns.triggered import TriggerPlanner
from campaigns.triggers import Fired, triggered_outreach_id
from dialog_schemas import Envelope, Event
from dialog_schemas.campaigns import (
    BehaviouralSignalRecorded,
    CampaignCreated,
    CampaignDefinition,
    CampaignLaunched,
    SignalKind,
    Trigger,
    TriggerKind,
)
from dialog_schemas.catalog import (
    CAMPAIGNS_EVENTS,
    CONSENT_EVENTS,
    CONTACTS_EVENTS,
    INTERACTIONS_EVENTS,
)
from dialog_schemas.common import Channel, CustomerKind, Direction, Purpose
from dialog_schemas.consent import CaptureMedium, ConsentGranted, Evidence
from dialog_schemas.contacts import (
    Address,
    CancellationRetracted,
    ContactRegistered,
    ContractCancelled,
    ContractStarted,
    ProductPurchased,
    SalesChannel,
)
from dialog_schemas.interactions import SurveyAnswer, TouchpointRecorded
from dialogkit.codec import decode_envelope
from dialogkit.deadletters import DeadLetters
from dialogkit.offsets import KafkaTopicEnds
from dialogkit.pii import InMemoryKeyStore
from dialogkit.publishing import KafkaPublisher
from dialogkit.replay import replay
from tests.support import eventually, read_topic

NOW = datetime.now(UTC).replace(microsecond=0)
BERLIN = ZoneInfo("Europe/Berlin")
HOURS = CallingHours()


def closed_after(moment: datetime) -> datetime:
    """The first full hour after `moment` outside calling hours in Berlin."""
    at = moment.replace(minute=0, second=0) + timedelta(hours=1)
    while next_open(at, (BERLIN,), HOURS) == at:
        at += timedelta(hours=1)
    return at


NIGHT = closed_after(NOW + timedelta(hours=3))
DAY = next_open(NIGHT, (BERLIN,), HOURS) or NIGHT


def wrap(event: Event, subject: str, at: datetime = NOW) -> Envelope:
    return Envelope.wrap(event, id=uuid.uuid4(), source="/test", subject=subject, time=at)


def registered() -> ContactRegistered:
    return ContactRegistered(
        kind=CustomerKind.CONSUMER,
        name="Kim",
        phone_numbers=["+493012345678"],
        addresses=[Address(street="Hauptstr. 5", postal_code="10115", city="Berlin", country="DE")],
        time_zone="Europe/Berlin",
        registered_at=NOW - timedelta(days=400),
    )


def granted() -> ConsentGranted:
    evidence = Evidence(
        medium=CaptureMedium.WEB_FORM,
        wording_version="v1",
        wording_sha256="ab" * 32,
        captured_at=NOW - timedelta(days=10),
        source_ref="form-1",
        actor="web-shop",
    )
    return ConsentGranted(
        consent_id=uuid.uuid4(),
        channel=Channel.PHONE,
        purpose=Purpose.MARKETING,
        evidence=evidence,
        pending_confirmation=False,
    )


def contract(number: str, category: str) -> ContractStarted:
    return ContractStarted(
        contract_id=number,
        product_id=f"p-{category}",
        category=category,
        started_at=NOW - timedelta(days=300),
        sales_channel=SalesChannel.STORE,
    )


def cancelled(number: str, at: datetime = NOW) -> ContractCancelled:
    return ContractCancelled(contract_id=number, cancelled_at=at)


def bought(number: str, category: str, at: datetime = NOW) -> ProductPurchased:
    return ProductPurchased(
        purchase_id=number,
        product_id=f"p-{category}",
        product_name=category,
        category=category,
        purchased_at=at,
        sales_channel=SalesChannel.WEB_SHOP,
    )


class Stack:
    """The worker's projections and dispatcher on one database, campaigns made by events."""

    def __init__(self, pool: asyncpg.Pool, publisher: KafkaPublisher, bootstrap: str) -> None:
        self.pool, self.publisher, self.bootstrap = pool, publisher, bootstrap
        self.tag = uuid.uuid4().hex[:8]
        self.keys = InMemoryKeyStore()
        self.ends = KafkaTopicEnds(bootstrap)
        self.relay = OutboxRelay(self.keys)
        self.barrier = ReadBarrier(self.ends, CONSENT_VIEW, timeout_s=60)

    def id(self, name: str) -> str:
        return f"{name}-{self.tag}"

    async def publish(self, topic: str, *envelopes: Envelope) -> None:
        await self.publisher.publish(topic, list(envelopes))

    async def catch_up(self) -> None:
        dead = DeadLetters(self.publisher, "campaigns.deadletter.v1", "test")
        await replay(self.pool, projections(Settings(), self.publisher), dead, self.bootstrap)

    async def customer(self, name: str, *, consent: bool = True) -> str:
        customer = self.id(name)
        await self.keys.key_for(customer, create=True)
        await self.publish(CONTACTS_EVENTS.name, wrap(registered(), customer))
        if consent:
            await self.publish(CONSENT_EVENTS.name, wrap(granted(), customer))
        return customer

    async def campaign(self, name: str, trigger: Trigger, **definition: Any) -> str:
        campaign = self.id(name)
        fields = {"name": name, "channel": Channel.PHONE, "purpose": Purpose.RETENTION}
        made = CampaignDefinition.model_validate(fields | definition | {"trigger": trigger})
        created = CampaignCreated(
            campaign_id=campaign,
            name=made.name,
            channel=made.channel,
            purpose=made.purpose,
            product_category=made.product_category,
            created_at=NOW - timedelta(hours=1),
            definition=made,
        )
        launched = CampaignLaunched(campaign_id=campaign, launched_at=NOW - timedelta(hours=1))
        await self.publish(CAMPAIGNS_EVENTS.name, wrap(created, campaign), wrap(launched, campaign))

        async def status() -> str | None:
            await self.catch_up()
            found: str | None = await self.pool.fetchval(
                "SELECT status FROM campaigns WHERE campaign_id = $1", campaign
            )
            return found

        # running before the events that trigger it are applied
        await eventually(status, lambda found: found == "running", timeout=30)
        return campaign

    async def dispatch(self, at: datetime) -> None:
        """Decide what is due `at` (what was published is applied: `catch_up`), and apply the
        decisions."""
        settings = Settings()
        dispatcher = Dispatcher(
            self.barrier,
            self.relay,
            Policy(calling_hours=HOURS, consent_expiry=settings.consent_expiry),
            settings.frequency_caps,
            default_zone="Europe/Berlin",
            clock=lambda: at,
        )
        await dispatcher.run(self.pool, self.publisher)
        await self.catch_up()

    async def due(self, campaign: str) -> dict[str, datetime]:
        rows = await self.pool.fetch(
            "SELECT customer_id, due_at FROM outreach_due WHERE campaign_id = $1", campaign
        )
        return {r["customer_id"]: r["due_at"] for r in rows}

    async def outcomes(self, campaign: str) -> dict[str, tuple[Any, ...]]:
        rows = await self.pool.fetch(
            "SELECT customer_id, channel, coalesce(decision, CASE WHEN cancelled_at IS NOT NULL"
            " THEN 'cancelled' WHEN deferred_until IS NOT NULL THEN 'deferred' END) AS outcome,"
            " coalesce(block_reason, cancel_reason, legal_basis, deferral_reason) AS reason"
            " FROM outreach WHERE campaign_id = $1",
            campaign,
        )
        return {r["customer_id"]: (r["channel"], r["outcome"], r["reason"]) for r in rows}


@pytest.fixture
async def stack(new_database, pool_for, publisher, platform_topics_ready) -> AsyncIterator[Stack]:
    made = Stack(await pool_for(await new_database("campaigns")), publisher, platform_topics_ready)
    yield made
    await made.ends.stop()


async def test_a_cancellation_plans_one_retention_call_in_calling_hours_unless_withdrawn(
    stack: Stack,
) -> None:
    retention = await stack.campaign(
        "retention",
        Trigger(on=TriggerKind.CONTRACT_CANCELLED, categories=["mobile"], delay_s=7200),
        purpose=Purpose.RETENTION,
    )
    kim, tv, withdrawn = [await stack.customer(n) for n in ("kim", "tv", "withdrawn")]
    await stack.publish(
        CONTACTS_EVENTS.name,
        wrap(contract("k-1", "mobile"), kim),
        wrap(contract("k-2", "mobile"), kim),
        wrap(cancelled("k-1"), kim),
        wrap(cancelled("k-2", NOW + timedelta(minutes=1)), kim),  # within the cool-down
        wrap(contract("k-3", "tv"), tv),
        wrap(cancelled("k-3"), tv),  # not a category the campaign names
        wrap(contract("k-4", "mobile"), withdrawn),
        wrap(cancelled("k-4"), withdrawn),
    )
    await stack.catch_up()
    due = await stack.due(retention)
    assert due == {kim: NOW + timedelta(hours=2), withdrawn: NOW + timedelta(hours=2)}
    await stack.catch_up()  # applied again: nothing more
    assert await stack.due(retention) == due

    retracted = CancellationRetracted(contract_id="k-4", withdrawn_at=NOW + timedelta(minutes=5))
    await stack.publish(CONTACTS_EVENTS.name, wrap(retracted, withdrawn))
    await stack.catch_up()
    await stack.dispatch(NIGHT)
    assert await stack.outcomes(retention) == {
        kim: ("phone", "deferred", "outside_calling_hours"),
        withdrawn: ("phone", "cancelled", "trigger_withdrawn"),
    }
    await stack.dispatch(DAY)
    outcomes = await stack.outcomes(retention)
    assert outcomes[kim] == ("phone", "authorized", "express_consent")

    planned = [
        decode_envelope(r.value, tuple(r.headers))
        for r in await read_topic(stack.bootstrap, CAMPAIGNS_EVENTS.name)
    ]
    triggers = [
        e.data["trigger"]
        for e in planned
        if e.type == "OutreachPlanned" and e.data["campaign_id"] == retention
    ]
    assert sorted(t["kind"] for t in triggers) == ["contract_cancelled"] * 2
    assert len({t["event_id"] for t in triggers}) == 2


async def test_a_purchase_plans_a_cross_sell_after_the_delay_unless_the_offer_was_bought(
    stack: Stack,
) -> None:
    cross_sell = await stack.campaign(
        "cross-sell",
        Trigger(on=TriggerKind.PRODUCT_PURCHASED, categories=["home-internet"], delay_s=3600),
        channel=Channel.LETTER,
        purpose=Purpose.CROSS_SELL,
        product_category="mobile",
    )
    buyer, both = [await stack.customer(n, consent=False) for n in ("buyer", "both")]
    await stack.publish(
        CONTACTS_EVENTS.name,
        wrap(bought("o-1", "home-internet"), buyer),
        wrap(bought("o-2", "home-internet"), both),
        wrap(bought("o-3", "mobile", NOW + timedelta(minutes=10)), both),
    )
    await stack.catch_up()
    assert await stack.due(cross_sell) == {
        buyer: NOW + timedelta(hours=1),
        both: NOW + timedelta(hours=1),
    }
    await stack.dispatch(NOW + timedelta(minutes=30))  # the delay has not passed
    assert set((await stack.outcomes(cross_sell)).values()) == {("letter", None, None)}
    await stack.dispatch(NOW + timedelta(hours=1))
    assert await stack.outcomes(cross_sell) == {
        buyer: ("letter", "authorized", "letter_without_objection"),
        both: ("letter", "cancelled", "already_purchased"),
    }


async def test_a_web_signal_plans_a_letter_and_a_survey_answer_one_thank_you(
    stack: Stack,
) -> None:
    letters = await stack.campaign(
        "letters",
        Trigger(on=TriggerKind.BEHAVIOURAL_SIGNAL, signals=[SignalKind.CART_ABANDONED]),
        channel=Channel.LETTER,
        purpose=Purpose.MARKETING,
    )
    thanks = await stack.campaign(
        "thanks",
        Trigger(on=TriggerKind.SURVEY_ANSWERED, survey_campaign_id=stack.id("survey")),
        channel=Channel.EMAIL,
        purpose=Purpose.SERVICE,
    )
    shopper, visitor, answered = [
        await stack.customer(n, consent=False) for n in ("shopper", "visitor", "answered")
    ]

    def signal(kind: SignalKind, number: str) -> BehaviouralSignalRecorded:
        return BehaviouralSignalRecorded(
            signal_id=number, signal=kind, category="mobile", occurred_at=NOW
        )

    def answer(number: str, survey: SurveyAnswer | None) -> TouchpointRecorded:
        return TouchpointRecorded(
            touchpoint_id=number,
            channel=Channel.SMS,
            direction=Direction.INBOUND,
            occurred_at=NOW + timedelta(minutes=int(number[-1])),
            campaign_id=stack.id("survey"),
            survey=survey,
            reported_by="sms-gateway",
        )

    await stack.publish(
        CAMPAIGNS_EVENTS.name,
        wrap(signal(SignalKind.CART_ABANDONED, "s-1"), shopper),
        wrap(signal(SignalKind.PRODUCT_PAGE_VISIT, "s-2"), visitor),
    )
    await stack.publish(
        INTERACTIONS_EVENTS.name,
        wrap(answer("t-1", None), answered),  # not a survey answer
        wrap(answer("t-2", SurveyAnswer(score=9)), answered),
        wrap(answer("t-3", SurveyAnswer(score=8)), answered),  # answered again: one thank-you
    )
    await stack.catch_up()
    await stack.dispatch(NOW + timedelta(minutes=5))
    assert await stack.outcomes(letters) == {
        shopper: ("letter", "authorized", "letter_without_objection")
    }
    assert await stack.outcomes(thanks) == {answered: ("sms", "authorized", "not_advertising")}


async def test_the_cool_down_holds_when_two_transactions_fire_for_one_customer(
    stack: Stack,
) -> None:
    trigger = Trigger(on=TriggerKind.CONTRACT_CANCELLED, categories=[stack.id("race")])
    campaign = await stack.campaign("race", trigger)
    planner = TriggerPlanner(timedelta(days=30))
    customer = stack.id("racer")

    def fired(at: datetime) -> Fired:
        return Fired(customer, TriggerKind.CONTRACT_CANCELLED, uuid.uuid4(), at, stack.id("race"))

    async def waiting() -> int:
        return int(
            await stack.pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock'"
            )
        )

    first, second = fired(NOW), fired(NOW + timedelta(minutes=1))
    async with stack.pool.acquire() as one, stack.pool.acquire() as two:
        t1, t2 = one.transaction(), two.transaction()
        await t1.start()
        await t2.start()
        assert await planner.plan(one, [first]) == 1
        racing = asyncio.create_task(planner.plan(two, [second]))
        await eventually(waiting, lambda n: n == 1, timeout=30, interval=0.02)
        await t1.commit()
        assert await racing == 0
        await t2.commit()
    assert list(await stack.due(campaign)) == [customer]
    later = fired(NOW + timedelta(days=30))  # the cool-down has passed
    async with stack.pool.acquire() as connection, connection.transaction():
        assert await planner.plan(connection, [later]) == 1
    rows = await stack.pool.fetch(
        "SELECT outreach_id FROM outreach_due WHERE campaign_id = $1", campaign
    )
    ids = {r["outreach_id"] for r in rows}
    assert ids == {
        triggered_outreach_id(campaign, customer, first.event_id),
        triggered_outreach_id(campaign, customer, later.event_id),
    }
