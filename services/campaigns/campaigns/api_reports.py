"""HTTP API of what marketing reads about a campaign: statistics, audience preview, outreach."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel

from campaigns.api import READ, CampaignId
from campaigns.config import Settings
from campaigns.dispatch import Policy
from campaigns.reports import (
    OUTCOMES,
    OutreachDecision,
    Preview,
    PreviewPolicy,
    Statistics,
    outreach_page,
    preview,
    statistics,
)
from dialog_schemas.campaigns import CampaignDefinition
from dialogkit.http import Runtime
from dialogkit.problems import Problem

router = APIRouter(prefix="/v1", tags=["campaigns"])
REASON_PATTERN = "^[a-z_]{1,40}$"


async def _definition(db: Any, campaign_id: str) -> CampaignDefinition:
    found = await db.fetchval(
        "SELECT definition FROM campaigns WHERE campaign_id = $1", campaign_id
    )
    if found is None:
        raise Problem(404, "Not Found", f"campaign {campaign_id} does not exist")
    return CampaignDefinition.model_validate_json(found)


@router.get("/campaigns/{campaign_id}/statistics", dependencies=[READ])
async def get_statistics(campaign_id: CampaignId, runtime: Runtime) -> Statistics:
    """Audience, planned, authorized, blocked by reason, deferred, dispatched per wave and
    channel; planned = authorized + blocked + cancelled + pending. 404 for an unknown campaign."""
    await _definition(runtime.pool, campaign_id)
    return await statistics(runtime.pool, campaign_id)


@router.get("/campaigns/{campaign_id}/audience/preview", dependencies=[READ])
async def preview_audience(
    campaign_id: CampaignId,
    runtime: Runtime,
    sample: Annotated[int, Query(ge=0, le=100)] = 20,
) -> Preview:
    """How many customers the audience holds now, a sample of their ids (in id order), and how
    many of them the dispatch decision would block now, by reason."""
    definition = await _definition(runtime.pool, campaign_id)
    settings = runtime.settings
    assert isinstance(settings, Settings)
    rules = PreviewPolicy(
        Policy(calling_hours=settings.calling_hours, consent_expiry=settings.consent_expiry),
        settings.frequency_caps,
        settings.default_time_zone,
    )
    return await preview(runtime.pool, definition, rules, datetime.now(UTC), sample)


class OutreachList(BaseModel):
    campaign_id: str
    outreach: list[OutreachDecision]
    next_cursor: UUID | None


@router.get("/campaigns/{campaign_id}/outreach", dependencies=[READ])
async def list_outreach(
    campaign_id: CampaignId,
    runtime: Runtime,
    outcome: Annotated[str | None, Query(pattern=f"^({'|'.join(OUTCOMES)})$")] = None,
    reason: Annotated[str | None, Query(pattern=REASON_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: UUID | None = None,
) -> OutreachList:
    """The campaign's outreach with each decision and its reason, in outreach id order,
    optionally of one outcome and reason; `next_cursor` pages on. 404 for an unknown campaign."""
    await _definition(runtime.pool, campaign_id)
    page = await outreach_page(runtime.pool, campaign_id, outcome, reason, cursor, limit + 1)
    more = len(page) > limit
    page = page[:limit]
    return OutreachList(
        campaign_id=campaign_id,
        outreach=page,
        next_cursor=page[-1].outreach_id if more else None,
    )
