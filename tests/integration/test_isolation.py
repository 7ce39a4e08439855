"""A record a job or projection cannot process: isolated, counted, recorded."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import asyncpg

from dialog_schemas import Envelope
from dialog_schemas.catalog import CONTACTS_EVENTS, INTERACTIONS_EVENTS
from dialog_schemas.common import CustomerKind
from dialog_schemas.contacts import ContactRegistered
from dialogkit import metrics
from dialogkit.codec import encode
from dialogkit.deadletters import DeadLetters
from dialogkit.jobs import JOB_RECORD_FAILURES_TOTAL
from dialogkit.projection import PROJECTION_DEAD_LETTERS_TOTAL, Decoded, ProjectionRunner
from dialogkit.publishing import FakePublisher
from dialogkit.records import SourceRecord
from interactions.compliance import ComplianceCheckJob

NOW = datetime.now(UTC)


async def queue_check(
    pool: asyncpg.Pool, customer: str, touchpoint: str, at: datetime
) -> uuid.UUID:
    event_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO compliance_checks (event_id, customer_id, touchpoint_id, channel, purpose,"
        " occurred_at, arrived_at) VALUES ($1, $2, $3, 'phone', 'marketing', $4, $5)",
        event_id,
        customer,
        touchpoint,
        at,
        NOW - timedelta(hours=1),
    )
    return event_id


async def test_a_check_the_job_cannot_carry_out_is_recorded_and_the_others_still_are(
    new_database, pool_for
) -> None:
    pool = await pool_for(await new_database("interactions"))
    customer = f"iso-{uuid.uuid4().hex[:10]}"
    # a touchpoint dated in year 1, queued before the contract refused such dates
    broken = await queue_check(pool, customer, "tp-year-one", datetime(1, 1, 1, tzinfo=UTC))
    fine = await queue_check(pool, customer, "tp-later", NOW - timedelta(days=1))
    failures = metrics.value(
        JOB_RECORD_FAILURES_TOTAL, job="compliance-check", reason="OverflowError"
    )
    job = ComplianceCheckJob(5, settle=timedelta(seconds=1), expiry=timedelta(days=730))
    published = FakePublisher()

    assert await job.run(pool, published, NOW) == 1
    [finding] = published.sent[INTERACTIONS_EVENTS.name]
    assert finding.data["touchpoint_id"] == "tp-later"
    rows = {
        r["event_id"]: r
        for r in await pool.fetch(
            "SELECT event_id, checked_at, failed_reason FROM compliance_checks"
        )
    }
    assert rows[fine]["failed_reason"] is None
    assert rows[broken]["failed_reason"].startswith("OverflowError")
    assert rows[broken]["checked_at"] is not None, "not tried again on every round"
    assert (
        metrics.value(JOB_RECORD_FAILURES_TOTAL, job="compliance-check", reason="OverflowError")
        == failures + 1
    )
    assert await job.run(pool, FakePublisher(), NOW + timedelta(minutes=1)) == 0


class RefusesOne:
    """A read model that refuses one customer's records (as PostgreSQL refuses a value)."""

    name = f"refuses-one-{uuid.uuid4().hex[:6]}"
    source = CONTACTS_EVENTS

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        for decoded in events:
            if decoded.envelope.subject == "bad":
                raise asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence")
            await connection.execute("SELECT 1")


async def test_a_record_a_projection_refuses_is_counted_by_projection(
    new_database, pool_for
) -> None:
    pool = await pool_for(await new_database("interactions"))
    publisher = FakePublisher()
    projection = RefusesOne()
    runner = ProjectionRunner(pool, projection, DeadLetters(publisher, "dl", projection.name))
    records = [
        SourceRecord(
            CONTACTS_EVENTS.name,
            0,
            offset,
            subject.encode(),
            encode(
                Envelope.wrap(
                    ContactRegistered(kind=CustomerKind.CONSUMER, name="N", registered_at=NOW),
                    id=uuid.uuid4(),
                    source="/t",
                    subject=subject,
                    time=NOW,
                )
            ),
        )
        for offset, subject in enumerate(["a", "bad", "c", "d"])
    ]
    outcome = await runner.handle(records)
    assert (outcome.applied, outcome.dead_lettered) == (3, 1)
    assert (
        metrics.value(
            PROJECTION_DEAD_LETTERS_TOTAL, projection=projection.name, reason="projection_failed"
        )
        == 1
    )
    assert metrics.totals(PROJECTION_DEAD_LETTERS_TOTAL, "projection")[projection.name] == 1
