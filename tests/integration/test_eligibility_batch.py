"""Eligibility at dispatch scale against PostgreSQL: the batch route answers each question as
the single route does, and the state snapshot answers as folding the whole history."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from hypothesis import given, settings

from consent.bootstrap import DEFINITION as CONSENT
from consent.projections import MergedConsentState
from consentledger.store import load_state
from dialog_schemas import Event
from dialog_schemas.catalog import CONSENT_EVENTS, CONTACTS_EVENTS
from dialog_schemas.common import Channel, CustomerKind, Purpose
from dialog_schemas.consent import (
    ConsentGranted,
    ConsentRevoked,
    ObjectionRecorded,
)
from dialog_schemas.contacts import ContactErased, ContactRegistered, ContactsMerged
from dialogkit.codec import encode
from dialogkit.deadletters import DeadLetters
from dialogkit.projection import ProjectionRunner
from dialogkit.publishing import FakePublisher
from dialogkit.records import SourceRecord
from tests.consent_histories import histories
from tests.integration.test_consent_projection import EXPIRY, T0, evidence, runners, wrap
from tests.integration.test_merged_customers import api_on
from tests.support import AUTH

DAY = timedelta(days=1)


class Feed:
    """Hands records to the consent service's projections, one partition per topic."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.by_topic = runners(pool)
        dead = DeadLetters(FakePublisher(), "consent.deadletter.v1", "test")
        self.merges = ProjectionRunner(pool, MergedConsentState(FakePublisher(), EXPIRY), dead)
        self.offsets = itertools.count()

    async def send(
        self, topic: str, customer: str, events: list[Event], at: datetime, partition: int = 0
    ) -> None:
        records = [
            SourceRecord(topic, partition, next(self.offsets), customer.encode(), encode(e))
            for e in wrap(customer, events, at)
        ]
        await self.by_topic[topic].handle(records)
        if topic == CONTACTS_EVENTS.name:
            await self.merges.handle(records)


def registered(kind: CustomerKind = CustomerKind.CONSUMER) -> ContactRegistered:
    return ContactRegistered(kind=kind, name="Kim Doe", registered_at=T0)


def phone_grant(consent_id: uuid.UUID, at: datetime) -> ConsentGranted:
    return ConsentGranted(
        consent_id=consent_id,
        channel=Channel.PHONE,
        purpose=Purpose.MARKETING,
        evidence=evidence(at),
        pending_confirmation=False,
    )


async def population(pool: asyncpg.Pool) -> list[str]:
    """Consent, none, withdrawn, objection, erased, merged, business, and an unknown id."""
    feed = Feed(pool)
    tag = uuid.uuid4().hex[:6]
    names = ["consent", "none", "withdrawn", "objection", "erased", "dup", "business"]
    ids = {n: f"{n}-{tag}" for n in names}
    for name, customer in ids.items():
        kind = CustomerKind.BUSINESS if name == "business" else CustomerKind.CONSUMER
        await feed.send(CONTACTS_EVENTS.name, customer, [registered(kind)], T0)
    for name in ("consent", "withdrawn", "objection", "erased", "dup"):
        grant = phone_grant(uuid.uuid4(), T0 + DAY)
        await feed.send(CONSENT_EVENTS.name, ids[name], [grant], T0 + DAY)
        if name == "withdrawn":
            revoked = ConsentRevoked(
                consent_id=grant.consent_id,
                channel=Channel.PHONE,
                purpose=Purpose.MARKETING,
                revoked_at=T0 + 3 * DAY,
                via_channel=Channel.LETTER,
            )
            await feed.send(CONSENT_EVENTS.name, ids[name], [revoked], T0 + 3 * DAY)
    objection = ObjectionRecorded(
        objection_id=uuid.uuid4(), objected_at=T0 + 3 * DAY, via_channel=Channel.PHONE
    )
    await feed.send(CONSENT_EVENTS.name, ids["objection"], [objection], T0 + 3 * DAY)
    erasure = ContactErased(erased_at=T0 + 3 * DAY, request_id=uuid.uuid4())
    await feed.send(CONTACTS_EVENTS.name, ids["erased"], [erasure], T0 + 3 * DAY)
    merge = ContactsMerged(merged_customer_id=ids["dup"], merged_at=T0 + 3 * DAY)
    await feed.send(CONTACTS_EVENTS.name, ids["consent"], [merge], T0 + 3 * DAY)
    return [*ids.values(), f"unknown-{tag}"]


async def test_every_batch_answer_is_the_single_routes_answer(new_database, pool_for) -> None:
    pool = await pool_for(await new_database("consent"))
    customers = await population(pool)
    kept = await pool.fetch("SELECT customer_id FROM consent_snapshots ORDER BY 1")
    assert sorted(r["customer_id"] for r in kept) == sorted(
        customers[n]
        for n in (2, 3)  # withdrawn, objection: not erased, in no merge
    ), "no snapshot of an erased customer (contact points) or of one in a merge"
    times: list[str | None] = [None, *((T0 + n * DAY).isoformat() for n in (0, 2, 4))]
    questions: list[dict[str, Any]] = [
        {"customer_id": c, "channel": ch.value, "purpose": p.value} | ({"at": at} if at else {})
        for c in customers
        for ch in (Channel.PHONE, Channel.EMAIL, Channel.LETTER)
        for p in (Purpose.MARKETING, Purpose.SERVICE)
        for at in times
    ]
    async with api_on(CONSENT, pool) as (client, _):
        response = await client.post(
            "/v1/eligibility/batch", json={"questions": questions}, headers=AUTH
        )
        assert response.status_code == 200
        answers = response.json()["answers"]
        assert len(answers) == len(questions)
        for question, answer in zip(questions, answers, strict=True):
            params = {k: v for k, v in question.items() if k != "customer_id"}
            if "at" not in params:  # the single route asked afterwards: the same "now" answer
                params["at"] = answer["at"]
            single = await client.get(
                f"/v1/customers/{question['customer_id']}/eligibility", params=params, headers=AUTH
            )
            problem = answer["problem"]
            if single.status_code == 200:
                assert problem is None, question
                assert {k: v for k, v in answer.items() if k != "problem"} == single.json()
            else:
                body = single.json()
                assert not answer["allowed"]
                assert problem["status"] == body["status"] == single.status_code
                assert problem["title"] == body["title"]
                assert problem.get("merged_into") == body.get("merged_into")
    seen = {(a["problem"] or {}).get("status") for a in answers}
    assert seen == {None, 404, 410}
    reasons = {a["blocking_reason"] for a in answers}
    assert {"erased", "objection", "revoked", "no_consent"} <= reasons
    bases = {a["legal_basis"] for a in answers}
    assert {"express_consent", "presumed_business_consent", "not_advertising"} <= bases


async def test_the_snapshot_answers_as_folding_the_whole_history(new_database, pool_for) -> None:
    generated: list[list[Event]] = []

    @settings(max_examples=25, database=None, deadline=None)
    @given(histories(max_size=20))
    def collect(history: list[Event]) -> None:
        generated.append(history)

    collect()
    pool = await pool_for(await new_database("consent"))
    feed = Feed(pool)
    customers = []
    for n, history in enumerate(generated):
        customer = f"generated-{n}"
        customers.append(customer)
        await feed.send(CONTACTS_EVENTS.name, customer, [registered()], T0)
        for part in (history[: len(history) // 2], history[len(history) // 2 :]):
            if part:  # two batches: the second folds on the first's snapshot
                await feed.send(CONSENT_EVENTS.name, customer, part, T0)
    kept = await pool.fetchval("SELECT count(*) FROM consent_snapshots")
    assert kept == sum(1 for h in generated if h)
    asked: list[datetime | None] = [None, *(T0 + n * 100 * DAY for n in range(11))]
    with_snapshot = {(c, at): await load_state(pool, c, at) for c in customers for at in asked}
    await pool.execute("DELETE FROM consent_snapshots")
    for (customer, at), state in with_snapshot.items():
        assert state == await load_state(pool, customer, at), (customer, at)


async def test_a_history_in_two_partitions_is_folded_whole(new_database, pool_for) -> None:
    """Rows after a snapshot's position would miss another partition's: no snapshot is kept."""
    pool = await pool_for(await new_database("consent"))
    feed = Feed(pool)
    customer = f"moved-{uuid.uuid4().hex[:6]}"
    await feed.send(CONTACTS_EVENTS.name, customer, [registered()], T0)
    first, second = uuid.uuid4(), uuid.uuid4()
    await feed.send(CONSENT_EVENTS.name, customer, [phone_grant(first, T0 + DAY)], T0 + DAY, 3)
    assert await pool.fetchval("SELECT partition FROM consent_snapshots") == 3
    await feed.send(CONSENT_EVENTS.name, customer, [phone_grant(second, T0 + DAY)], T0, 1)
    assert await pool.fetchval("SELECT count(*) FROM consent_snapshots") == 0
    state = await load_state(pool, customer)
    assert state is not None
    assert set(state.consents) == {first, second}
