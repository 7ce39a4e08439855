"""No personal data in the workers' logs: the workers' code run in-process against the real
broker and database, every logger captured at DEBUG (`tests.support.every_log_record`).

Contacts, interactions and campaigns apply events carrying a distinctive name, phone number,
email address, free-text note and survey-like answer (and one record whose personal data breaks
its contract, so a validation error quoting it is made); the campaigns worker plans, decides
(one decision fails, as a defect would) and opens contact points to send the channel requests.
No written log line holds any of the values, as written or as in a URL.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from campaigns.phone_zones import PhoneZones
from contacts.bootstrap import DEFINITION as CONTACTS
from dialog_schemas import Envelope
from dialog_schemas.catalog import CONTACTS_EVENTS, INTERACTIONS_EVENTS
from dialog_schemas.common import Channel, CustomerKind, Direction
from dialog_schemas.contacts import ContactRegistered, ContactUpdated
from dialog_schemas.interactions import CallDetails, CallDisposition, TouchpointRecorded
from dialogkit.deadletters import DeadLetters
from dialogkit.replay import replay
from interactions.bootstrap import DEFINITION as INTERACTIONS
from tests.integration.test_campaign_dispatch import PHONE as CAMPAIGN_PHONE
from tests.integration.test_campaign_dispatch import Scenario
from tests.support import every_log_record

NOW = datetime.now(UTC)
NAME = "Xaverine Quoddle"
PHONE = "+4915124681357"
EMAIL = "xaverine.quoddle@example.org"
NOTE = "Xaverine mentioned her divorce and asked to call back after the court date"
SURVEY = "I would rate the hotline 2 of 10 because Quoddle family debts came up"
PERSONAL = (NAME, "Quoddle", PHONE, "24681357", EMAIL, NOTE, SURVEY, "divorce", CAMPAIGN_PHONE)
FORMS = sorted({form for v in PERSONAL for form in (v, quote(v), quote_plus(v))})


def personal_events(customer: str) -> dict[str, list[Envelope]]:
    def wrap(event: Any) -> Envelope:
        return Envelope.wrap(event, id=uuid.uuid4(), source="/test", subject=customer, time=NOW)

    registered = ContactRegistered(
        kind=CustomerKind.CONSUMER,
        name=NAME,
        phone_numbers=[PHONE],
        email_addresses=[EMAIL],
        registered_at=NOW,
    )
    broken = Envelope(  # its contract refuses the name: a validation error quotes the value
        id=uuid.uuid4(),
        source="/test",
        type="ContactUpdated",
        subject=customer,
        time=NOW,
        schemaversion=ContactUpdated.schema_version,
        correlationid=uuid.uuid4(),
        data={"name": {"note": NOTE, "email": EMAIL}, "updated_at": NOW.isoformat()},
    )
    call = TouchpointRecorded(
        touchpoint_id=f"t-{customer}",
        channel=Channel.PHONE,
        direction=Direction.INBOUND,
        occurred_at=NOW,
        summary=f"{NOTE}. Survey: {SURVEY}",
        details=CallDetails(disposition=CallDisposition.REACHED, phone_number=PHONE),
        reported_by="test",
    )
    return {
        CONTACTS_EVENTS.name: [wrap(registered), broken],
        INTERACTIONS_EVENTS.name: [wrap(call)],
    }


@pytest.fixture
async def scenario(
    new_database: Any, pool_for: Any, publisher: Any, platform_topics_ready: str
) -> AsyncIterator[Scenario]:
    pool = await pool_for(await new_database("campaigns"))
    made = Scenario(pool, publisher, platform_topics_ready)
    yield made
    await made.ends.stop()


async def test_no_personal_value_reaches_any_worker_log_record(
    scenario: Scenario, new_database: Any, pool_for: Any, platform_topics_ready: str
) -> None:
    pools = {d.name: await pool_for(await new_database(d.name)) for d in (CONTACTS, INTERACTIONS)}
    for topic, envelopes in personal_events(f"pii-{uuid.uuid4().hex[:8]}").items():
        await scenario.publisher.publish(topic, envelopes)
    with every_log_record() as logs:
        for definition in (CONTACTS, INTERACTIONS):
            settings = definition.settings()
            dead = DeadLetters(scenario.publisher, f"{definition.name}.deadletter.v1", "test")
            projections = definition.projections(settings, scenario.publisher)
            await replay(pools[definition.name], projections, dead, platform_topics_ready)
        await scenario.customers()
        await scenario.launch()
        await scenario.catch_up()
        await scenario.planner.run(scenario.pool, scenario.publisher)
        await PhoneZones(scenario.keys).run(scenario.pool, scenario.publisher)
        await scenario.pool.execute(  # a decision that fails, as a defect would
            "INSERT INTO outreach_due (outreach_id, campaign_id, wave, customer_id, channel,"
            " purpose, due_at) VALUES ($1, $2, 1, $3, 'social', 'service', $4)",
            uuid.uuid4(),
            scenario.campaign,
            scenario.c["ok"],
            NOW,
        )
        decided = await scenario.dispatcher.run(scenario.pool, scenario.publisher)
    assert decided > 0
    assert any("record skipped by job" in line for line in logs.lines), "the defect was logged"
    leaked = [(value, line) for line in logs.lines for value in FORMS if value in line]
    assert not leaked, leaked[:5]
