"""HTTP API of the interactions service: record touchpoints, read a customer's timeline."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID, uuid5

import orjson
from fastapi import APIRouter, Query, status
from pydantic import BaseModel

from dialog_schemas import CustomerId, Envelope, Event
from dialog_schemas.catalog import INTERACTIONS_EVENTS
from dialog_schemas.common import Channel, Direction, Instant, Label
from dialogkit.auth import Caller, scope
from dialogkit.customers import refuse_merged
from dialogkit.http import ApiRuntime, Runtime
from dialogkit.problems import Problem
from dialogkit.tracing import current_traceparent
from interactions.config import Settings
from interactions.domain import (
    RecordTouchpoint,
    Sale,
    SendContractConfirmation,
    event_ids,
    record_touchpoint,
    send_contract_confirmation,
    touchpoint_event_id,
)

router = APIRouter(prefix="/v1", tags=["interactions"])


class Accepted(BaseModel):
    event_id: UUID
    """The touchpoint's (or confirmation's) event id."""
    event_ids: list[UUID] = []
    """With the events of its consequences (opt-out, confirmation due)."""
    status: str = "accepted"


class TimelineEntry(BaseModel):
    entry_id: UUID
    occurred_at: datetime
    kind: str
    channel: str | None
    direction: str | None
    summary: str
    source: str
    source_ref: str | None
    correlation_id: UUID


class TimelinePage(BaseModel):
    customer_id: str
    entries: list[TimelineEntry]
    next_cursor: str | None


@router.post(
    "/touchpoints", status_code=status.HTTP_202_ACCEPTED, dependencies=[scope("interactions:write")]
)
async def post_touchpoint(command: RecordTouchpoint, runtime: Runtime) -> Accepted:
    """Record a touchpoint; the same touchpoint id for the same customer is recorded once."""
    await refuse_merged(runtime.pool, command.customer_id)
    now = datetime.now(UTC)
    events = record_touchpoint(command, now)
    ids = event_ids(command.customer_id, command.touchpoint_id, events)
    await publish(runtime, command.customer_id, events, ids, now)
    return Accepted(event_id=ids[0], event_ids=ids)


@router.post(
    "/customers/{customer_id}/contract-confirmations",
    status_code=202,
    dependencies=[scope("interactions:write")],
)
async def post_contract_confirmation(
    customer_id: CustomerId, command: SendContractConfirmation, runtime: Runtime
) -> Accepted:
    """Record that the text-form confirmation of a sale by phone went out (starts the 14 days);
    409 unless `touchpoint_id` is a call of this customer with the `sale` disposition."""
    sale = await find_sale(runtime, customer_id, command.touchpoint_id)
    now = datetime.now(UTC)
    event = send_contract_confirmation(command, now, sale)
    event_id = uuid5(touchpoint_event_id(customer_id, command.touchpoint_id), event.event_type)
    await publish(runtime, customer_id, [event], [event_id], now)
    return Accepted(event_id=event_id, event_ids=[event_id])


async def find_sale(runtime: ApiRuntime, customer_id: str, touchpoint_id: str) -> Sale | None:
    """The customer's sale call `touchpoint_id`, waiting up to `sale_wait_s` for the read model
    to show a call recorded a moment ago; None if there is none."""
    assert isinstance(runtime.settings, Settings)
    deadline = time.monotonic() + runtime.settings.sale_wait_s
    while True:
        sale_at = await runtime.pool.fetchval(
            "SELECT occurred_at FROM timeline_entries WHERE customer_id = $1"
            " AND kind = 'ContractConfirmationDue' AND source_ref = $2 LIMIT 1",
            customer_id,
            touchpoint_id,
        )
        if sale_at is not None:
            return Sale(touchpoint_id, sale_at)
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(0.05)


async def publish(
    runtime: ApiRuntime, customer_id: str, events: list[Event], ids: list[UUID], now: datetime
) -> None:
    envelopes = [
        Envelope.wrap(
            event,
            id=event_id,
            source=f"/{runtime.service}/api",
            subject=customer_id,
            time=now,
            traceparent=current_traceparent(),
        )
        for event, event_id in zip(events, ids, strict=True)
    ]
    envelopes = await runtime.cipher.seal_envelopes(envelopes)
    await runtime.publisher.publish(INTERACTIONS_EVENTS.name, envelopes)


@router.get(
    "/customers/{customer_id}/timeline",
    dependencies=[scope("interactions:read", audit="timeline")],
)
async def get_timeline(
    customer_id: CustomerId,
    runtime: Runtime,
    caller: Caller,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
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
) -> TimelinePage:
    """The customer's timeline, newest first, optionally filtered; pass `next_cursor` back.

    Entries are ordered by when they happened, not when they arrived. A cursor belongs to the
    filters it was issued with; using it with other filters is an error.

    Notes (what was said or written) need `interactions:read-personal`.
    """
    filters = {
        "channel": sorted(c.value for c in channel or []),
        "direction": direction.value if direction else None,
        "kind": sorted(kind or []),
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
    }
    fingerprint = hashlib.sha256(orjson.dumps(filters)).hexdigest()[:16]
    after_time, after_id = decode_cursor(cursor, fingerprint) if cursor else (None, None)
    rows = await runtime.pool.fetch(
        "SELECT entry_id, occurred_at, kind, channel, direction,"
        " summary || CASE WHEN $10 THEN coalesce(': ' || note, '') ELSE '' END AS summary,"
        " source, source_ref,"
        " correlation_id FROM timeline_entries WHERE customer_id = $1"
        " AND ($2::timestamptz IS NULL OR (occurred_at, entry_id) < ($2, $3::uuid))"
        " AND (cardinality($5::text[]) = 0 OR channel = ANY($5))"
        " AND ($6::text IS NULL OR direction = $6)"
        " AND (cardinality($7::text[]) = 0 OR kind = ANY($7))"
        " AND ($8::timestamptz IS NULL OR occurred_at >= $8)"
        " AND ($9::timestamptz IS NULL OR occurred_at < $9)"
        " ORDER BY occurred_at DESC, entry_id DESC LIMIT $4",
        customer_id,
        after_time,
        after_id,
        limit + 1,
        filters["channel"],
        filters["direction"],
        filters["kind"],
        since,
        until,
        caller.has("interactions:read-personal"),
    )
    entries = [TimelineEntry(**dict(r)) for r in rows[:limit]]
    more = len(rows) > limit
    last = entries[-1] if entries else None
    return TimelinePage(
        customer_id=customer_id,
        entries=entries,
        next_cursor=(
            encode_cursor(last.occurred_at, last.entry_id, fingerprint) if more and last else None
        ),
    )


def encode_cursor(occurred_at: datetime, entry_id: UUID, filters: str = "") -> str:
    """An opaque position in a timeline: the last entry a page returned, and its filters."""
    raw = orjson.dumps([occurred_at.isoformat(), str(entry_id), filters])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, filters: str = "") -> tuple[datetime, UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        occurred_at, entry_id, issued_for = orjson.loads(raw)
        position = datetime.fromisoformat(occurred_at), UUID(entry_id)
        if position[0].tzinfo is None:
            raise ValueError("cursor time without zone")
    except (ValueError, TypeError) as error:
        raise Problem(
            400, "Invalid cursor", "cursor is not one this API returned", field="cursor"
        ) from error
    if issued_for != filters:
        raise Problem(
            400,
            "Invalid cursor",
            "the cursor was issued for other filters; repeat the filters of the first page",
            field="cursor",
        )
    return position


class Finding(BaseModel):
    finding_id: UUID
    customer_id: str
    touchpoint_id: str
    channel: str
    purpose: str
    reason: str
    occurred_at: datetime


class FindingsPage(BaseModel):
    findings: list[Finding]
    next_cursor: str | None


FINDINGS = (
    "SELECT finding_id, customer_id, touchpoint_id, channel, purpose, reason, occurred_at"
    " FROM compliance_findings WHERE ($1::text IS NULL OR customer_id = $1)"
    " AND ($2::timestamptz IS NULL OR (occurred_at, finding_id) < ($2, $3::uuid))"
    " ORDER BY occurred_at DESC, finding_id DESC LIMIT $4"
)


async def findings_page(
    runtime: ApiRuntime, customer_id: str | None, limit: int, cursor: str | None
) -> FindingsPage:
    scope = f"findings:{customer_id or '*'}"
    after_time, after_id = decode_cursor(cursor, scope) if cursor else (None, None)
    rows = await runtime.pool.fetch(FINDINGS, customer_id, after_time, after_id, limit + 1)
    found = [Finding(**dict(r)) for r in rows[:limit]]
    last = found[-1] if found and len(rows) > limit else None
    return FindingsPage(
        findings=found,
        next_cursor=encode_cursor(last.occurred_at, last.finding_id, scope) if last else None,
    )


@router.get("/customers/{customer_id}/findings", dependencies=[scope("interactions:read")])
async def get_customer_findings(
    customer_id: CustomerId,
    runtime: Runtime,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Label | None = None,
) -> FindingsPage:
    """Advertising that reached this customer while they were not eligible, newest first."""
    return await findings_page(runtime, customer_id, limit, cursor)


@router.get("/findings", dependencies=[scope("interactions:read")])
async def get_findings(
    runtime: Runtime, limit: Annotated[int, Query(ge=1, le=500)] = 50, cursor: Label | None = None
) -> FindingsPage:
    """All compliance findings, newest first."""
    return await findings_page(runtime, None, limit, cursor)
