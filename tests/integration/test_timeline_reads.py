"""The timeline keeps notes sealed and opens them when it shows them, one key per owner."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import uvicorn

from contacts.bootstrap import DEFINITION as CONTACTS
from dialog_schemas import Envelope
from dialog_schemas.catalog import CONTACTS_EVENTS, INTERACTIONS_EVENTS
from dialog_schemas.common import Channel, Direction
from dialog_schemas.contacts import ContactErased
from dialog_schemas.interactions import SurveyAnswer, TouchpointRecorded
from dialogkit.codec import encode
from dialogkit.config import ServiceSettings
from dialogkit.deadletters import DeadLetters
from dialogkit.http import ApiRuntime, Probe, create_api
from dialogkit.keys import HttpKeyStore, InMemoryKeyStore, KeyStore
from dialogkit.pii import PREFIX, PersonalDataCipher
from dialogkit.projection import ProjectionRunner
from dialogkit.publishing import FakePublisher
from dialogkit.records import SourceRecord
from interactions.bootstrap import DEFINITION
from interactions.projections import TimelineProjection
from tests.support import AUTH, TOKEN, token


async def project_sealed(pool: asyncpg.Pool, keys: KeyStore, customer: str, said: str) -> None:
    """A sealed touchpoint projected without any key service: the projection needs none."""
    at = datetime.now(UTC) - timedelta(hours=1)
    event = TouchpointRecorded(
        touchpoint_id="tp-1",
        channel=Channel.PHONE,
        direction=Direction.INBOUND,
        occurred_at=at,
        summary=said,
        reported_by="t",
    )
    envelope = Envelope.wrap(event, id=uuid.uuid4(), source="/t", subject=customer, time=at)
    [sealed] = await PersonalDataCipher(keys).seal_envelopes([envelope])
    record = SourceRecord(INTERACTIONS_EVENTS.name, 0, 0, b"k", encode(sealed))
    dead = DeadLetters(FakePublisher(), "dl", "t")
    projection = TimelineProjection(INTERACTIONS_EVENTS, "interactions.timeline")
    assert (await ProjectionRunner(pool, projection, dead).handle([record])).applied == 1


@asynccontextmanager
async def reader(pool: asyncpg.Pool, keys: KeyStore) -> AsyncIterator[httpx.AsyncClient]:
    @asynccontextmanager
    async def on_test_database(
        service: str, settings: ServiceSettings
    ) -> AsyncIterator[tuple[ApiRuntime, dict[str, Probe]]]:
        yield ApiRuntime(service, settings, pool, FakePublisher(), keys), {}

    app = create_api(
        DEFINITION.name, DEFINITION.settings(), DEFINITION.routers, runtime_factory=on_test_database
    )
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://i", headers=AUTH) as client,
    ):
        yield client


@asynccontextmanager
async def contacts_api(pool: asyncpg.Pool, port: int = 0) -> AsyncIterator[int]:
    """The contacts API serving data keys from `pool` over HTTP on `port` (any free one with 0),
    until the block ends: then it stops and its port refuses connections."""

    @asynccontextmanager
    async def on_contacts_database(
        service: str, settings: ServiceSettings
    ) -> AsyncIterator[tuple[ApiRuntime, dict[str, Probe]]]:
        yield ApiRuntime(service, settings, pool, FakePublisher()), {}

    app = create_api(
        CONTACTS.name, CONTACTS.settings(), CONTACTS.routers, runtime_factory=on_contacts_database
    )
    # listening before the server starts: a request waits in the backlog until it serves
    listening = socket.create_server(("127.0.0.1", port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    serving = asyncio.create_task(server.serve(sockets=[listening]))
    try:
        yield listening.getsockname()[1]
    finally:
        server.should_exit = True
        await serving
        listening.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_notes_stay_sealed_in_the_read_model_and_open_when_shown(
    new_database, pool_for
) -> None:
    pool = await pool_for(await new_database("interactions"))
    keys, customer = InMemoryKeyStore(), f"c-{uuid.uuid4().hex[:8]}"
    await project_sealed(pool, keys, customer, "wants the fibre tariff")
    stored = await pool.fetchval(
        "SELECT note FROM timeline_entries WHERE customer_id = $1", customer
    )
    assert stored.startswith(PREFIX), "the read model keeps what it was given, sealed"
    async with reader(pool, keys) as client:
        page = await client.get(f"/v1/customers/{customer}/timeline")
    assert page.status_code == 200, page.text
    [entry] = page.json()["entries"]
    assert entry["summary"].endswith(": wants the fibre tariff")

    await keys.destroy(customer)
    async with reader(pool, keys) as client:
        [erased] = (await client.get(f"/v1/customers/{customer}/timeline")).json()["entries"]
    assert "fibre" not in erased["summary"], "a destroyed key leaves nothing to read"


async def test_a_timeline_read_while_the_key_service_is_away_is_503_with_retry_after(
    new_database, pool_for
) -> None:
    pool = await pool_for(await new_database("interactions"))
    customer = f"c-{uuid.uuid4().hex[:8]}"
    await project_sealed(pool, InMemoryKeyStore(), customer, "asked about roaming")
    away = HttpKeyStore(f"http://127.0.0.1:{closed_port()}", "token", timeout_s=1)
    async with reader(pool, away) as client:
        page = await client.get(f"/v1/customers/{customer}/timeline")
        assert page.status_code == 503
        assert page.headers["Retry-After"] == "5"
        assert page.headers["content-type"] == "application/problem+json"
        findings = await client.get(f"/v1/customers/{customer}/findings")
        assert findings.status_code == 200, "reads without personal data need no key"


async def test_a_backlog_of_sealed_touchpoints_is_projected_with_no_key_service_at_all(
    new_database, pool_for
) -> None:
    """The contacts API is stopped while the worker projects a backlog of touchpoints sealed
    with its keys: the projection keeps its pace, reads that must open a note wait for it (503
    with Retry-After); once it is back nothing is lost or repeated."""
    pool = await pool_for(await new_database("interactions"))
    contacts = await pool_for(await new_database("contacts"))
    customer = f"c-{uuid.uuid4().hex[:8]}"
    at = datetime.now(UTC) - timedelta(days=1)
    envelopes = [
        Envelope.wrap(
            TouchpointRecorded(
                touchpoint_id=f"tp-{n}",
                channel=Channel.PHONE,
                direction=Direction.INBOUND,
                occurred_at=at + timedelta(seconds=n),
                summary=f"said {n}",
                reported_by="t",
            ),
            id=uuid.uuid4(),
            source="/t",
            subject=customer,
            time=at,
        )
        for n in range(600)
    ]
    async with contacts_api(contacts) as port:  # sealed with the key contacts keeps
        url = f"http://127.0.0.1:{port}"
        sealed = await PersonalDataCipher(HttpKeyStore(url, TOKEN)).seal_envelopes(envelopes)
    # contacts is stopped now: its port refuses connections
    keys = HttpKeyStore(url, TOKEN, timeout_s=1)  # the interactions API's
    records = [
        SourceRecord(INTERACTIONS_EVENTS.name, 0, n, b"k", encode(e)) for n, e in enumerate(sealed)
    ]
    projection = TimelineProjection(INTERACTIONS_EVENTS, "interactions.timeline")
    runner = ProjectionRunner(pool, projection, DeadLetters(FakePublisher(), "dl", "t"))
    applied = 0
    async with reader(pool, keys) as client:
        for start in range(0, len(records), 200):  # batches, as the worker takes them
            applied += (await runner.handle(records[start : start + 200])).applied
            meanwhile = await client.get(f"/v1/customers/{customer}/timeline")
            assert (meanwhile.status_code, meanwhile.headers["Retry-After"]) == (503, "5")
    assert applied == 600, "projected without any key: contacts being away stops nothing"
    again = await runner.handle(records[:200])
    assert (again.applied, again.skipped) == (0, 200), "a batch read again is applied once"

    async with contacts_api(contacts, port), reader(pool, keys) as client:  # contacts is back
        said = []
        cursor = None
        while True:
            params = {"limit": 500} | ({"cursor": cursor} if cursor else {})
            page = (await client.get(f"/v1/customers/{customer}/timeline", params=params)).json()
            said += [e["summary"].split(": ", 1)[1] for e in page["entries"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert sorted(said) == sorted(f"said {n}" for n in range(600)), "nothing lost or repeated"


async def test_a_survey_answer_is_shown_to_readers_of_personal_data_and_gone_after_erasure(
    new_database, pool_for
) -> None:
    pool = await pool_for(await new_database("interactions"))
    keys, customer = InMemoryKeyStore(), f"c-{uuid.uuid4().hex[:8]}"
    at = datetime.now(UTC) - timedelta(hours=1)
    event = TouchpointRecorded(
        touchpoint_id="survey-1",
        channel=Channel.EMAIL,
        direction=Direction.INBOUND,
        occurred_at=at,
        campaign_id="nps-2026",
        outreach_id=uuid.uuid4(),
        survey=SurveyAnswer(score=4, free_text="too many calls"),
        reported_by="t",
    )
    envelope = Envelope.wrap(event, id=uuid.uuid4(), source="/t", subject=customer, time=at)
    [sealed] = await PersonalDataCipher(keys).seal_envelopes([envelope])
    assert sealed.data["survey"]["free_text"].startswith(PREFIX), "sealed on the topic"
    dead = DeadLetters(FakePublisher(), "dl", "t")
    timeline = ProjectionRunner(pool, TimelineProjection(INTERACTIONS_EVENTS, "t.i"), dead)
    await timeline.handle([SourceRecord(INTERACTIONS_EVENTS.name, 0, 0, b"k", encode(sealed))])
    stored = await pool.fetchval(
        "SELECT answer FROM timeline_entries WHERE customer_id = $1", customer
    )
    assert stored.startswith(PREFIX), "the read model keeps it sealed"

    async with reader(pool, keys) as client:
        [shown] = (await client.get(f"/v1/customers/{customer}/timeline")).json()["entries"]
        without = await client.get(
            f"/v1/customers/{customer}/timeline", headers=token("interactions:read")
        )
    assert shown["summary"] == "Email touchpoint, survey answer (score 4): answer: too many calls"
    assert without.status_code == 200, without.text
    assert [e["summary"] for e in without.json()["entries"]] == [
        "Email touchpoint, survey answer (score 4)"
    ]

    erased = ContactErased(erased_at=datetime.now(UTC), request_id=uuid.uuid4())
    erasure = Envelope.wrap(erased, id=uuid.uuid4(), source="/t", subject=customer, time=at)
    contacts = ProjectionRunner(pool, TimelineProjection(CONTACTS_EVENTS, "t.c"), dead)
    await contacts.handle([SourceRecord(CONTACTS_EVENTS.name, 0, 0, b"k", encode(erasure))])
    assert (
        await pool.fetchval(
            "SELECT answer FROM timeline_entries WHERE customer_id = $1 AND kind = $2",
            customer,
            "TouchpointRecorded",
        )
        is None
    )
