"""The audit trail on the real broker and PostgreSQL: a read is recorded on audit.events.v1,
projected by contacts, queryable by customer with `contacts:audit`, and kept as configured."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from contacts.audit import AuditRetention, AuditTrailProjection
from contacts.bootstrap import DEFINITION
from dialog_schemas.catalog import AUDIT_EVENTS
from dialogkit.config import ServiceSettings
from dialogkit.deadletters import DeadLetters
from dialogkit.http import ApiRuntime, Probe, create_api
from dialogkit.pii import InMemoryKeyStore
from dialogkit.projection import ProjectionRunner
from dialogkit.publishing import FakePublisher, KafkaPublisher
from dialogkit.records import SourceRecord
from tests.support import read_topic, token


@asynccontextmanager
async def contacts_api(
    pool: asyncpg.Pool, publisher: KafkaPublisher
) -> AsyncIterator[httpx.AsyncClient]:
    """The contacts API in-process, on the test database and broker."""

    @asynccontextmanager
    async def runtime(
        service: str, settings: ServiceSettings
    ) -> AsyncIterator[tuple[ApiRuntime, dict[str, Probe]]]:
        yield ApiRuntime(service, settings, pool, publisher, InMemoryKeyStore()), {}

    app = create_api("contacts", DEFINITION.settings(), DEFINITION.routers, runtime_factory=runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://contacts") as client:
            yield client


async def project_audit_records(pool: asyncpg.Pool, bootstrap: str, customer_id: str) -> int:
    """Apply the customer's records on audit.events.v1 to the audit trail; returns how many."""
    records = [
        SourceRecord(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers))
        for r in await read_topic(bootstrap, AUDIT_EVENTS.name)
        if r.key == customer_id.encode()
    ]
    runner = ProjectionRunner(
        pool, AuditTrailProjection(), DeadLetters(FakePublisher(), "contacts.deadletter.v1", "t")
    )
    await runner.handle(records)
    return len(records)


async def test_a_read_is_recorded_and_queryable_by_the_data_protection_officer(
    new_database: Any,
    pool_for: Any,
    publisher: KafkaPublisher,
    platform_topics_ready: str,
    customer_id: str,
) -> None:
    pool = await pool_for(await new_database("contacts"))
    async with contacts_api(pool, publisher) as api:
        agent = token("contacts:read", subject="agent-7")
        assert (await api.get(f"/v1/customers/{customer_id}", headers=agent)).status_code == 404
        snoop = token("contacts:write", subject="snoop")
        assert (await api.get(f"/v1/customers/{customer_id}", headers=snoop)).status_code == 403
        assert await project_audit_records(pool, platform_topics_ready, customer_id) == 2

        trail = f"/v1/customers/{customer_id}/audit"
        assert (await api.get(trail, headers=agent)).status_code == 403
        dpo = token("contacts:audit", subject="dpo")
        first = (await api.get(trail, params={"limit": 1}, headers=dpo)).json()
        second = (
            await api.get(trail, params={"limit": 1, "cursor": first["next_cursor"]}, headers=dpo)
        ).json()
    records = first["records"] + second["records"]
    assert second["next_cursor"] is None
    assert [(r["actor"], r["outcome"], r["status"]) for r in records] == [
        ("snoop", "denied", 403),
        ("agent-7", "refused", 404),
    ]
    assert records[0]["route"] == "/v1/customers/{customer_id}"
    assert records[0]["service"] == "contacts"
    assert records[0]["action"] == "profile"


async def test_records_past_the_retention_period_are_deleted(
    new_database: Any,
    pool_for: Any,
    publisher: KafkaPublisher,
    platform_topics_ready: str,
    customer_id: str,
) -> None:
    pool = await pool_for(await new_database("contacts"))
    async with contacts_api(pool, publisher) as api:
        await api.get(f"/v1/customers/{customer_id}", headers=token("contacts:read"))
    await project_audit_records(pool, platform_topics_ready, customer_id)
    job = AuditRetention(timedelta(days=30), batch=1)
    assert await job.run(pool, FakePublisher(), now=datetime.now(UTC) + timedelta(days=29)) == 0
    assert await pool.fetchval("SELECT count(*) FROM audit_trail") == 1
    assert await job.run(pool, FakePublisher(), now=datetime.now(UTC) + timedelta(days=31)) == 1
    assert await pool.fetchval("SELECT count(*) FROM audit_trail") == 0
