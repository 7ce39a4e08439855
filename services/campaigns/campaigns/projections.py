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

from campaigns.tables import CUSTOMER_TABLES
from dialog_schemas import Event
from dialog_schemas.campaigns import (
    CampaignCreated,
    OutreachAuthorized,
    OutreachBlocked,
    OutreachCancelled,
    OutreachDeferred,
    OutreachDispatched,
    OutreachPlanned,
    ResponseReceived,
)
from dialog_schemas.catalog import CAMPAIGNS_EVENTS, CONTACTS_EVENTS
from dialogkit.projection import Decoded

Outreach = (
    OutreachPlanned
    | OutreachAuthorized
    | OutreachBlocked
    | OutreachDeferred
    | OutreachCancelled
    | OutreachDispatched
)
Keyed = Outreach | ResponseReceived


async def campaign_created(connection: asyncpg.Connection, _: str, event: CampaignCreated) -> None:
    await connection.execute(
        "INSERT INTO campaigns (campaign_id, name, channel, purpose, product_category, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (campaign_id) DO NOTHING",
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
        " planned_for, wave) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (outreach_id) DO UPDATE SET"
        " campaign_id = EXCLUDED.campaign_id, channel = EXCLUDED.channel,"
        " purpose = EXCLUDED.purpose, planned_for = EXCLUDED.planned_for, wave = EXCLUDED.wave",
        *keys(customer, event),
        event.purpose.value,
        event.planned_for,
        event.wave,
    )


async def outreach_deferred(
    connection: asyncpg.Connection, customer: str, event: OutreachDeferred, event_id: object
) -> None:
    """Each deferral counts once (by event id); the latest `until` is the one that holds."""
    await connection.execute(
        "INSERT INTO outreach (outreach_id, customer_id, campaign_id, channel, purpose,"
        " deferred_until, deferral_reason, deferrals, last_deferral)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8) ON CONFLICT (outreach_id) DO UPDATE SET"
        " deferred_until = GREATEST(outreach.deferred_until, EXCLUDED.deferred_until),"
        " deferral_reason = CASE WHEN outreach.deferred_until IS NULL"
        "   OR EXCLUDED.deferred_until >= outreach.deferred_until"
        "   THEN EXCLUDED.deferral_reason ELSE outreach.deferral_reason END,"
        " deferrals = outreach.deferrals + 1, last_deferral = EXCLUDED.last_deferral"
        " WHERE outreach.last_deferral IS DISTINCT FROM EXCLUDED.last_deferral",
        *keys(customer, event),
        event.purpose.value,
        event.until,
        event.reason.value,
        event_id,
    )


async def outreach_cancelled(
    connection: asyncpg.Connection, customer: str, event: OutreachCancelled
) -> None:
    await connection.execute(
        "INSERT INTO outreach (outreach_id, customer_id, campaign_id, channel, cancelled_at,"
        " cancel_reason) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (outreach_id) DO UPDATE SET"
        " cancelled_at = EXCLUDED.cancelled_at, cancel_reason = EXCLUDED.cancel_reason",
        *keys(customer, event),
        event.cancelled_at,
        event.reason.value,
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
    if event.attributed_by is not None:
        response["attributed_by"] = event.attributed_by.value
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
    OutreachCancelled: outreach_cancelled,
    OutreachDispatched: outreach_dispatched,
    ResponseReceived: response_received,
}


class OutreachProjection:
    """Campaigns and each customer's outreach, from the campaigns topic."""

    name = "campaigns.outreach"
    source = CAMPAIGNS_EVENTS
    customer_tables = CUSTOMER_TABLES

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        for decoded in events:
            event, customer = decoded.event, decoded.envelope.subject
            if isinstance(event, OutreachDeferred):
                await outreach_deferred(connection, customer, event, decoded.envelope.id)
                continue
            handler = HANDLERS.get(type(event))
            if handler is not None:  # the campaign's lifecycle is CampaignProjection's
                await handler(connection, customer, event)


class CustomerMergesProjection:
    """Merges read from the contacts topic: the runner moves a merged duplicate's outreach (and
    every other table the service declares) to its survivor."""

    name = "campaigns.customer-merges"
    source = CONTACTS_EVENTS
    customer_tables = CUSTOMER_TABLES

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        """Nothing of its own to write."""
