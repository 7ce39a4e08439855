"""HTTP API of the interactions service: record touchpoints, read a customer's timeline.

Commands go through the shared command path (`interactions.commands`), reads through `views`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from dialog_schemas import CustomerId
from dialog_schemas.common import Channel, Direction, Instant, Label
from dialogkit.auth import Caller, scope
from dialogkit.commands import execute
from dialogkit.http import ApiRuntime, IdempotencyKey, get_runtime
from interactions import views
from interactions.commands import COMMANDS, Accepted, ConfirmContract
from interactions.config import Settings
from interactions.domain import RecordTouchpoint, SendContractConfirmation

router = APIRouter(prefix="/v1", tags=["interactions"])
Runtime = Annotated[ApiRuntime[Settings], Depends(get_runtime)]
Limit = Annotated[int, Query(ge=1, le=500)]
READ = scope("interactions:read")
WRITE = scope("interactions:write")
TIMELINE = scope("interactions:read", audit="timeline")


@router.post("/touchpoints", status_code=status.HTTP_202_ACCEPTED, dependencies=[WRITE])
async def post_touchpoint(
    command: RecordTouchpoint, runtime: Runtime, idempotency_key: IdempotencyKey = None
) -> Accepted:
    """Record a touchpoint; the same touchpoint id for the same customer is recorded once."""
    outcome = await execute(runtime, COMMANDS, command.customer_id, command, idempotency_key)
    return Accepted.of(outcome)


@router.post(
    "/customers/{customer_id}/contract-confirmations", status_code=202, dependencies=[WRITE]
)
async def post_contract_confirmation(
    customer_id: CustomerId,
    command: SendContractConfirmation,
    runtime: Runtime,
    idempotency_key: IdempotencyKey = None,
) -> Accepted:
    """Record that the text-form confirmation of a sale by phone went out (starts the 14 days);
    409 unless `touchpoint_id` is a call of this customer with the `sale` disposition."""
    confirmation = ConfirmContract(command)
    return Accepted.of(await execute(runtime, COMMANDS, customer_id, confirmation, idempotency_key))


@router.get("/customers/{customer_id}/timeline", dependencies=[TIMELINE])
async def get_timeline(
    customer_id: CustomerId,
    runtime: Runtime,
    caller: Caller,
    limit: Limit = 50,
    cursor: Label | None = None,
    channel: Annotated[
        list[Channel] | None, Query(max_length=20, description="repeat for several")
    ] = None,
    direction: Direction | None = None,
    kind: Annotated[
        list[Label] | None, Query(max_length=50, description="event types; repeat for several")
    ] = None,
    since: Instant | None = None,
    until: Instant | None = None,
) -> views.TimelinePage:
    """The customer's timeline, newest first, optionally filtered; pass `next_cursor` back.

    Entries are ordered by when they happened, not when they arrived. A cursor belongs to the
    filters it was issued with; using it with other filters is an error. Notes (what was said or
    written) need `interactions:read-personal`.
    """
    wanted = views.TimelineFilters(channel, direction, kind, since, until)
    opener = runtime.cipher if caller.has("interactions:read-personal") else None
    return await views.timeline_page(runtime.pool, opener, customer_id, limit, cursor, wanted)


@router.get("/customers/{customer_id}/findings", dependencies=[READ])
async def get_customer_findings(
    customer_id: CustomerId, runtime: Runtime, limit: Limit = 50, cursor: Label | None = None
) -> views.FindingsPage:
    """Advertising that reached this customer while they were not eligible, newest first."""
    return await views.findings_page(runtime.pool, customer_id, limit, cursor)


@router.get("/findings", dependencies=[READ])
async def get_findings(
    runtime: Runtime, limit: Limit = 50, cursor: Label | None = None
) -> views.FindingsPage:
    """All compliance findings, newest first."""
    return await views.findings_page(runtime.pool, None, limit, cursor)
