"""Campaigns as they stand: each campaign's events kept in order and folded by `domain.evolve`.

The API loads a campaign's state from here to decide a command on it, and lists campaigns from
the snapshot row the projection writes after each batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import orjson
from typing_extensions import TypeIs

from campaigns.domain import Campaign, fold
from campaigns.triggered import TriggerPlanner, signals_fired
from dialog_schemas import Event
from dialog_schemas.campaigns import CAMPAIGN_EVENTS as CAMPAIGN_EVENT_TYPES
from dialog_schemas.campaigns import CampaignEvent
from dialog_schemas.catalog import CAMPAIGNS_EVENTS
from dialogkit.projection import Decoded

CAMPAIGN_TYPES = {e.event_type: e for e in CAMPAIGN_EVENT_TYPES}


def is_campaign_event(event: Event) -> TypeIs[CampaignEvent]:
    """Whether `event` is about a campaign as a whole (not about one customer)."""
    return isinstance(event, CAMPAIGN_EVENT_TYPES)


def of_campaigns(events: Sequence[Decoded]) -> list[tuple[Decoded, CampaignEvent]]:
    """The batch's events about campaigns as a whole, each with its event typed as such."""
    return [(d, d.event) for d in events if is_campaign_event(d.event)]


async def campaign_events(db: Any, campaign_id: str) -> list[Event]:
    """The campaign's events in the order they were published."""
    rows = await db.fetch(
        "SELECT type, data FROM campaign_events WHERE campaign_id = $1"
        " ORDER BY partition, kafka_offset",
        campaign_id,
    )
    return [CAMPAIGN_TYPES[r["type"]].model_validate(orjson.loads(r["data"])) for r in rows]


async def load_campaign(db: Any, campaign_id: str) -> Campaign | None:
    """The campaign's state, or None if it was never created."""
    return fold(await campaign_events(db, campaign_id))


class CampaignProjection:
    """The campaign events of `campaigns.events.v1`, and each campaign's state folded from them;
    then the behavioural signals of the batch, as triggers of the campaigns as they now stand."""

    name = "campaigns.campaigns"
    source = CAMPAIGNS_EVENTS

    def __init__(self, triggers: TriggerPlanner | None = None) -> None:
        self._triggers = triggers or TriggerPlanner()

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        await self._campaigns(connection, events)
        await self._triggers.plan(connection, signals_fired(events))

    async def _campaigns(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        mine = of_campaigns(events)
        if not mine:
            return
        await connection.executemany(
            "INSERT INTO campaign_events (event_id, campaign_id, type, data, partition,"
            " kafka_offset) VALUES ($1, $2, $3, $4::jsonb, $5, $6) ON CONFLICT DO NOTHING",
            [
                (
                    d.envelope.id,
                    event.campaign_id,
                    d.envelope.type,
                    event.model_dump_json(),
                    d.record.partition,
                    d.record.offset,
                )
                for d, event in mine
            ],
        )
        for campaign_id in sorted({event.campaign_id for _, event in mine}):
            campaign = await load_campaign(connection, campaign_id)
            if campaign is not None:
                await write_snapshot(connection, campaign)


async def write_snapshot(connection: asyncpg.Connection, campaign: Campaign) -> None:
    definition = campaign.definition
    await connection.execute(
        "INSERT INTO campaigns (campaign_id, name, channel, purpose, product_category,"
        " created_at, status, definition, waves, ended_at, launched_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10, $11)"
        " ON CONFLICT (campaign_id) DO UPDATE SET name = EXCLUDED.name,"
        " channel = EXCLUDED.channel, purpose = EXCLUDED.purpose,"
        " product_category = EXCLUDED.product_category, created_at = EXCLUDED.created_at,"
        " status = EXCLUDED.status, definition = EXCLUDED.definition, waves = EXCLUDED.waves,"
        " ended_at = EXCLUDED.ended_at, launched_at = EXCLUDED.launched_at",
        campaign.campaign_id,
        definition.name,
        definition.channel.value,
        definition.purpose.value,
        definition.product_category,
        campaign.created_at,
        campaign.status.value,
        definition.model_dump_json(),
        orjson.dumps(
            [
                {"wave": w.wave, "launched_at": w.launched_at, "due_from": w.due_from}
                for w in campaign.waves
            ]
        ).decode(),
        campaign.ended_at,
        campaign.launched_at,
    )
