"""HTTP API of the campaigns service: campaign commands and views, a customer's outreach."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, create_model

from campaigns import views
from campaigns.commands import CommandResult, execute
from campaigns.commands import answered as _answer
from campaigns.config import Settings
from campaigns.domain import (
    CreateCampaign,
    LaunchWave,
    PauseCampaign,
    ResumeCampaign,
    StopCampaign,
    UpdateCampaign,
)
from dialog_schemas import CustomerId
from dialog_schemas.campaigns import CampaignDefinition
from dialog_schemas.common import ExternalId
from dialogkit.auth import scope
from dialogkit.http import ApiRuntime, IdempotencyKey, get_runtime
from dialogkit.limits import FewItems

router = APIRouter(prefix="/v1", tags=["campaigns"])
Runtime = Annotated[ApiRuntime[Settings], Depends(get_runtime)]
READ = scope("campaigns:read")
WRITE = scope("campaigns:write")
LAUNCH = scope("campaigns:launch")
"""Launching, pausing, resuming and stopping: what starts or ends outreach to customers."""
CampaignId = ExternalId

_OPTIONAL: dict[str, Any] = {
    name: (field.rebuild_annotation() | None, None)  # keeps each field's constraints
    for name, field in CampaignDefinition.model_fields.items()
}
CampaignChanges: type[BaseModel] = create_model(
    "CampaignChanges", __config__=ConfigDict(extra="forbid"), **_OPTIONAL
)
"""Every field of the definition, each optional: what a PATCH may change."""


@router.post(
    "/campaigns",
    status_code=200,
    tags=["campaigns"],
    dependencies=[WRITE],
    responses={201: {"model": CommandResult, "description": "Created now"}},
)
async def create_campaign(
    command: Annotated[CreateCampaign, FewItems],
    runtime: Runtime,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Set up a draft campaign (201); 409 if the id is taken, 422 naming a wrong field."""
    result = await execute(runtime, command.campaign_id, command, idempotency_key)
    return _answer(result, response, created=True)


@router.patch("/campaigns/{campaign_id}", dependencies=[WRITE])
async def update_campaign(
    campaign_id: CampaignId,
    changes: Annotated[CampaignChanges, Body(), FewItems],
    runtime: Runtime,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Change a draft's definition (fields left out stay); 409 once it is launched."""
    command = UpdateCampaign(changes=changes.model_dump(exclude_unset=True))
    return _answer(await execute(runtime, campaign_id, command, idempotency_key), response)


@router.post("/campaigns/{campaign_id}/launch", dependencies=[LAUNCH])
async def launch_campaign(
    campaign_id: CampaignId,
    runtime: Runtime,
    response: Response,
    command: Annotated[LaunchWave | None, Body()] = None,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Launch a draft (its first wave) or the next wave of a running campaign."""
    wave = command or LaunchWave()
    return _answer(await execute(runtime, campaign_id, wave, idempotency_key), response)


@router.post("/campaigns/{campaign_id}/pause", dependencies=[LAUNCH])
async def pause_campaign(
    campaign_id: CampaignId,
    runtime: Runtime,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Stop deciding and dispatching the campaign's outreach until it is resumed."""
    return _answer(await execute(runtime, campaign_id, PauseCampaign(), idempotency_key), response)


@router.post("/campaigns/{campaign_id}/resume", dependencies=[LAUNCH])
async def resume_campaign(
    campaign_id: CampaignId,
    runtime: Runtime,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Decide and dispatch again; outreach that fell due meanwhile is decided now."""
    return _answer(await execute(runtime, campaign_id, ResumeCampaign(), idempotency_key), response)


@router.post("/campaigns/{campaign_id}/stop", dependencies=[LAUNCH])
async def stop_campaign(
    campaign_id: CampaignId,
    runtime: Runtime,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """End the campaign for good; outreach not decided yet is cancelled."""
    return _answer(await execute(runtime, campaign_id, StopCampaign(), idempotency_key), response)


@router.get("/campaigns/{campaign_id}", dependencies=[READ])
async def get_campaign(campaign_id: CampaignId, runtime: Runtime) -> views.CampaignView:
    """The campaign's definition, status and waves; 404 if it does not exist."""
    return await views.campaign(runtime.pool, campaign_id)


@router.get("/campaigns", dependencies=[READ])
async def list_campaigns(
    runtime: Runtime,
    status: Annotated[
        str | None, Query(pattern="^(draft|running|paused|stopped|completed)$")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> views.CampaignPage:
    """Campaigns in order of creation, optionally of one status; `next_cursor` pages on."""
    return await views.campaigns(runtime.pool, status, limit, cursor)


@router.get("/customers/{customer_id}/outreach", dependencies=[READ])
async def get_customer_outreach(
    customer_id: CustomerId, runtime: Runtime
) -> views.CustomerOutreach:
    """Every outreach to this customer, with its decision and responses, in order of plan."""
    return await views.customer_outreach(runtime.pool, customer_id)
