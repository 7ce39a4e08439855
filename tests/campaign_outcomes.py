"""Campaigns with known outcomes, written through the campaigns worker's own projections.

`story()` turns a list of `Outreach` (what happened to each customer, what came back) into the
campaign's events; `feed()` runs them through the outreach and campaign projections on a real
database, as the worker does. The figures the reports must show are worked out by hand in the
tests that use them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from campaigns.campaign_view import CampaignProjection
from campaigns.projections import OutreachProjection
from dialog_schemas import Envelope, Event
from dialog_schemas.campaigns import (
    CampaignCreated,
    CampaignDefinition,
    CampaignLaunched,
    CancellationReason,
    DeferralReason,
    OutreachAuthorized,
    OutreachBlocked,
    OutreachCancelled,
    OutreachDeferred,
    OutreachDispatched,
    OutreachPlanned,
    ResponseKind,
    ResponseReceived,
    WaveLaunched,
)
from dialog_schemas.catalog import CAMPAIGNS_EVENTS
from dialog_schemas.common import BlockReason, Channel, LegalBasis, Purpose
from dialogkit.codec import encode
from dialogkit.deadletters import DeadLetters
from dialogkit.projection import ProjectionRunner
from dialogkit.publishing import FakePublisher
from dialogkit.records import SourceRecord

DAY1 = datetime(2026, 3, 2, 9, tzinfo=UTC)
DAY2 = datetime(2026, 3, 3, 9, tzinfo=UTC)


@dataclass(frozen=True)
class Outreach:
    customer: str
    outcome: str
    """dispatched, authorized (not dispatched), blocked:<reason>, deferred:<reason>, cancelled,
    pending."""
    wave: int = 1
    at: datetime = DAY1
    """When it was decided and dispatched."""
    responses: tuple[str, ...] = ()
    """Response kinds, received an hour apart from an hour after `at`."""


def wrap(event: Event, subject: str, at: datetime) -> Envelope:
    return Envelope.wrap(event, id=uuid.uuid4(), source="/campaigns/test", subject=subject, time=at)


def story(
    campaign_id: str, name: str, channel: Channel, outreach: list[Outreach]
) -> list[Envelope]:
    """The campaign's events: created and launched, then each outreach's plan, decision,
    dispatch and responses."""
    definition = CampaignDefinition(name=name, channel=channel, purpose=Purpose.MARKETING)
    start = DAY1 - timedelta(days=1)
    events: list[tuple[Event, str, datetime]] = [
        (
            CampaignCreated(
                campaign_id=campaign_id,
                name=name,
                channel=channel,
                purpose=Purpose.MARKETING,
                created_at=start,
                definition=definition,
            ),
            campaign_id,
            start,
        ),
        (CampaignLaunched(campaign_id=campaign_id, launched_at=start), campaign_id, start),
    ]
    for wave in sorted({o.wave for o in outreach}):
        launched = WaveLaunched(
            campaign_id=campaign_id, wave=wave, launched_at=start, due_from=start
        )
        events.append((launched, campaign_id, start))
    for o in outreach:
        events += [(e, o.customer, o.at) for e in _lifecycle(campaign_id, channel, o)]
    return [wrap(event, subject, at) for event, subject, at in events]


def _lifecycle(campaign_id: str, channel: Channel, o: Outreach) -> list[Event]:
    common: dict[str, Any] = {
        "outreach_id": uuid.uuid4(),
        "campaign_id": campaign_id,
        "channel": channel,
    }
    decided = {**common, "purpose": Purpose.MARKETING, "decided_at": o.at}
    events: list[Event] = [
        OutreachPlanned(**common, purpose=Purpose.MARKETING, planned_for=o.at, wave=o.wave)
    ]
    outcome, _, reason = o.outcome.partition(":")
    if outcome in ("dispatched", "authorized"):
        events.append(
            OutreachAuthorized(
                **decided, legal_basis=LegalBasis.EXPRESS_CONSENT, consent_id=uuid.uuid4()
            )
        )
    if outcome == "dispatched":
        events.append(OutreachDispatched(**common, dispatched_at=o.at))
    if outcome == "blocked":
        events.append(OutreachBlocked(**decided, reason=BlockReason(reason)))
    if outcome == "deferred":
        until = o.at + timedelta(hours=12)
        events.append(OutreachDeferred(**decided, until=until, reason=DeferralReason(reason)))
    if outcome == "cancelled":
        events.append(
            OutreachCancelled(
                **common, cancelled_at=o.at, reason=CancellationReason.CAMPAIGN_STOPPED
            )
        )
    events += [
        ResponseReceived(
            **common,
            response_id=f"r-{uuid.uuid4()}",
            received_at=o.at + timedelta(hours=n + 1),
            response=ResponseKind(kind),
        )
        for n, kind in enumerate(o.responses)
    ]
    return events


async def feed(pool: asyncpg.Pool, envelopes: list[Envelope], offset: int = 0) -> int:
    """Apply the events with the worker's outreach and campaign projections, as records from
    `offset` on; the next free offset."""
    records = [
        SourceRecord(CAMPAIGNS_EVENTS.name, 0, offset + n, e.subject.encode(), encode(e))
        for n, e in enumerate(envelopes)
    ]
    dead = DeadLetters(FakePublisher(), "campaigns.deadletter.v1", "test")
    for projection in (CampaignProjection(), OutreachProjection()):
        outcome = await ProjectionRunner(pool, projection, dead).handle(records)
        assert outcome.dead_lettered == 0
    return offset + len(records)


async def plan_waves(pool: asyncpg.Pool, campaign_id: str, audiences: dict[int, int]) -> None:
    """What the planner records of each wave: the audience it found."""
    await pool.executemany(
        "INSERT INTO wave_plans (campaign_id, wave, launched_at, due_from, audience, done)"
        " VALUES ($1, $2, $3, $3, $4, true)",
        [(campaign_id, w, DAY1, n) for w, n in audiences.items()],
    )


PHONE = "spring-phone"
PHONE_OUTREACH = [
    Outreach("c-01", "dispatched", responses=("interested", "purchased")),
    Outreach("c-02", "dispatched", responses=("declined",)),
    Outreach("c-03", "dispatched", responses=("unsubscribed",)),
    Outreach("c-04", "dispatched"),
    Outreach("c-05", "blocked:no_consent"),
    Outreach("c-06", "blocked:objection"),
    Outreach("c-07", "deferred:outside_calling_hours"),
    Outreach("c-08", "cancelled"),
    Outreach("c-09", "dispatched", wave=2, at=DAY2, responses=("purchased",)),
    Outreach("c-10", "dispatched", wave=2, at=DAY2.replace(hour=23, minute=59, second=59)),
    Outreach("c-11", "authorized", wave=2, at=DAY2, responses=("other",)),
    Outreach("c-12", "blocked:no_consent", wave=2, at=DAY2),
    Outreach("c-13", "pending", wave=2, at=DAY2),
]
"""Wave 1 (audience 10) on day 1, wave 2 (audience 6) on day 2. c-11's response does not count:
the outreach was never dispatched. c-10 goes out in the last second of day 2 (UTC)."""
PHONE_AUDIENCES = {1: 10, 2: 6}


LETTER = [
    Outreach(f"l-{n}", "dispatched", responses=("interested",) if n == 0 else ()) for n in range(5)
]
EMAIL = [
    Outreach("e-0", "dispatched", at=DAY2, responses=("unsubscribed",)),
    *(Outreach(f"e-{n}", "dispatched", at=DAY2) for n in range(1, 4)),
    Outreach("e-late", "dispatched", at=DAY2.replace(day=4, hour=0), responses=("purchased",)),
]
"""e-late goes out at midnight UTC after day 2: outside a comparison that ends with day 2."""


def others() -> list[Envelope]:
    """A letter and an email campaign dispatched on the phone campaign's days, for comparison."""
    return [
        *story("spring-letter", "Spring tariffs by letter", Channel.LETTER, LETTER),
        *story("spring-email", "Spring tariffs by email", Channel.EMAIL, EMAIL),
    ]
