"""Read queries of the campaigns service: campaigns and a customer's outreach."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from pydantic import BaseModel

from dialogkit.problems import Problem


class Wave(BaseModel):
    wave: int
    launched_at: datetime
    due_from: datetime


class CampaignView(BaseModel):
    campaign_id: str
    status: str
    created_at: datetime
    ended_at: datetime | None
    definition: dict[str, Any]
    waves: list[Wave]


class CampaignPage(BaseModel):
    campaigns: list[CampaignView]
    next_cursor: str | None


def _view(row: Any) -> CampaignView:
    return CampaignView(
        campaign_id=row["campaign_id"],
        status=row["status"],
        created_at=row["created_at"],
        ended_at=row["ended_at"],
        definition=orjson.loads(row["definition"]) if row["definition"] else {},
        waves=orjson.loads(row["waves"]),
    )


CAMPAIGN_COLUMNS = "campaign_id, status, created_at, ended_at, definition, waves"


async def campaign(db: Any, campaign_id: str) -> CampaignView:
    """The campaign's definition, status and waves; 404 if it does not exist."""
    row = await db.fetchrow(
        f"SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE campaign_id = $1", campaign_id
    )
    if row is None:
        raise Problem(404, "Not Found", f"campaign {campaign_id} does not exist")
    return _view(row)


async def campaigns(db: Any, status: str | None, limit: int, cursor: str | None) -> CampaignPage:
    """Campaigns in order of creation (by id), optionally of one status, a page at a time."""
    rows = await db.fetch(
        f"SELECT {CAMPAIGN_COLUMNS} FROM campaigns"
        " WHERE ($1::text IS NULL OR status = $1) AND campaign_id > $2"
        " ORDER BY campaign_id LIMIT $3",
        status,
        cursor or "",
        limit + 1,
    )
    page = [_view(r) for r in rows[:limit]]
    more = len(rows) > limit
    return CampaignPage(campaigns=page, next_cursor=page[-1].campaign_id if more else None)


class OutreachResponse(BaseModel):
    response_id: str
    kind: str
    channel: str
    received_at: datetime
    attributed_by: str | None = None
    """How the response was tied to this outreach: `outreach_id`, `causation` or `window`
    (absent on responses recorded before attribution was recorded)."""


class Outreach(BaseModel):
    outreach_id: UUID
    campaign_id: str
    campaign_name: str | None
    channel: str
    purpose: str | None
    planned_for: datetime | None
    decision: str | None
    """'authorized' or 'blocked' once decided at dispatch time."""
    decided_at: datetime | None
    legal_basis: str | None
    consent_id: UUID | None
    block_reason: str | None
    dispatched_at: datetime | None
    responses: list[OutreachResponse]


class CustomerOutreach(BaseModel):
    customer_id: str
    outreach: list[Outreach]


async def customer_outreach(db: Any, customer_id: str) -> CustomerOutreach:
    """Every outreach to this customer, with its decision and responses, in order of plan."""
    rows = await db.fetch(
        "SELECT o.outreach_id, o.campaign_id, c.name AS campaign_name, o.channel, o.purpose,"
        " o.planned_for, o.decision, o.decided_at, o.legal_basis, o.consent_id, o.block_reason,"
        " o.dispatched_at, o.responses FROM outreach o LEFT JOIN campaigns c USING (campaign_id)"
        " WHERE o.customer_id = $1 ORDER BY o.planned_for NULLS LAST, o.outreach_id",
        customer_id,
    )
    outreach = [Outreach(**(dict(r) | {"responses": orjson.loads(r["responses"])})) for r in rows]
    return CustomerOutreach(customer_id=customer_id, outreach=outreach)
