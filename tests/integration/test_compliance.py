"""Compliance findings: outbound advertising checked against the consent history of its time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from consent.domain import GrantConsent, grant
from consentledger.domain import state_as_of
from consentledger.projections import ConsentHistoryProjection, CustomerFactsProjection
from dialog_schemas import Envelope, Event
from dialog_schemas.catalog import CONSENT_EVENTS, CONTACTS_EVENTS, INTERACTIONS_EVENTS
from dialog_schemas.common import Channel, CustomerKind, Direction, Purpose
from dialog_schemas.consent import CaptureMedium, Evidence
from dialog_schemas.contacts import ContactRegistered
from dialog_schemas.interactions import TouchpointRecorded
from dialogkit.codec import encode
from dialogkit.deadletters import DeadLetters
from dialogkit.projection import ProjectionRunner
from dialogkit.publishing import FakePublisher
from dialogkit.records import SourceRecord
from interactions.compliance import ComplianceCheckJob, ComplianceProjection

T0 = datetime(2026, 9, 1, 10, tzinfo=UTC)


def touchpoint(number: int, at: datetime, **changes: Any) -> TouchpointRecorded:
    fields: dict[str, Any] = {
        "touchpoint_id": f"tp-{number}",
        "channel": Channel.PHONE,
        "direction": Direction.OUTBOUND,
        "occurred_at": at,
        "purpose": Purpose.MARKETING,
        "details": {"kind": "call", "disposition": "reached"},
        "reported_by": "test",
    }
    return TouchpointRecorded.model_validate(fields | changes)


async def test_advertising_without_eligibility_at_its_time_becomes_one_finding(
    new_database, pool_for
) -> None:
    customer = f"compliance-{uuid.uuid4().hex[:10]}"
    pool = await pool_for(await new_database("interactions"))
    dead = DeadLetters(FakePublisher(), "dl", "t")
    runners = {
        CONTACTS_EVENTS.name: ProjectionRunner(pool, CustomerFactsProjection("facts"), dead),
        CONSENT_EVENTS.name: ProjectionRunner(pool, ConsentHistoryProjection("history"), dead),
        INTERACTIONS_EVENTS.name: ProjectionRunner(pool, ComplianceProjection(), dead),
    }
    offsets = {name: 0 for name in runners}

    async def project(topic: str, events: list[Event], at: datetime) -> list[Envelope]:
        envelopes = [
            Envelope.wrap(e, id=uuid.uuid4(), source="/t", subject=customer, time=at)
            for e in events
        ]
        for envelope in envelopes:
            record = SourceRecord(topic, 0, offsets[topic], b"k", encode(envelope))
            offsets[topic] += 1
            await runners[topic].handle([record])
        return envelopes

    await project(
        CONTACTS_EVENTS.name,
        [ContactRegistered(kind=CustomerKind.CONSUMER, name="C", registered_at=T0)],
        T0,
    )
    consent_at = T0 + timedelta(days=1)
    evidence = Evidence(
        medium=CaptureMedium.PHONE_CALL,
        wording_version="v1",
        wording_sha256="12" * 32,
        captured_at=consent_at,
        source_ref="rec-1",
        actor="agent",
    )
    command = GrantConsent(channel=Channel.PHONE, purpose=Purpose.MARKETING, evidence=evidence)
    await project(
        CONSENT_EVENTS.name,
        grant(state_as_of([]), command, consent_id=uuid.uuid4(), now=consent_at),
        consent_at,
    )

    before, after = consent_at - timedelta(hours=1), consent_at + timedelta(hours=1)
    envelopes = await project(
        INTERACTIONS_EVENTS.name,
        [
            touchpoint(1, before),  # a marketing call before the consent: a finding
            touchpoint(2, after),  # after the consent: fine
            touchpoint(3, after, purpose=Purpose.SERVICE),  # not advertising: not checked
            touchpoint(4, before, direction=Direction.INBOUND),  # the customer called: not checked
            touchpoint(  # a marketing email sent without consent: a finding
                5,
                after,
                channel=Channel.EMAIL,
                details={"kind": "email", "message_id": "m", "status": "sent"},
            ),
            touchpoint(  # its later "opened" is not another contact attempt
                6,
                after,
                channel=Channel.EMAIL,
                details={"kind": "email", "message_id": "m", "status": "opened"},
            ),
        ],
        after,
    )
    checks = await pool.fetchval(
        "SELECT count(*) FROM compliance_checks WHERE customer_id = $1", customer
    )
    assert checks == 3

    job = ComplianceCheckJob(5, settle=timedelta(seconds=10), expiry=timedelta(days=730))
    published = FakePublisher()
    assert await job.run(pool, published, datetime.now(UTC) - timedelta(minutes=1)) == 0, (
        "nothing is checked before it has settled"
    )
    assert await job.run(pool, published, datetime.now(UTC) + timedelta(minutes=1)) == 2
    findings = published.sent[INTERACTIONS_EVENTS.name]
    assert {(f.data["touchpoint_id"], f.data["reason"]) for f in findings} == {
        ("tp-1", "no_consent"),
        ("tp-5", "no_consent"),
    }
    assert {f.causationid for f in findings} <= {e.id for e in envelopes}
    assert await job.run(pool, FakePublisher(), datetime.now(UTC) + timedelta(minutes=2)) == 0

    for finding in findings:
        record = SourceRecord(
            INTERACTIONS_EVENTS.name, 0, offsets[INTERACTIONS_EVENTS.name], b"k", encode(finding)
        )
        offsets[INTERACTIONS_EVENTS.name] += 1
        await runners[INTERACTIONS_EVENTS.name].handle([record])
    rows = await pool.fetch(
        "SELECT touchpoint_id FROM compliance_findings WHERE customer_id = $1 ORDER BY 1", customer
    )
    assert [r["touchpoint_id"] for r in rows] == ["tp-1", "tp-5"]
