"""Responses: what came back from customers becomes `ResponseReceived` for the outreach it answers.

Three projections of the worker share one rule (`attribution.attribute`):

- `campaigns.responses-sent` reads `OutreachDispatched` from the campaigns topic into
  `dispatched_outreach` (per customer: campaign, channel, time, the ids of the outreach's request
  and dispatch events);
- `campaigns.responses-interactions` reads touchpoints and opt-outs from the interactions topic;
- `campaigns.responses-contacts` reads purchases and contract starts (conversions) and merges
  from the contacts topic.

A response is recorded once in `responses_attributed` and, in the same transaction, its
`ResponseReceived` is written into the outbox, which the dispatcher's relay publishes. The
response id derives from what it answers: a touchpoint's from the customer and touchpoint id (as
the touchpoint's own event id does), so a touchpoint that opted out and the `OptOutReceived` it
caused are one response, counted as an opt-out (kind `unsubscribed`); a conversion's from its
event id. A record read again therefore publishes nothing new.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid5

import asyncpg

from campaigns.attribution import Answer, Attribution, Sent, attribute, touchpoint_kind
from campaigns.outbox import WORKER, event_id, event_row, write
from campaigns.tables import CUSTOMER_TABLES
from dialog_schemas.campaigns import OutreachDispatched, ResponseKind, ResponseReceived
from dialog_schemas.catalog import CAMPAIGNS_EVENTS, CONTACTS_EVENTS, INTERACTIONS_EVENTS
from dialog_schemas.common import Channel, Direction
from dialog_schemas.contacts import ContractStarted, ProductPurchased
from dialog_schemas.interactions import OptOutReceived, TouchpointRecorded
from dialogkit.merges import survivors
from dialogkit.projection import Decoded

NAMESPACE = UUID("3d5e1f7a-9b2c-4e6d-8a10-c4b7e2f95d03")
Windows = Mapping[Channel, timedelta]


def response_id(customer_id: str, source: str) -> str:
    """The response's id: the same however often its source is read."""
    return str(uuid5(NAMESPACE, f"{customer_id}/{source}"))


class DispatchedOutreachProjection:
    """Outreach dispatched to each customer, for attribution."""

    name = "campaigns.responses-sent"
    source = CAMPAIGNS_EVENTS
    customer_tables = CUSTOMER_TABLES

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        await connection.executemany(
            "INSERT INTO dispatched_outreach (outreach_id, customer_id, campaign_id, channel,"
            " dispatched_at, request_event_id, dispatched_event_id)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (outreach_id) DO NOTHING",
            [
                (
                    e.outreach_id,
                    d.envelope.subject,
                    e.campaign_id,
                    e.channel.value,
                    e.dispatched_at,
                    event_id(e.outreach_id, "requested"),
                    d.envelope.id,
                )
                for d in events
                if isinstance(e := d.event, OutreachDispatched)
            ],
        )


class InteractionResponsesProjection:
    """Touchpoints that answer an outreach, and opt-outs, become responses."""

    name = "campaigns.responses-interactions"
    source = INTERACTIONS_EVENTS

    def __init__(self, windows: Windows) -> None:
        self._windows = windows

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        found = [(d, *a) for d in events if (a := _from_interactions(d)) is not None]
        await record(connection, found, self._windows)


class ContactResponsesProjection:
    """Purchases and contract starts become conversions of the outreach that advertised them."""

    name = "campaigns.responses-contacts"
    source = CONTACTS_EVENTS
    customer_tables = CUSTOMER_TABLES

    def __init__(self, windows: Windows) -> None:
        self._windows = windows

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        """Nothing before merges are followed: a conversion is attributed after them."""

    async def after_merges(
        self, connection: asyncpg.Connection, events: Sequence[Decoded], customers: list[str]
    ) -> None:
        """Conversions, attributed once a merge in the batch has moved the outreach sent."""
        found = [(d, *a) for d in events if (a := _from_contacts(d)) is not None]
        await record(connection, found, self._windows)


def _from_interactions(d: Decoded) -> tuple[Answer, str] | None:
    event, envelope = d.event, d.envelope
    if isinstance(event, TouchpointRecorded):
        kind = touchpoint_kind(event)
        if kind is None:
            return None
        answer = Answer(
            kind,
            event.occurred_at,
            event.channel,
            envelope.causationid,
            envelope.correlationid,
            outreach_id=event.outreach_id,
            campaign_id=event.campaign_id,
            by_window=event.direction is Direction.INBOUND,
        )
        return answer, response_id(envelope.subject, f"touchpoint/{event.touchpoint_id}")
    if isinstance(event, OptOutReceived):
        answer = Answer(
            ResponseKind.UNSUBSCRIBED,
            event.received_at,
            event.channel,
            envelope.causationid,
            envelope.correlationid,
        )
        return answer, response_id(envelope.subject, f"touchpoint/{event.touchpoint_id}")
    return None


def _from_contacts(d: Decoded) -> tuple[Answer, str] | None:
    event, envelope = d.event, d.envelope
    if isinstance(event, ProductPurchased | ContractStarted):
        at = event.purchased_at if isinstance(event, ProductPurchased) else event.started_at
        answer = Answer(
            ResponseKind.PURCHASED,
            at,
            None,
            envelope.causationid,
            envelope.correlationid,
            category=event.category,
        )
        return answer, response_id(envelope.subject, f"event/{envelope.id}")
    return None


async def record(
    connection: asyncpg.Connection, found: Sequence[tuple[Decoded, Answer, str]], windows: Windows
) -> None:
    """Attribute each answer; record each new response and write its event into the outbox."""
    if not found:
        return
    sent = await _sent_for(connection, found)
    named = await survivors(connection, [d.envelope.subject for d, _, _ in found])
    rows = []
    for decoded, answer, response in found:
        customer = named[decoded.envelope.subject]
        own = [s for s in sent if s.customer_id == customer or _named_by(answer, decoded, s)]
        attribution = attribute(answer, own, windows)
        if attribution is None:
            continue
        new = await connection.fetchval(
            "INSERT INTO responses_attributed (response_id, outreach_id, source_event_id,"
            " attributed_by, received_at) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (response_id) DO NOTHING RETURNING response_id",
            response,
            attribution.outreach.outreach_id,
            decoded.envelope.id,
            attribution.method.value,
            answer.at,
        )
        if new is not None:
            rows.append(_response_row(decoded, answer, response, attribution, customer))
    await write(connection, rows)


def _named_by(answer: Answer, decoded: Decoded, sent: Sent) -> bool:
    envelope = decoded.envelope
    return (
        sent.outreach_id in (answer.outreach_id, envelope.correlationid)
        or envelope.causationid in sent.event_ids
    )


async def _sent_for(
    connection: asyncpg.Connection, found: Sequence[tuple[Decoded, Answer, str]]
) -> list[Sent]:
    """The dispatched outreach of the answers' customers (and their survivors), and any
    outreach an answer names by id, causation or conversation."""
    customers = [d.envelope.subject for d, _, _ in found]
    ids = [i for d, a, _ in found for i in (a.outreach_id, d.envelope.correlationid) if i]
    causes = [d.envelope.causationid for d, _, _ in found if d.envelope.causationid]
    rows = await connection.fetch(
        "SELECT o.outreach_id, o.customer_id, o.campaign_id, o.channel, o.dispatched_at,"
        " o.request_event_id, o.dispatched_event_id,"
        " coalesce(c.definition->>'product_category', c.product_category) AS category"
        " FROM dispatched_outreach o LEFT JOIN campaigns c USING (campaign_id)"
        " WHERE o.customer_id = ANY($1::text[]) OR o.customer_id IN (SELECT survivor"
        " FROM customer_merges WHERE duplicate = ANY($1::text[]))"
        " OR o.outreach_id = ANY($2::uuid[]) OR o.request_event_id = ANY($3::uuid[])"
        " OR o.dispatched_event_id = ANY($3::uuid[])",
        customers,
        ids,
        causes,
    )
    return [
        Sent(
            r["outreach_id"],
            r["customer_id"],
            r["campaign_id"],
            Channel(r["channel"]),
            r["dispatched_at"],
            r["category"],
            frozenset({r["request_event_id"], r["dispatched_event_id"]}),
        )
        for r in rows
    ]


def _response_row(
    decoded: Decoded, answer: Answer, response: str, attribution: Attribution, customer: str
) -> tuple[object, ...]:
    outreach = attribution.outreach
    event = ResponseReceived(
        response_id=response,
        outreach_id=outreach.outreach_id,
        campaign_id=outreach.campaign_id,
        channel=answer.channel or outreach.channel,
        received_at=answer.at,
        response=answer.kind,
        attributed_by=attribution.method,
        source_event_id=decoded.envelope.id,
    )
    envelope = WORKER.caused_by(
        decoded.envelope,
        event,
        id=uuid5(NAMESPACE, f"response/{response}"),
        time=datetime.now(UTC),
        subject=outreach.customer_id or customer,
    )
    return event_row(CAMPAIGNS_EVENTS.name, envelope)
