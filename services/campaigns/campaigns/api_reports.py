"""HTTP API of what marketing reads about a campaign: statistics, audience preview, outreach,
the report (JSON and a page) and the channels compared across campaigns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from campaigns.api import READ, CampaignId, Runtime
from campaigns.dispatch import Policy
from campaigns.rates import ChannelComparison, compare_channels
from campaigns.report import Report, campaign_report
from campaigns.report_page import render
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
from dialog_schemas.common import CalendarDate
from dialogkit.problems import Problem

router = APIRouter(prefix="/v1", tags=["campaigns"])
REASON_PATTERN = "^[a-z_]{1,40}$"
LONGEST_COMPARISON = timedelta(days=366)


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


async def _report(db: Any, campaign_id: str) -> Report:
    found = await db.fetchrow(
        "SELECT name, channel, status FROM campaigns WHERE campaign_id = $1"
        " AND definition IS NOT NULL",
        campaign_id,
    )
    if found is None:
        raise Problem(404, "Not Found", f"campaign {campaign_id} does not exist")
    return await campaign_report(db, campaign_id, found["name"], found["channel"], found["status"])


@router.get("/campaigns/{campaign_id}/report", dependencies=[READ])
async def get_report(campaign_id: CampaignId, runtime: Runtime) -> Report:
    """The funnel (audience, planned, authorized, dispatched, responded, converted), what the
    rules held back by reason, and the response, conversion and opt-out rates in total, per
    channel, per UTC day of dispatch and per wave. 404 for an unknown campaign."""
    return await _report(runtime.pool, campaign_id)


@router.get(
    "/campaigns/{campaign_id}/report.html",
    dependencies=[READ],
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}}},
)
async def get_report_page(campaign_id: CampaignId, runtime: Runtime) -> HTMLResponse:
    """The report as a page to read: the same figures in tables and bar charts (inline SVG).
    404 (problem+json) for an unknown campaign."""
    return HTMLResponse(render(await _report(runtime.pool, campaign_id)))


@router.get("/reports/channels", dependencies=[READ])
async def get_channel_comparison(
    runtime: Runtime, since: CalendarDate, until: CalendarDate
) -> ChannelComparison:
    """Every campaign's outreach dispatched from `since` up to `until` (UTC days, `until`
    exclusive) compared per channel: dispatched, responded, converted, opted out and the rates.
    422 unless both lie in the platform's calendar and `since` < `until` within 366 days."""
    if not timedelta(0) < until - since <= LONGEST_COMPARISON:
        raise Problem(
            422,
            "Invalid request",
            "invalid fields: query.until",
            errors=[{"field": "query.until", "problem": "not after since or over 366 days later"}],
        )
    return await compare_channels(runtime.pool, since, until)
