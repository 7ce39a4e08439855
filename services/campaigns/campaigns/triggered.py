"""Triggered outreach planned in the transaction of the projection that saw the trigger.

The facts projections (contacts and interactions topics) and the campaign projection (signals
on the campaigns topic, after the campaign events of the same batch) hand the events that may
trigger outreach to `TriggerPlanner.plan`, in their own transaction, which also stores their
position: a restart or rebalance neither loses a trigger nor plans it twice. For each running
(or paused) triggered campaign the event fires, the planner

1. claims the cool-down (`trigger_cooldowns`, one row per campaign and customer) with one upsert
   that succeeds only if the last planning trigger is at least the cool-down earlier; PostgreSQL
   locks the row, so two transactions firing for one customer at once plan once;
2. adds the outreach to `outreach_due` (due at the event's time plus the delay; the delay is
   data, not a timer) with its trigger, and writes `OutreachPlanned` naming the trigger into the
   outbox.

The relay publishes the outbox after the commit (the worker's planner and dispatcher flush it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import asyncpg

from campaigns.outbox import event_row, outreach_envelope, write
from campaigns.triggers import Fired, Holding, Plan, Running, cooldown, plan
from dialog_schemas.campaigns import (
    BehaviouralSignalRecorded,
    CampaignDefinition,
    OutreachPlanned,
    TriggerKind,
    TriggerRef,
)
from dialog_schemas.catalog import CAMPAIGNS_EVENTS
from dialogkit.merges import survivors
from dialogkit.projection import Decoded

TRIGGERED_WAVE = 0
"""`outreach_due.wave` of triggered outreach (waves count from 1)."""


class TriggerPlanner:
    """Plans the outreach fired triggers call for, in the caller's transaction."""

    def __init__(self, cooldown_default: timedelta = timedelta(days=30)) -> None:
        self._cooldown = cooldown_default

    async def plan(self, connection: asyncpg.Connection, events: Sequence[Fired]) -> int:
        """Plan the outreach `events` trigger; the number planned (each at most once)."""
        if not events:
            return 0
        campaigns = await running_triggered(connection, {e.kind for e in events})
        if not campaigns:
            return 0
        named = await survivors(connection, sorted({e.customer_id for e in events}))
        rows = []
        for event in events:
            customer = named.get(event.customer_id, event.customer_id)
            for campaign in campaigns:
                planned = plan(campaign, event)
                if planned is None:
                    continue
                period = cooldown(campaign.definition, self._cooldown)
                if not await _claim(connection, campaign.campaign_id, customer, event, period):
                    continue
                if await _add_due(connection, campaign.campaign_id, customer, event, planned):
                    rows.append(_planned(campaign, customer, event, planned))
        await write(connection, rows)
        return len(rows)


async def running_triggered(db: Any, kinds: set[TriggerKind]) -> list[Running]:
    """The running or paused campaigns triggered by one of `kinds`."""
    records = await db.fetch(
        "SELECT campaign_id, definition, launched_at FROM campaigns"
        " WHERE status IN ('running', 'paused') AND launched_at IS NOT NULL"
        " AND definition->'trigger'->>'on' = ANY($1::text[]) ORDER BY campaign_id",
        sorted(k.value for k in kinds),
    )
    return [
        Running(
            r["campaign_id"],
            CampaignDefinition.model_validate_json(r["definition"]),
            r["launched_at"],
        )
        for r in records
    ]


async def _claim(
    connection: asyncpg.Connection,
    campaign: str,
    customer: str,
    event: Fired,
    period: timedelta,
) -> bool:
    """The cool-down (`triggers.outside_cooldown`), claimed atomically; False within it."""
    claimed = await connection.fetchval(
        "INSERT INTO trigger_cooldowns (campaign_id, customer_id, triggered_at, event_id)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (campaign_id, customer_id) DO UPDATE SET"
        " triggered_at = EXCLUDED.triggered_at, event_id = EXCLUDED.event_id"
        " WHERE trigger_cooldowns.triggered_at <= EXCLUDED.triggered_at - $5::interval"
        " RETURNING true",
        campaign,
        customer,
        event.at,
        event.event_id,
        period,
    )
    return bool(claimed)


async def _add_due(
    connection: asyncpg.Connection, campaign: str, customer: str, event: Fired, planned: Plan
) -> bool:
    added = await connection.fetchval(
        "INSERT INTO outreach_due (outreach_id, campaign_id, wave, customer_id, channel, purpose,"
        " due_at, trigger_kind, trigger_item, triggered_at, offer_category)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        " ON CONFLICT DO NOTHING RETURNING true",
        planned.outreach_id,
        campaign,
        TRIGGERED_WAVE,
        customer,
        planned.channel.value,
        planned.purpose.value,
        planned.due_at,
        event.kind.value,
        event.item_id,
        event.at,
        planned.offer_category,
    )
    return bool(added)


def _planned(campaign: Running, customer: str, event: Fired, planned: Plan) -> tuple[Any, ...]:
    outreach = planned.outreach_id
    ref = TriggerRef(kind=event.kind, event_id=event.event_id, occurred_at=event.at)
    planned_event = OutreachPlanned(
        outreach_id=outreach,
        campaign_id=campaign.campaign_id,
        channel=planned.channel,
        purpose=planned.purpose,
        planned_for=planned.due_at,
        trigger=ref,
    )
    envelope = outreach_envelope(planned_event, customer, outreach, "planned")
    return event_row(CAMPAIGNS_EVENTS.name, envelope)


async def holdings_of(db: Any, customers: list[str]) -> dict[str, list[Holding]]:
    """Each customer's products and contracts, for `triggers.reason_gone`."""
    found: dict[str, list[Holding]] = {}
    if not customers:  # a round of wave outreach only
        return found
    for r in await db.fetch(
        "SELECT customer_id, item_id, category, started_at, cancelled_at FROM audience_holdings"
        " WHERE customer_id = ANY($1::text[])",
        customers,
    ):
        found.setdefault(r["customer_id"], []).append(
            Holding(r["item_id"], r["category"], r["started_at"], r["cancelled_at"])
        )
    return found


def signals_fired(events: Sequence[Decoded]) -> list[Fired]:
    """The behavioural signals among `events` (campaigns topic), as triggers."""
    return [
        Fired(
            customer_id=d.envelope.subject,
            kind=TriggerKind.BEHAVIOURAL_SIGNAL,
            event_id=d.envelope.id,
            at=e.occurred_at,
            category=e.category,
            signal=e.signal,
        )
        for d in events
        if isinstance(e := d.event, BehaviouralSignalRecorded)
    ]
