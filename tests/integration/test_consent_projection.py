"""The consent read model on the real broker and database: rebuilt identically, crash-safe."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from consent.domain import (
    ConfirmConsent,
    GrantConsent,
    RecordObjection,
    RecordUse,
    WithdrawConsent,
    confirm,
    grant,
    object_to_marketing,
    record_use,
    withdraw,
)
from consent.expiry import ExpiryJob
from consent.projections import ConsentStateProjection, snapshot
from consentledger.domain import state_as_of
from consentledger.effective import effective_at
from consentledger.eligibility import eligibility
from consentledger.projections import CustomerFactsProjection
from consentledger.store import histories, load_state
from dialog_schemas import Envelope, Event
from dialog_schemas.catalog import CONSENT_EVENTS, CONSENT_STATE, CONTACTS_EVENTS
from dialog_schemas.common import Channel, CustomerKind, Purpose
from dialog_schemas.consent import CaptureMedium, Evidence
from dialog_schemas.contacts import ContactRegistered, ProductPurchased, SalesChannel
from dialogkit.codec import encode
from dialogkit.deadletters import DeadLetters
from dialogkit.projection import Projection, ProjectionRunner
from dialogkit.publishing import FakePublisher, KafkaPublisher
from dialogkit.records import SourceRecord
from tests.support import AUTH, eventually, read_topic, service_process

T0 = datetime(2026, 6, 1, 9, tzinfo=UTC)
EXPIRY = timedelta(days=730)


def evidence(at: datetime) -> Evidence:
    return Evidence(
        medium=CaptureMedium.PHONE_CALL,
        wording_version="call-script-4",
        wording_sha256="ef" * 32,
        captured_at=at,
        source_ref="recording-77",
        actor="agent-3",
    )


def wrap(customer: str, events: Sequence[Event], at: datetime) -> list[Envelope]:
    return [
        Envelope.wrap(e, id=uuid.uuid4(), source="/test", subject=customer, time=at) for e in events
    ]


def scripted_history(customer: str, kind: CustomerKind) -> list[tuple[str, Envelope]]:
    """A realistic life of consents: grants, DOI, uses, a withdrawal, an objection and its lift."""
    out: list[tuple[str, Envelope]] = []
    registered = ContactRegistered(kind=kind, name="Alex Roe", registered_at=T0)
    purchase = ProductPurchased(
        purchase_id=f"o-{customer}",
        product_id="p",
        product_name="Fiber",
        category="home-internet",
        purchased_at=T0,
        sales_channel=SalesChannel.WEB_SHOP,
        email_address="alex@example.org",
        objection_notice_given=True,
    )
    out += [(CONTACTS_EVENTS.name, e) for e in wrap(customer, [registered, purchase], T0)]
    history: list[Event] = [registered, purchase]

    def run(events: list[Event], at: datetime) -> None:
        history.extend(events)
        out.extend((CONSENT_EVENTS.name, e) for e in wrap(customer, events, at))

    def state():  # type: ignore[no-untyped-def]
        return state_as_of(history)

    phone, email = uuid.uuid4(), uuid.uuid4()
    at = T0 + timedelta(hours=1)
    run(
        grant(
            state(),
            GrantConsent(channel=Channel.PHONE, purpose=Purpose.MARKETING, evidence=evidence(at)),
            consent_id=phone,
            now=at,
        ),
        at,
    )
    run(
        grant(
            state(),
            GrantConsent(
                channel=Channel.EMAIL,
                purpose=Purpose.SURVEYS,
                evidence=evidence(at),
                contact_point="alex@example.org",
            ),
            consent_id=email,
            now=at,
            issued_token="doi-token-of-alex-9",
        ),
        at,
    )
    at += timedelta(hours=1)
    confirmation = ConfirmConsent(source_ref="doi-token-of-alex-9", confirmed_at=at)
    run(
        confirm(
            state(), email, confirmation, now=at, expiry=EXPIRY, confirm_within=timedelta(days=30)
        ),
        at,
    )
    for n in range(3):
        at += timedelta(days=1)
        run(
            record_use(
                state(),
                phone,
                RecordUse(reference=f"outreach-{n}", purpose=Purpose.MARKETING),
                now=at,
                expiry=EXPIRY,
            ),
            at,
        )
    at += timedelta(days=1)
    run(
        withdraw(
            state(),
            WithdrawConsent(via_channel=Channel.LETTER, channel=Channel.EMAIL),
            now=at,
            expiry=EXPIRY,
        ),
        at,
    )
    at += timedelta(days=1)
    run(
        object_to_marketing(
            state(), RecordObjection(via_channel=Channel.PHONE), objection_id=uuid.uuid4(), now=at
        ),
        at,
    )
    at += timedelta(days=1)
    lift = GrantConsent(
        channel=Channel.PHONE,
        purpose=Purpose.RETENTION,
        evidence=evidence(at),
        lifts_objection=True,
    )
    run(grant(state(), lift, consent_id=uuid.uuid4(), now=at), at)
    return out


def runners(pool: asyncpg.Pool) -> dict[str, ProjectionRunner]:
    dead = DeadLetters(FakePublisher(), "consent.deadletter.v1", "test")
    projections: list[Projection] = [
        ConsentStateProjection(FakePublisher(), EXPIRY),
        CustomerFactsProjection("consent.customer-facts"),
    ]
    return {p.source.name: ProjectionRunner(pool, p, dead) for p in projections}


def source(record: Any) -> SourceRecord:
    return SourceRecord(
        record.topic,
        record.partition,
        record.offset,
        record.key,
        record.value,
        tuple(record.headers),
    )


async def read_model(pool: asyncpg.Pool, customers: list[str]) -> dict[str, Any]:
    """Everything the consent read model holds about these customers, comparable across builds."""
    tables = {
        "history": "SELECT event_id, type, effective_at, data FROM consent_history"
        " WHERE customer_id = ANY($1) ORDER BY customer_id, partition, kafka_offset",
        "state": "SELECT customer_id, as_of, state FROM consent_state"
        " WHERE customer_id = ANY($1) ORDER BY customer_id",
        "facts": "SELECT * FROM customer_facts WHERE customer_id = ANY($1) ORDER BY customer_id",
        "purchases": "SELECT * FROM customer_purchases WHERE customer_id = ANY($1)"
        " ORDER BY event_id",
    }
    return {
        name: [dict(r) for r in await pool.fetch(sql, customers)] for name, sql in tables.items()
    }


async def test_a_replay_from_offset_zero_into_an_empty_read_model_gives_the_same_state(
    new_database, pool_for, publisher: KafkaPublisher, platform_topics_ready: str
) -> None:
    customers = [f"replay-{uuid.uuid4().hex[:10]}-{k.value}" for k in CustomerKind]
    live = await pool_for(await new_database("consent"))
    live_runners = runners(live)
    for customer, kind in zip(customers, CustomerKind, strict=True):
        for topic, envelope in scripted_history(customer, kind):
            await publisher.publish(topic, [envelope])
    # live: the worker's way, in the order the records arrive, a few at a time
    for topic, runner in live_runners.items():
        records = [source(r) for r in await read_topic(platform_topics_ready, topic)]
        for start in range(0, len(records), 7):
            await runner.handle(records[start : start + 7])

    rebuilt = await pool_for(await new_database("consent"))
    for topic, runner in runners(rebuilt).items():
        await runner.handle([source(r) for r in await read_topic(platform_topics_ready, topic)])

    before = await read_model(live, customers)
    assert len(before["history"]) == 2 * 10
    assert before == await read_model(rebuilt, customers)
    for customer in customers:
        for at in (T0 + timedelta(hours=3), T0 + timedelta(days=5), T0 + timedelta(days=8)):
            for channel in Channel:
                for purpose in (Purpose.MARKETING, Purpose.SURVEYS, Purpose.RETENTION):
                    a_state = await load_state(live, customer, at)
                    b_state = await load_state(rebuilt, customer, at)
                    a = eligibility(a_state, channel, purpose, at, expiry=EXPIRY)  # type: ignore[arg-type]
                    b = eligibility(b_state, channel, purpose, at, expiry=EXPIRY)  # type: ignore[arg-type]
                    assert a == b


async def test_a_worker_killed_mid_stream_loses_nothing_and_applies_nothing_twice(
    new_database, pool_for, publisher: KafkaPublisher, platform_topics_ready: str, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    customers = [f"kill-{run}-{n}" for n in range(50)]
    consents: dict[str, uuid.UUID] = {}
    for customer in customers:
        registered = ContactRegistered(kind=CustomerKind.CONSUMER, name="N", registered_at=T0)
        await publisher.publish(CONTACTS_EVENTS.name, wrap(customer, [registered], T0))
        consents[customer] = uuid.uuid4()
        at = T0 + timedelta(minutes=1)
        command = GrantConsent(
            channel=Channel.PHONE, purpose=Purpose.MARKETING, evidence=evidence(at)
        )
        events: list[Event] = grant(state_as_of([]), command, consent_id=consents[customer], now=at)
        state = state_as_of(events)
        for n in range(59):
            used = record_use(
                state,
                consents[customer],
                RecordUse(reference=f"o-{n}", purpose=Purpose.MARKETING),
                now=at + timedelta(hours=n),
                expiry=EXPIRY,
            )
            events += used
        await publisher.publish(CONSENT_EVENTS.name, wrap(customer, events, at))
    total = 50 * 60

    dsn = await new_database("consent")
    pool = await pool_for(dsn)

    async def applied() -> int:
        count: int = await pool.fetchval(
            "SELECT count(*) FROM consent_history WHERE customer_id = ANY($1)", customers
        )
        return count

    common = {"bootstrap": platform_topics_ready, "dsn": dsn}
    small_batches = {"CONSENT_BATCH_MAX": "40"}
    with service_process(
        "consent", "worker", logs=tmp_path / "w1.log", extra_env=small_batches, **common
    ) as (worker, _):
        halfway = await eventually(applied, lambda n: n >= 400, timeout=90, interval=0.05)
        worker.process.kill()  # SIGKILL: no shutdown, no offset commit
        worker.process.wait(10)
    assert halfway < total, "killed while the stream was still being applied"
    with service_process("consent", "worker", logs=tmp_path / "w2.log", **common) as (_, web):
        await eventually(applied, lambda n: n >= total, timeout=120, interval=0.5)
        last_use = T0 + timedelta(minutes=1, hours=58)
        await eventually(
            lambda: latest_snapshots(platform_topics_ready, set(customers)),
            lambda found: (
                len(found) == len(customers)
                and all(last_used(s) == last_use for s in found.values())
            ),
            timeout=60,
            interval=1,
        )
        stored_states = {
            r["customer_id"]: orjson.loads(r["state"])
            for r in await pool.fetch(
                "SELECT customer_id, state FROM consent_state WHERE customer_id = ANY($1)",
                customers,
            )
        }
        async with httpx.AsyncClient(base_url=web, headers=AUTH) as client:
            for customer in customers:  # the in-stream table holds what the read model holds
                entry = await eventually(
                    lambda c=customer: client.get(f"/tables/consent-state/{c}"),  # type: ignore[misc]
                    lambda r, c=customer: (
                        r.status_code == 200  # type: ignore[misc]
                        and r.json()["data"] == stored_states[c]
                    ),
                    timeout=30,
                )
                assert entry.json()["subject"] == customer
    assert await applied() == total
    found = await histories(pool, customers)
    for customer in customers:
        assert [e.event_type for e in found[customer]].count("ConsentUsed") == 59
        stored = await pool.fetchval(
            "SELECT state FROM consent_state WHERE customer_id = $1", customer
        )
        history = found[customer]  # the whole history folded again: what the snapshot holds
        as_of = max(t for t in map(effective_at, history) if t is not None)
        expected = snapshot(state_as_of(history), as_of, EXPIRY)
        assert orjson.loads(stored) == expected.model_dump(mode="json")


def last_used(state: dict[str, Any]) -> datetime | None:
    [consent] = state["consents"]
    value = consent["last_used_at"]
    return datetime.fromisoformat(value) if value else None


async def latest_snapshots(bootstrap: str, customers: set[str]) -> dict[str, dict[str, Any]]:
    """The last state per customer on the compacted state topic."""
    latest: dict[str, dict[str, Any]] = {}
    for record in await read_topic(bootstrap, CONSENT_STATE.name):
        key = (record.key or b"").decode()
        if key in customers:
            latest[key] = orjson.loads(record.value)["data"]
    return latest


async def test_expiries_that_fell_due_are_recorded_once(
    new_database, pool_for, platform_topics_ready: str
) -> None:
    customer = f"expiry-{uuid.uuid4().hex[:10]}"
    pool = await pool_for(await new_database("consent"))
    registered = ContactRegistered(kind=CustomerKind.CONSUMER, name="E", registered_at=T0)
    old, fresh = uuid.uuid4(), uuid.uuid4()
    events: list[Event] = []
    for consent_id, at in ((old, T0), (fresh, T0 + timedelta(days=700))):
        command = GrantConsent(
            channel=Channel.PHONE, purpose=Purpose.MARKETING, evidence=evidence(at)
        )
        events += grant(state_as_of(events), command, consent_id=consent_id, now=at)
    records = [
        SourceRecord(topic, 0, n, customer.encode(), encode(e))
        for n, (topic, e) in enumerate(
            [(CONTACTS_EVENTS.name, wrap(customer, [registered], T0)[0])]
            + [(CONSENT_EVENTS.name, e) for e in wrap(customer, events, T0)]
        )
    ]
    by_topic = runners(pool)
    for record in records:
        await by_topic[record.topic].handle([record])

    job = ExpiryJob(EXPIRY, interval_s=60)
    published = FakePublisher()
    now = T0 + EXPIRY + timedelta(days=1)
    assert await job.run(pool, published, now) == 1
    [expired] = published.sent[CONSENT_EVENTS.name]
    assert (expired.type, expired.data["consent_id"]) == ("ConsentExpired", str(old))
    again = FakePublisher()
    await job.run(pool, again, now)
    assert again.sent[CONSENT_EVENTS.name][0].id == expired.id, "the same expiry, the same id"

    offset = len(records)
    await by_topic[CONSENT_EVENTS.name].handle(
        [SourceRecord(CONSENT_EVENTS.name, 0, offset, customer.encode(), encode(expired))]
    )
    assert await job.run(pool, FakePublisher(), now) == 0, "recorded expiries are not repeated"
    state = await load_state(pool, customer)
    assert state is not None
    assert state.consents[old].expired_at == T0 + EXPIRY
    assert state.consents[fresh].expired_at is None


async def test_a_customer_the_expiry_job_cannot_read_does_not_stop_the_others(
    new_database, pool_for, platform_topics_ready: str
) -> None:
    """A state row whose consents hold no readable time is decided from the ledger; a ledger
    the job cannot fold is recorded with its reason and counted, and the others expire."""
    from dialogkit import metrics
    from dialogkit.jobs import JOB_RECORD_FAILURES_TOTAL

    pool = await pool_for(await new_database("consent"))
    by_topic = runners(pool)
    run = uuid.uuid4().hex[:8]
    customers = {name: f"expiry-{name}-{run}" for name in ("fine", "unreadable", "broken")}
    offset = 0
    for customer in customers.values():
        registered = ContactRegistered(kind=CustomerKind.CONSUMER, name="E", registered_at=T0)
        command = GrantConsent(
            channel=Channel.PHONE, purpose=Purpose.MARKETING, evidence=evidence(T0)
        )
        granted = grant(state_as_of([registered]), command, consent_id=uuid.uuid4(), now=T0)
        for topic, envelope in [(CONTACTS_EVENTS.name, wrap(customer, [registered], T0)[0])] + [
            (CONSENT_EVENTS.name, e) for e in wrap(customer, granted, T0)
        ]:
            await by_topic[topic].handle(
                [SourceRecord(topic, 0, offset, customer.encode(), encode(envelope))]
            )
            offset += 1
    await pool.execute(
        "UPDATE consent_state SET state = jsonb_set(state, '{consents,0,granted_at}',"
        " '\"no time\"') WHERE customer_id = $1",
        customers["unreadable"],
    )
    await pool.execute(
        "UPDATE consent_history SET data = '{\"consent_id\": 7}' WHERE customer_id = $1"
        " AND type = 'ConsentGranted'",
        customers["broken"],
    )
    await pool.execute("DELETE FROM consent_snapshots WHERE customer_id = $1", customers["broken"])
    before = metrics.totals(JOB_RECORD_FAILURES_TOTAL, "job").get("consent-expiry", 0)

    job = ExpiryJob(EXPIRY, interval_s=60)
    published = FakePublisher()
    now = T0 + EXPIRY + timedelta(days=1)
    assert await job.run(pool, published, now) == 2

    expired = {e.subject for e in published.sent[CONSENT_EVENTS.name]}
    assert expired == {customers["fine"], customers["unreadable"]}
    [failure] = await pool.fetch("SELECT customer_id, reason FROM expiry_failures")
    assert failure["customer_id"] == customers["broken"]
    assert "ValidationError" in failure["reason"]
    assert metrics.totals(JOB_RECORD_FAILURES_TOTAL, "job")["consent-expiry"] == before + 1
    await job.run(pool, FakePublisher(), now)
    assert metrics.totals(JOB_RECORD_FAILURES_TOTAL, "job")["consent-expiry"] == before + 1, (
        "a recorded failure is not tried again on the same state"
    )


async def test_an_opt_out_on_a_touchpoint_becomes_an_objection_on_its_channel(
    new_database, pool_for, platform_topics_ready: str
) -> None:
    from consent.policies import OptOutPolicy
    from dialog_schemas.catalog import INTERACTIONS_EVENTS
    from dialog_schemas.interactions import OptOutReceived

    customer = f"optout-{uuid.uuid4().hex[:10]}"
    pool = await pool_for(await new_database("consent"))
    by_topic = runners(pool)
    registered = ContactRegistered(kind=CustomerKind.CONSUMER, name="O", registered_at=T0)
    phone = uuid.uuid4()
    command = GrantConsent(channel=Channel.PHONE, purpose=Purpose.MARKETING, evidence=evidence(T0))
    granted = grant(state_as_of([]), command, consent_id=phone, now=T0)
    for n, (topic, envelope) in enumerate(
        [(CONTACTS_EVENTS.name, wrap(customer, [registered], T0)[0])]
        + [(CONSENT_EVENTS.name, e) for e in wrap(customer, granted, T0)]
    ):
        await by_topic[topic].handle([SourceRecord(topic, 0, n, b"k", encode(envelope))])

    published = FakePublisher()
    policy = ProjectionRunner(
        pool, OptOutPolicy(published), DeadLetters(FakePublisher(), "dl", "t")
    )
    at = T0 + timedelta(days=3)
    opt_out = wrap(
        customer,
        [OptOutReceived(touchpoint_id="call-1", channel=Channel.PHONE, received_at=at)],
        at,
    )[0]
    record = SourceRecord(INTERACTIONS_EVENTS.name, 2, 40, b"k", encode(opt_out))
    await policy.handle([record])
    [objection] = published.sent[CONSENT_EVENTS.name]
    assert objection.type == "ChannelObjectionRecorded"
    assert objection.data["channel"] == "phone"
    assert (objection.causationid, objection.subject) == (opt_out.id, customer)
    assert (await policy.handle([record])).skipped == 1, "an opt-out is acted on once"

    for n, envelope in enumerate([objection], start=10):
        await by_topic[CONSENT_EVENTS.name].handle(
            [SourceRecord(CONSENT_EVENTS.name, 0, n, b"k", encode(envelope))]
        )
    state = await load_state(pool, customer)
    assert state is not None
    decision = eligibility(
        state, Channel.PHONE, Purpose.MARKETING, at + timedelta(minutes=1), expiry=EXPIRY
    )
    assert decision.reason is not None
    assert decision.reason.value == "objection"


async def test_an_erasure_leaves_the_consent_history_without_contact_points(
    new_database, pool_for
) -> None:
    from dialog_schemas.contacts import ContactErased

    customer = f"erased-{uuid.uuid4().hex[:10]}"
    pool = await pool_for(await new_database("consent"))
    by_topic = runners(pool)
    registered = ContactRegistered(kind=CustomerKind.CONSUMER, name="E", registered_at=T0)
    command = GrantConsent(
        channel=Channel.EMAIL,
        purpose=Purpose.MARKETING,
        evidence=evidence(T0),
        contact_point="erase.me@example.org",
    )
    granted = grant(
        state_as_of([]), command, consent_id=uuid.uuid4(), now=T0, issued_token="token-of-16-chars"
    )
    erased = ContactErased(erased_at=T0 + timedelta(days=1), request_id=uuid.uuid4())
    records = [
        (CONTACTS_EVENTS.name, wrap(customer, [registered], T0)[0]),
        *((CONSENT_EVENTS.name, e) for e in wrap(customer, granted, T0)),
        (CONTACTS_EVENTS.name, wrap(customer, [erased], T0)[0]),
    ]
    for n, (topic, envelope) in enumerate(records):
        await by_topic[topic].handle([SourceRecord(topic, 0, n, b"k", encode(envelope))])
    stored = await pool.fetch("SELECT data FROM consent_history WHERE customer_id = $1", customer)
    assert "erase.me" not in "".join(r["data"] for r in stored)
    state = await load_state(pool, customer)
    assert state is not None
    [consent] = state.consents.values()
    assert consent.contact_point is None
    assert consent.evidence.wording_sha256 == "ef" * 32, "the proof of the consent stays"


async def test_channels_suppressed_at_registration_block_marketing_without_consent(
    new_database, pool_for
) -> None:
    customer = f"suppressed-{uuid.uuid4().hex[:10]}"
    pool = await pool_for(await new_database("consent"))
    registered = ContactRegistered(
        kind=CustomerKind.CONSUMER,
        name="R",
        registered_at=T0,
        suppressed_channels=[Channel.EMAIL, Channel.PHONE],
    )
    record = SourceRecord(
        CONTACTS_EVENTS.name, 0, 0, b"k", encode(wrap(customer, [registered], T0)[0])
    )
    await runners(pool)[CONTACTS_EVENTS.name].handle([record])
    state = await load_state(pool, customer)
    assert state is not None
    at = T0 + timedelta(days=1)
    for channel in (Channel.EMAIL, Channel.PHONE):
        decision = eligibility(
            state, channel, Purpose.MARKETING, at, product_category="x", expiry=EXPIRY
        )
        assert decision.reason is not None
        assert decision.reason.value == "suppressed"
    assert eligibility(state, Channel.LETTER, Purpose.MARKETING, at, expiry=EXPIRY).allowed


@pytest.mark.parametrize("merge_read_first", [False, True], ids=["live-order", "rebuild-order"])
async def test_a_merged_duplicates_consents_follow_the_survivor(
    new_database, pool_for, merge_read_first: bool
) -> None:
    from dialog_schemas.contacts import ContactsMerged

    survivor, duplicate = f"survivor-{uuid.uuid4().hex[:8]}", f"duplicate-{uuid.uuid4().hex[:8]}"
    pool = await pool_for(await new_database("consent"))
    by_topic = runners(pool)
    command = GrantConsent(channel=Channel.PHONE, purpose=Purpose.MARKETING, evidence=evidence(T0))
    phone = uuid.uuid4()
    records = [
        (
            CONTACTS_EVENTS.name,
            wrap(
                survivor,
                [ContactRegistered(kind=CustomerKind.CONSUMER, name="S", registered_at=T0)],
                T0,
            )[0],
        ),
        (
            CONTACTS_EVENTS.name,
            wrap(
                duplicate,
                [
                    ContactRegistered(
                        kind=CustomerKind.CONSUMER,
                        name="D",
                        registered_at=T0,
                        suppressed_channels=[Channel.EMAIL],
                    )
                ],
                T0,
            )[0],
        ),
        *(
            (CONSENT_EVENTS.name, e)
            for e in wrap(duplicate, grant(state_as_of([]), command, consent_id=phone, now=T0), T0)
        ),
        (
            CONTACTS_EVENTS.name,
            wrap(
                survivor,
                [ContactsMerged(merged_customer_id=duplicate, merged_at=T0 + timedelta(days=1))],
                T0,
            )[0],
        ),
    ]
    if merge_read_first:  # a rebuild may read the survivor's partition before the duplicate's
        records.insert(0, records.pop())
    for n, (topic, envelope) in enumerate(records):
        await by_topic[topic].handle([SourceRecord(topic, 0, n, b"k", encode(envelope))])
    state = await load_state(pool, survivor)
    assert state is not None
    assert list(state.consents) == [phone]
    at = T0 + timedelta(days=2)
    assert eligibility(state, Channel.PHONE, Purpose.MARKETING, at, expiry=EXPIRY).consent_id == (
        phone
    )
    email = eligibility(state, Channel.EMAIL, Purpose.MARKETING, at, expiry=EXPIRY)
    assert email.reason is not None
    assert email.reason.value == "suppressed"
    left = await pool.fetchval(
        "SELECT count(*) FROM consent_history WHERE customer_id = $1", duplicate
    )
    assert left == 0


async def test_after_a_merge_the_survivors_state_is_published_with_the_duplicates_consents(
    new_database, pool_for
) -> None:
    from consent.projections import MergedConsentState
    from dialog_schemas.consent import ConsentStateChanged
    from dialog_schemas.contacts import ContactsMerged

    survivor, duplicate = f"survivor-{uuid.uuid4().hex[:8]}", f"duplicate-{uuid.uuid4().hex[:8]}"
    pool = await pool_for(await new_database("consent"))
    published = FakePublisher()
    dead = DeadLetters(FakePublisher(), "consent.deadletter.v1", "test")
    history = ProjectionRunner(pool, ConsentStateProjection(published, EXPIRY), dead)
    merged_state = ProjectionRunner(pool, MergedConsentState(published, EXPIRY), dead)
    phone = GrantConsent(channel=Channel.PHONE, purpose=Purpose.MARKETING, evidence=evidence(T0))
    letter = GrantConsent(channel=Channel.LETTER, purpose=Purpose.MARKETING, evidence=evidence(T0))
    own, theirs = uuid.uuid4(), uuid.uuid4()
    for n, (customer, command, consent_id) in enumerate(
        [(survivor, phone, own), (duplicate, letter, theirs)]
    ):
        events = grant(state_as_of([]), command, consent_id=consent_id, now=T0)
        [envelope] = wrap(customer, events, T0)
        await history.handle([SourceRecord(CONSENT_EVENTS.name, n, 0, b"k", encode(envelope))])
    merge = ContactsMerged(merged_customer_id=duplicate, merged_at=T0 + timedelta(days=1))
    [envelope] = wrap(survivor, [merge], T0 + timedelta(days=1))
    await merged_state.handle([SourceRecord(CONTACTS_EVENTS.name, 0, 0, b"k", encode(envelope))])

    last = published.sent[CONSENT_STATE.name][-1]
    assert last.subject == survivor
    state = ConsentStateChanged.model_validate(last.data)
    assert {c.consent_id for c in state.consents} == {own, theirs}
    kept = await pool.fetch("SELECT customer_id FROM consent_state ORDER BY 1")
    assert [r["customer_id"] for r in kept] == [survivor], "the duplicate's state is gone"


async def test_a_survivors_history_interleaves_its_duplicates_by_time(
    new_database, pool_for
) -> None:
    """The duplicate objected and lifted it before the survivor objected: still objecting."""
    from dialog_schemas.consent import ObjectionLifted, ObjectionRecorded
    from dialog_schemas.contacts import ContactsMerged

    survivor, duplicate = f"survivor-{uuid.uuid4().hex[:8]}", f"duplicate-{uuid.uuid4().hex[:8]}"
    pool = await pool_for(await new_database("consent"))
    dead = DeadLetters(FakePublisher(), "consent.deadletter.v1", "test")
    history = ProjectionRunner(pool, ConsentStateProjection(FakePublisher(), EXPIRY), dead)
    merges = ProjectionRunner(pool, CustomerFactsProjection("facts"), dead)

    def day(n: int) -> datetime:
        return T0 + timedelta(days=n)

    theirs, own = uuid.uuid4(), uuid.uuid4()
    stored = [  # (partition, customer, event, recorded): the duplicate's on a later partition
        (
            0,
            survivor,
            ObjectionRecorded(objection_id=own, objected_at=day(5), via_channel=Channel.LETTER),
            day(5),
        ),
        (
            5,
            duplicate,
            ObjectionRecorded(objection_id=theirs, objected_at=day(1), via_channel=Channel.PHONE),
            day(1),
        ),
        (
            5,
            duplicate,
            ObjectionLifted(objection_id=theirs, lifted_at=day(2), consent_id=uuid.uuid4()),
            day(2),
        ),
    ]
    for offset, (partition, customer, event, recorded) in enumerate(stored):
        [envelope] = wrap(customer, [event], recorded)
        record = SourceRecord(CONSENT_EVENTS.name, partition, offset, b"k", encode(envelope))
        await history.handle([record])
    [merge] = wrap(
        survivor, [ContactsMerged(merged_customer_id=duplicate, merged_at=day(6))], day(6)
    )
    await merges.handle([SourceRecord(CONTACTS_EVENTS.name, 0, 0, b"k", encode(merge))])

    [events] = (await histories(pool, [survivor])).values()
    assert [type(e).__name__ for e in events] == [
        "ObjectionRecorded",
        "ObjectionLifted",
        "ObjectionRecorded",
    ]
    assert state_as_of(events).objecting


async def test_an_authorized_outreach_records_the_use_of_its_consent_for_the_proof(
    new_database, pool_for, platform_topics_ready: str
) -> None:
    from consent.policies import ConsentUsePolicy
    from consent.proof import proof_bundle
    from dialog_schemas.campaigns import OutreachAuthorized
    from dialog_schemas.catalog import CAMPAIGNS_EVENTS
    from dialog_schemas.common import LegalBasis

    customer = f"use-{uuid.uuid4().hex[:10]}"
    pool = await pool_for(await new_database("consent"))
    by_topic = runners(pool)
    registered = ContactRegistered(kind=CustomerKind.CONSUMER, name="U", registered_at=T0)
    phone = uuid.uuid4()
    command = GrantConsent(channel=Channel.PHONE, purpose=Purpose.MARKETING, evidence=evidence(T0))
    granted = grant(state_as_of([]), command, consent_id=phone, now=T0)
    for n, (topic, envelope) in enumerate(
        [(CONTACTS_EVENTS.name, wrap(customer, [registered], T0)[0])]
        + [(CONSENT_EVENTS.name, e) for e in wrap(customer, granted, T0)]
    ):
        await by_topic[topic].handle([SourceRecord(topic, 0, n, b"k", encode(envelope))])

    published = FakePublisher()
    policy = ProjectionRunner(
        pool, ConsentUsePolicy(published, EXPIRY), DeadLetters(FakePublisher(), "dl", "t")
    )
    outreach, at = uuid.uuid4(), T0 + timedelta(days=2)
    authorized = OutreachAuthorized(
        outreach_id=outreach,
        campaign_id="spring",
        channel=Channel.PHONE,
        purpose=Purpose.CROSS_SELL,
        decided_at=at,
        legal_basis=LegalBasis.EXPRESS_CONSENT,
        consent_id=phone,
    )
    cause = wrap(customer, [authorized], at)[0]
    record = SourceRecord(CAMPAIGNS_EVENTS.name, 1, 7, b"k", encode(cause))
    await policy.handle([record])
    [use] = published.sent[CONSENT_EVENTS.name]
    assert use.type == "ConsentUsed"
    assert (use.data["reference"], use.data["consent_id"]) == (str(outreach), str(phone))
    assert use.causationid == cause.id
    assert (await policy.handle([record])).skipped == 1, "a use is recorded once"

    await by_topic[CONSENT_EVENTS.name].handle(
        [SourceRecord(CONSENT_EVENTS.name, 0, 10, b"k", encode(use))]
    )
    state = await load_state(pool, customer)
    assert state is not None
    bundle = await proof_bundle(pool, customer, state, at + timedelta(minutes=1))
    assert str(outreach) in orjson.dumps(bundle, default=str).decode()


async def test_an_authorization_on_a_consent_not_valid_then_is_dead_lettered(
    new_database, pool_for, platform_topics_ready: str
) -> None:
    from consent.policies import ConsentUsePolicy
    from dialog_schemas.campaigns import OutreachAuthorized
    from dialog_schemas.catalog import CAMPAIGNS_EVENTS
    from dialog_schemas.common import LegalBasis

    pool = await pool_for(await new_database("consent"))
    dead = FakePublisher()
    policy = ProjectionRunner(
        pool, ConsentUsePolicy(FakePublisher(), EXPIRY), DeadLetters(dead, "dl", "t")
    )
    authorized = OutreachAuthorized(
        outreach_id=uuid.uuid4(),
        campaign_id="spring",
        channel=Channel.PHONE,
        purpose=Purpose.CROSS_SELL,
        decided_at=T0,
        legal_basis=LegalBasis.EXPRESS_CONSENT,
        consent_id=uuid.uuid4(),
    )
    cause = wrap("nobody", [authorized], T0)[0]
    outcome = await policy.handle([SourceRecord(CAMPAIGNS_EVENTS.name, 0, 0, b"k", encode(cause))])
    assert outcome.dead_lettered == 1
    assert len(dead.raw["dl"]) == 1


async def test_an_authorization_that_arrives_before_its_grant_waits_for_it(
    new_database, pool_for
) -> None:
    """The grant and the authorization travel on different topics: a fresh authorization on a
    consent not applied yet is retried until the grant is there, then recorded as a use."""
    import asyncio

    from consent.policies import ConsentUsePolicy
    from dialog_schemas.campaigns import OutreachAuthorized
    from dialog_schemas.catalog import CAMPAIGNS_EVENTS
    from dialog_schemas.common import LegalBasis

    customer = f"early-{uuid.uuid4().hex[:10]}"
    pool = await pool_for(await new_database("consent"))
    by_topic = runners(pool)
    now = datetime.now(UTC)
    registered = ContactRegistered(kind=CustomerKind.CONSUMER, name="E", registered_at=now)
    phone = uuid.uuid4()
    command = GrantConsent(channel=Channel.PHONE, purpose=Purpose.MARKETING, evidence=evidence(now))
    granted = grant(state_as_of([]), command, consent_id=phone, now=now)
    published = FakePublisher()
    policy = ProjectionRunner(
        pool, ConsentUsePolicy(published, EXPIRY), DeadLetters(FakePublisher(), "dl", "t")
    )
    authorized = OutreachAuthorized(
        outreach_id=uuid.uuid4(),
        campaign_id="spring",
        channel=Channel.PHONE,
        purpose=Purpose.CROSS_SELL,
        decided_at=now,
        legal_basis=LegalBasis.EXPRESS_CONSENT,
        consent_id=phone,
    )
    cause = wrap(customer, [authorized], now)[0]
    waiting = asyncio.create_task(
        policy.handle([SourceRecord(CAMPAIGNS_EVENTS.name, 0, 0, b"k", encode(cause))])
    )
    for n, (topic, envelope) in enumerate(
        [(CONTACTS_EVENTS.name, wrap(customer, [registered], now)[0])]
        + [(CONSENT_EVENTS.name, e) for e in wrap(customer, granted, now)]
    ):
        await by_topic[topic].handle([SourceRecord(topic, 0, n, b"k", encode(envelope))])
    outcome = await asyncio.wait_for(waiting, timeout=30)
    assert (outcome.applied, outcome.dead_lettered) == (1, 0)
    [use] = published.sent[CONSENT_EVENTS.name]
    assert use.type == "ConsentUsed"
