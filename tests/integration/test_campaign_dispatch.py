"""Planning and dispatch of a campaign on the real broker and database.

Events go through the real topics; the worker's projections are brought up to the topics' ends
by replay, the planner and the dispatcher run as the worker runs them (with a clock set to a
moment within calling hours), and what they published is read back from the topics.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from campaigns.barrier import ReadBarrier
from campaigns.bootstrap import CONSENT_VIEW, DEFINITION, projections
from campaigns.calling_hours import CallingHours, next_open
from campaigns.config import Settings
from campaigns.dispatch import Policy
from campaigns.dispatcher import Dispatcher
from campaigns.outbox import OutboxRelay
from campaigns.phone_zones import PhoneZones
from campaigns.planning import Planner, outreach_id
from dialog_schemas import Envelope, Event
from dialog_schemas.campaigns import (
    Audience,
    CampaignCreated,
    CampaignDefinition,
    CampaignLaunched,
    FrequencyCap,
    FrequencyCaps,
    WaveLaunched,
)
from dialog_schemas.catalog import CAMPAIGNS_EVENTS, CONSENT_EVENTS, CONTACTS_EVENTS
from dialog_schemas.common import Channel, CustomerKind, Purpose
from dialog_schemas.consent import (
    CaptureMedium,
    ConsentGranted,
    ConsentRevoked,
    Evidence,
    ObjectionRecorded,
)
from dialog_schemas.contacts import ContactErased, ContactRegistered, ContactsMerged
from dialogkit.codec import decode_envelope
from dialogkit.config import ServiceSettings
from dialogkit.deadletters import DeadLetters
from dialogkit.http import ApiRuntime, Probe, create_api
from dialogkit.offsets import KafkaTopicEnds
from dialogkit.pii import InMemoryKeyStore, decrypt
from dialogkit.publishing import KafkaPublisher
from dialogkit.replay import read_topic_in_batches, replay
from tests.support import AUTH

NOW = datetime.now(UTC)
PHONE = "+493012345678"
BERLIN = ZoneInfo("Europe/Berlin")


def decision_time() -> datetime:
    """An hour into the next calling hours in Berlin, a day from now (consents are older)."""
    opens = next_open(NOW + timedelta(days=1), (BERLIN,), CallingHours())
    assert opens is not None
    return opens + timedelta(hours=1)


def wrap(event: Event, subject: str) -> Envelope:
    return Envelope.wrap(event, id=uuid.uuid4(), source="/test", subject=subject, time=NOW)


def registered(kind: CustomerKind = CustomerKind.CONSUMER, **extra: Any) -> ContactRegistered:
    return ContactRegistered(
        kind=kind,
        name="Kim",
        phone_numbers=[PHONE],
        registered_at=NOW - timedelta(days=400),
        **extra,
    )


def granted(consent: uuid.UUID) -> ConsentGranted:
    evidence = Evidence(
        medium=CaptureMedium.WEB_FORM,
        wording_version="v1",
        wording_sha256="ab" * 32,
        captured_at=NOW - timedelta(days=10),
        source_ref="form-1",
        actor="web-shop",
    )
    return ConsentGranted(
        consent_id=consent,
        channel=Channel.PHONE,
        purpose=Purpose.MARKETING,
        evidence=evidence,
        pending_confirmation=False,
    )


class Scenario:
    """Customers of every kind, one campaign over them, the worker's jobs."""

    def __init__(self, pool: asyncpg.Pool, publisher: KafkaPublisher, bootstrap: str) -> None:
        self.pool, self.publisher, self.bootstrap = pool, publisher, bootstrap
        tag = uuid.uuid4().hex[:8]
        self.campaign = f"camp-{tag}"
        names = "ok dup none biz revoked objected gone erased la cap suppressed"
        self.c = {n: f"{n}-{tag}" for n in names.split()}
        self.consents = {n: uuid.uuid4() for n in self.c}
        self.keys = InMemoryKeyStore()
        self.ends = RecordingEnds(KafkaTopicEnds(bootstrap))
        relay = OutboxRelay(self.keys)
        settings = Settings()
        barrier = ReadBarrier(self.ends, CONSENT_VIEW, timeout_s=60)
        self.planner = Planner(relay, barrier, batch=3)
        self.dispatcher = Dispatcher(
            barrier,
            relay,
            Policy(calling_hours=settings.calling_hours, consent_expiry=settings.consent_expiry),
            settings.frequency_caps,
            default_zone="Europe/Berlin",
            clock=decision_time,
        )

    async def publish(self, topic: str, *envelopes: Envelope) -> None:
        await self.publisher.publish(topic, list(envelopes))

    async def catch_up(self) -> None:
        dead = DeadLetters(self.publisher, "campaigns.deadletter.v1", "test")
        await replay(self.pool, projections(Settings(), self.publisher), dead, self.bootstrap)

    async def customers(self) -> None:
        c = self.c
        for customer in c.values():  # contacts makes each customer's data key
            await self.keys.key_for(customer, create=True)
        contacts = [
            wrap(registered(), c["ok"]),
            wrap(registered(), c["dup"]),
            wrap(ContactsMerged(merged_customer_id=c["dup"], merged_at=NOW), c["ok"]),
            wrap(registered(), c["none"]),
            wrap(registered(CustomerKind.BUSINESS), c["biz"]),
            wrap(registered(), c["revoked"]),
            wrap(registered(), c["objected"]),
            wrap(registered(), c["gone"]),
            wrap(ContactErased(erased_at=NOW, request_id=uuid.uuid4()), c["gone"]),
            wrap(registered(), c["erased"]),
            wrap(registered(time_zone="America/Los_Angeles"), c["la"]),
            wrap(registered(), c["cap"]),
            wrap(  # a business on a do-not-call list: no presumed consent
                registered(CustomerKind.BUSINESS, suppressed_channels=[Channel.PHONE]),
                c["suppressed"],
            ),
        ]
        await self.publish(CONTACTS_EVENTS.name, *contacts)
        with_consent = ["ok", "dup", "revoked", "objected", "erased", "la", "cap"]
        consent = [wrap(granted(self.consents[n]), c[n]) for n in with_consent]
        objection = ObjectionRecorded(
            objection_id=uuid.uuid4(), objected_at=NOW, via_channel=Channel.PHONE
        )
        await self.publish(CONSENT_EVENTS.name, *consent, wrap(objection, c["objected"]))

    async def launch(self) -> None:
        definition = CampaignDefinition(
            name="Spring tariffs",
            channel=Channel.PHONE,
            purpose=Purpose.MARKETING,
            product_category="mobile",
            message_ref="script-7",
            audience=Audience(include_ids=sorted(self.c.values())),
            frequency_caps=FrequencyCaps(per_channel=FrequencyCap(limit=1, window_days=7)),
        )
        created = CampaignCreated(
            campaign_id=self.campaign,
            name=definition.name,
            channel=definition.channel,
            purpose=definition.purpose,
            product_category=definition.product_category,
            created_at=NOW,
            definition=definition,
        )
        launched = CampaignLaunched(campaign_id=self.campaign, launched_at=NOW)
        wave = WaveLaunched(campaign_id=self.campaign, wave=1, launched_at=NOW, due_from=NOW)
        await self.publish(
            CAMPAIGNS_EVENTS.name, *(wrap(e, self.campaign) for e in (created, launched, wave))
        )

    async def due(self) -> set[str]:
        rows = await self.pool.fetch(
            "SELECT customer_id FROM outreach_due WHERE campaign_id = $1", self.campaign
        )
        return {r["customer_id"] for r in rows}

    async def decisions(self) -> dict[str, tuple[Any, ...]]:
        rows = await self.pool.fetch(
            "SELECT customer_id, decision, block_reason, deferral_reason, legal_basis,"
            " dispatched_at IS NOT NULL AS dispatched FROM outreach WHERE campaign_id = $1",
            self.campaign,
        )
        names = {v: k for k, v in self.c.items()}
        return {
            names[r["customer_id"]]: (
                r["decision"] or (r["deferral_reason"] and "deferred"),
                r["block_reason"] or r["deferral_reason"] or r["legal_basis"],
                r["dispatched"],
            )
            for r in rows
        }

    async def requests(self) -> list[Envelope]:
        found = []
        async for records in read_topic_in_batches(
            self.bootstrap, "campaigns.outbound.phone.v1", {}, 5000
        ):
            for r in records:
                envelope = decode_envelope(r.value, tuple(r.headers))
                if envelope.data["campaign_id"] == self.campaign:
                    found.append(envelope)
        return found


class RecordingEnds:
    """The broker's topic ends, with a signal when a round has read them."""

    def __init__(self, ends: KafkaTopicEnds) -> None:
        self._ends = ends
        self.read = asyncio.Event()

    async def ends(self, topics: Any) -> dict[tuple[str, int], int]:
        found = await self._ends.ends(topics)
        self.read.set()
        return found

    async def stop(self) -> None:
        await self._ends.stop()


@pytest.fixture
async def scenario(
    new_database, pool_for, publisher, platform_topics_ready
) -> AsyncIterator[Scenario]:
    pool = await pool_for(await new_database("campaigns"))
    made = Scenario(pool, publisher, platform_topics_ready)
    await made.customers()
    await made.launch()
    await made.catch_up()
    yield made
    await made.ends.stop()


@pytest.fixture
async def api(scenario: Scenario) -> AsyncIterator[httpx.AsyncClient]:
    """The campaigns API, its routes as the service registers them, on the test database."""

    @asynccontextmanager
    async def on_test_database(
        service: str, settings: ServiceSettings
    ) -> AsyncIterator[tuple[ApiRuntime, dict[str, Probe]]]:
        yield ApiRuntime(service, settings, scenario.pool, scenario.publisher), {}

    settings = DEFINITION.settings()
    app = create_api(
        DEFINITION.name, settings, DEFINITION.routers, runtime_factory=on_test_database
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://campaigns", headers=AUTH
        ) as client,
    ):
        yield client


async def test_a_wave_is_planned_once_per_audience_member_however_often_it_runs(
    scenario: Scenario,
) -> None:
    c = scenario.c
    await scenario.planner.run(scenario.pool, scenario.publisher)
    expected = {c[n] for n in ["ok", "none", "biz", "revoked", "erased", "la", "cap", "suppressed"]}
    # (the planner also plans the waves of other tests' campaigns read from the shared topic)
    planned = await scenario.pool.fetchval(
        "SELECT planned FROM wave_plans WHERE campaign_id = $1 AND done", scenario.campaign
    )
    assert planned == len(expected)
    assert await scenario.due() == expected  # no objector, no erased, the duplicate as survivor
    await scenario.pool.execute(  # a relaunch, or a crash before the cursor moved
        "UPDATE wave_plans SET done = false, planned_after = '', planned = 0"
    )
    assert await scenario.planner.run(scenario.pool, scenario.publisher) == 0
    assert await scenario.due() == expected
    await scenario.catch_up()
    rows = await scenario.pool.fetch(
        "SELECT outreach_id, customer_id, wave FROM outreach WHERE campaign_id = $1",
        scenario.campaign,
    )
    assert {r["customer_id"] for r in rows} == expected
    assert all(
        r["outreach_id"] == outreach_id(scenario.campaign, 1, r["customer_id"]) for r in rows
    )


async def test_planning_counts_the_wave_into_the_statistics_rounds_are_planned_by(
    scenario: Scenario,
) -> None:
    """A round takes the first due rows off the index (due_at, outreach_id) only if PostgreSQL
    knows how many are due; without statistics it sorts the whole wave again in every round."""
    await scenario.planner.run(scenario.pool, scenario.publisher)
    due = await scenario.pool.fetchval("SELECT count(*) FROM outreach_due")
    counted = await scenario.pool.fetchval(
        "SELECT reltuples FROM pg_class WHERE oid = 'outreach_due'::regclass"
    )
    assert due > 0
    assert counted == due


async def test_due_outreach_is_decided_at_dispatch_time_with_every_reason(
    scenario: Scenario, api: httpx.AsyncClient
) -> None:
    c = scenario.c
    await scenario.planner.run(scenario.pool, scenario.publisher)
    # a call waits until the zone its customer's number implies is known; `la` has a profile zone
    await scenario.dispatcher.run(scenario.pool, scenario.publisher)
    await scenario.catch_up()
    decided = {n for n, (outcome, *_) in (await scenario.decisions()).items() if outcome}
    assert decided == {"la"}
    await PhoneZones(scenario.keys).run(scenario.pool, scenario.publisher)
    await scenario.pool.execute(  # an earlier campaign's call fills the cap of one a week
        "INSERT INTO customer_contacts (outreach_id, customer_id, channel, at)"
        " VALUES ($1, $2, 'phone', $3)",
        uuid.uuid4(),
        c["cap"],
        decision_time() - timedelta(days=1),
    )
    # changes between planning and dispatch, acknowledged before the round starts
    revoked = ConsentRevoked(
        consent_id=scenario.consents["revoked"],
        channel=Channel.PHONE,
        purpose=Purpose.MARKETING,
        revoked_at=NOW,
        via_channel=Channel.PHONE,
    )
    await scenario.publish(CONSENT_EVENTS.name, wrap(revoked, c["revoked"]))
    erased = ContactErased(erased_at=NOW, request_id=uuid.uuid4())
    await scenario.keys.destroy(c["erased"])
    await scenario.publish(CONTACTS_EVENTS.name, wrap(erased, c["erased"]))

    scenario.ends.read.clear()
    dispatching = asyncio.create_task(scenario.dispatcher.run(scenario.pool, scenario.publisher))
    await asyncio.wait_for(scenario.ends.read.wait(), 30)
    assert not dispatching.done()  # the round waits for the consent view to apply them
    await scenario.catch_up()
    await asyncio.wait_for(dispatching, 60)  # (other tests' campaigns share the topics)

    await scenario.catch_up()
    assert await scenario.decisions() == {
        "ok": ("authorized", "express_consent", True),
        "biz": ("authorized", "presumed_business_consent", True),
        "none": ("blocked", "no_consent", False),
        "revoked": ("blocked", "revoked", False),
        "erased": ("blocked", "erased", False),
        "suppressed": ("blocked", "suppressed", False),
        "la": ("deferred", "outside_calling_hours", False),
        "cap": ("deferred", "frequency_cap", False),
    }
    requests = await scenario.requests()
    assert sorted(r.subject for r in requests) == sorted([c["ok"], c["biz"]])
    ok = next(r for r in requests if r.subject == c["ok"])
    key = await scenario.keys.key_for(c["ok"])
    assert key is not None
    assert decrypt(key, c["ok"], "phone_number", ok.data["phone_number"]) == PHONE
    assert ok.data["message_ref"] == "script-7"
    assert ok.correlationid == outreach_id(scenario.campaign, 1, c["ok"])

    # deferred outreach waits for its time; nothing is decided twice
    await scenario.dispatcher.run(scenario.pool, scenario.publisher)
    assert await scenario.due() == {c["la"], c["cap"]}
    assert (
        await scenario.pool.fetchval(
            "SELECT deferrals FROM outreach_due WHERE customer_id = $1", c["la"]
        )
        == 1
    )

    statistics = (await api.get(f"/v1/campaigns/{scenario.campaign}/statistics")).json()
    total = statistics["total"]
    assert {k: total[k] for k in ("audience", "planned", "authorized", "blocked")} == {
        "audience": 8,
        "planned": 8,
        "authorized": 2,
        "blocked": 4,
    }
    assert total["blocked_by_reason"] == {
        "erased": 1,
        "no_consent": 1,
        "revoked": 1,
        "suppressed": 1,
    }
    assert (total["pending"], total["deferred"], total["dispatched"], total["cancelled"]) == (
        2,
        2,
        2,
        0,
    )
    assert total["deferred_by_reason"] == {"frequency_cap": 1, "outside_calling_hours": 1}
    assert statistics["waves"] == [{**total, "wave": 1}]

    revoked = await api.get(
        f"/v1/campaigns/{scenario.campaign}/outreach",
        params={"outcome": "blocked", "reason": "revoked"},
    )
    assert [(o["customer_id"], o["reason"]) for o in revoked.json()["outreach"]] == [
        (c["revoked"], "revoked")
    ]
    seen, cursor = [], None
    while True:
        page = (
            await api.get(
                f"/v1/campaigns/{scenario.campaign}/outreach",
                params={"limit": 3, **({"cursor": cursor} if cursor else {})},
            )
        ).json()
        seen += [o["outcome"] for o in page["outreach"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(["authorized"] * 2 + ["blocked"] * 4 + ["deferred"] * 2)
    wrong = await api.get(f"/v1/campaigns/{scenario.campaign}/outreach", params={"outcome": "x"})
    assert wrong.status_code == 422
    assert (await api.get("/v1/campaigns/nope/statistics")).status_code == 404


async def test_the_audience_preview_counts_members_and_who_would_be_blocked_now(
    scenario: Scenario, api: httpx.AsyncClient
) -> None:
    preview = await api.get(
        f"/v1/campaigns/{scenario.campaign}/audience/preview", params={"sample": 3}
    )
    assert preview.status_code == 200
    body = preview.json()
    members = sorted(
        scenario.c[n] for n in ["ok", "none", "biz", "revoked", "erased", "la", "cap", "suppressed"]
    )
    assert body["count"] == len(members)
    assert body["sample"] == members[:3]
    assert body["blocked_now_by_reason"] == {"no_consent": 1, "suppressed": 1}
    assert body["blocked_now"] == 2


async def test_an_outreach_whose_decision_fails_waits_and_holds_up_no_other(
    scenario: Scenario,
) -> None:
    await scenario.planner.run(scenario.pool, scenario.publisher)
    await PhoneZones(scenario.keys).run(scenario.pool, scenario.publisher)
    broken = uuid.uuid4()  # a service message on a channel nothing dispatches: a defect
    await scenario.pool.execute(
        "INSERT INTO outreach_due (outreach_id, campaign_id, wave, customer_id, channel,"
        " purpose, due_at) VALUES ($1, $2, 1, $3, 'social', 'service', $4)",
        broken,
        scenario.campaign,
        scenario.c["biz"],
        NOW,
    )
    await scenario.dispatcher.run(scenario.pool, scenario.publisher)
    assert await scenario.due() == {scenario.c[n] for n in ("la", "biz")}
    later = await scenario.pool.fetchval(
        "SELECT due_at FROM outreach_due WHERE outreach_id = $1", broken
    )
    assert later == decision_time() + timedelta(minutes=1)
    await scenario.catch_up()
    decided = {n for n, (outcome, *_) in (await scenario.decisions()).items() if outcome}
    assert decided == {"ok", "biz", "none", "revoked", "erased", "suppressed", "la", "cap"}
    rows = await scenario.pool.fetch(
        "SELECT outreach_id FROM outreach WHERE campaign_id = $1", scenario.campaign
    )
    assert broken not in {r["outreach_id"] for r in rows}, "nothing of it was published"
