"""HTTP API of the campaigns service: a customer's campaign outreach."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import orjson
from fastapi import APIRouter
from pydantic import BaseModel

from dialog_schemas import CustomerId
from dialogkit.http import Runtime

router = APIRouter(prefix="/v1", tags=["campaigns"])


class OutreachResponse(BaseModel):
    response_id: str
    kind: str
    channel: str
    received_at: datetime


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


@router.get("/customers/{customer_id}/outreach")
async def get_customer_outreach(customer_id: CustomerId, runtime: Runtime) -> CustomerOutreach:
    """Every outreach to this customer, with its decision and responses, in order of plan."""
    rows = await runtime.pool.fetch(
        "SELECT o.outreach_id, o.campaign_id, c.name AS campaign_name, o.channel, o.purpose,"
        " o.planned_for, o.decision, o.decided_at, o.legal_basis, o.consent_id, o.block_reason,"
        " o.dispatched_at, o.responses FROM outreach o LEFT JOIN campaigns c USING (campaign_id)"
        " WHERE o.customer_id = $1 ORDER BY o.planned_for NULLS LAST, o.outreach_id",
        customer_id,
    )
    outreach = [Outreach(**(dict(r) | {"responses": orjson.loads(r["responses"])})) for r in rows]
    return CustomerOutreach(customer_id=customer_id, outreach=outreach)
