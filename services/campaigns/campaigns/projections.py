"""The outreach read model: each customer's campaign outreach, its decision and responses.

Every statement is an upsert, so an event applied twice changes nothing. An outreach's events may
be read before its OutreachPlanned: the first one read makes the row with the keys every outreach
event carries (customer, campaign, channel), and the others fill in what they know.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
import orjson

from dialog_schemas import Event
from dialog_schemas.campaigns import (
    CampaignCreated,
    OutreachAuthorized,
    OutreachBlocked,
    OutreachDispatched,
    OutreachPlanned,
    ResponseReceived,
)
from dialog_schemas.catalog import CAMPAIGNS_EVENTS, CONTACTS_EVENTS
from dialogkit.merges import follow_merges
from dialogkit.projection import Decoded

# every table of this read model keyed by customer: a merged duplicate's rows follow the survivor
CUSTOMER_TABLES = ("outreach",)
Outreach = OutreachPlanned | OutreachAuthorized | OutreachBlocked | OutreachDispatched
Keyed = Outreach | ResponseReceived


async def campaign_created(connection: asyncpg.Connection, _: str, event: CampaignCreated) -> None:
    await connection.execute(
        "INSERT INTO campaigns (campaign_id, name, channel, purpose, product_category, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (campaign_id) DO UPDATE SET"
        " name = EXCLUDED.name, channel = EXCLUDED.channel, purpose = EXCLUDED.purpose,"
        " product_category = EXCLUDED.product_category, created_at = EXCLUDED.created_at",
        event.campaign_id,
        event.name,
        event.channel.value,
        event.purpose.value,
        event.product_category,
        event.created_at,
    )


async def outreach_planned(
    connection: asyncpg.Connection, customer: str, event: OutreachPlanned
) -> None:
    await connection.execute(
        "INSERT INTO outreach (outreach_id, customer_id, campaign_id, channel, purpose,"
        " planned_for) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (outreach_id) DO UPDATE SET"
        " campaign_id = EXCLUDED.campaign_id, channel = EXCLUDED.channel,"
        " purpose = EXCLUDED.purpose, planned_for = EXCLUDED.planned_for",
        *keys(customer, event),
        event.purpose.value,
        event.planned_for,
    )


# of two decisions about one outreach the later holds, in whichever order they are read
DECIDED = (
    "INSERT INTO outreach (outreach_id, customer_id, campaign_id, channel, purpose, decision,"
    " decided_at, legal_basis, consent_id, block_reason)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (outreach_id) DO UPDATE SET"
    " purpose = coalesce(outreach.purpose, EXCLUDED.purpose), decision = EXCLUDED.decision,"
    " decided_at = EXCLUDED.decided_at, legal_basis = EXCLUDED.legal_basis,"
    " consent_id = EXCLUDED.consent_id, block_reason = EXCLUDED.block_reason"
    " WHERE outreach.decided_at IS NULL OR outreach.decided_at <= EXCLUDED.decided_at"
)


async def outreach_authorized(
    connection: asyncpg.Connection, customer: str, event: OutreachAuthorized
) -> None:
    await connection.execute(
        DECIDED,
        *keys(customer, event),
        event.purpose.value,
        "authorized",
        event.decided_at,
        event.legal_basis.value,
        event.consent_id,
        None,
    )


async def outreach_blocked(
    connection: asyncpg.Connection, customer: str, event: OutreachBlocked
) -> None:
    await connection.execute(
        DECIDED,
        *keys(customer, event),
        event.purpose.value,
        "blocked",
        event.decided_at,
        None,
        None,
        event.reason.value,
    )


async def outreach_dispatched(
    connection: asyncpg.Connection, customer: str, event: OutreachDispatched
) -> None:
    await connection.execute(
        "INSERT INTO outreach (outreach_id, customer_id, campaign_id, channel, dispatched_at)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (outreach_id) DO UPDATE SET"
        " dispatched_at = EXCLUDED.dispatched_at",
        *keys(customer, event),
        event.dispatched_at,
    )


async def response_received(
    connection: asyncpg.Connection, customer: str, event: ResponseReceived
) -> None:
    """Add the response unless its id is there; the list stays in order of receipt."""
    response = {
        "response_id": event.response_id,
        "kind": event.response.value,
        "channel": event.channel.value,
        "received_at": event.received_at.isoformat(),
    }
    await connection.execute(
        "INSERT INTO outreach (outreach_id, customer_id, campaign_id, channel, responses)"
        " VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT (outreach_id) DO UPDATE SET"
        " responses = (SELECT jsonb_agg(r ORDER BY (r->>'received_at')::timestamptz,"
        " r->>'response_id') FROM jsonb_array_elements(outreach.responses || EXCLUDED.responses) r)"
        " WHERE NOT outreach.responses @> jsonb_build_array(jsonb_build_object("
        "'response_id', EXCLUDED.responses->0->'response_id'))",
        *keys(customer, event),
        orjson.dumps([response]).decode(),
    )


def keys(customer: str, event: Keyed) -> tuple[object, ...]:
    return event.outreach_id, customer, event.campaign_id, event.channel.value


Handler = Callable[[asyncpg.Connection, str, Any], Awaitable[None]]
HANDLERS: dict[type[Event], Handler] = {
    CampaignCreated: campaign_created,
    OutreachPlanned: outreach_planned,
    OutreachAuthorized: outreach_authorized,
    OutreachBlocked: outreach_blocked,
    OutreachDispatched: outreach_dispatched,
    ResponseReceived: response_received,
}


class OutreachProjection:
    """Campaigns and each customer's outreach, from the campaigns topic."""

    name = "campaigns.outreach"
    source = CAMPAIGNS_EVENTS

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        for decoded in events:
            await HANDLERS[type(decoded.event)](connection, decoded.envelope.subject, decoded.event)
        await follow_merges(connection, events, CUSTOMER_TABLES)


class CustomerMergesProjection:
    """Merges read from the contacts topic: a merged duplicate's outreach moves to its survivor."""

    name = "campaigns.customer-merges"
    source = CONTACTS_EVENTS

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        await follow_merges(connection, events, CUSTOMER_TABLES)
