"""HTTP API of the interactions service: record touchpoints, read a customer's timeline."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

import orjson
from fastapi import APIRouter, Query, status
from pydantic import BaseModel

from dialog_schemas import CustomerId, Envelope
from dialog_schemas.catalog import INTERACTIONS_EVENTS
from dialogkit.http import Runtime
from dialogkit.problems import Problem
from dialogkit.tracing import current_traceparent
from interactions.domain import (
    RecordTouchpoint,
    record_touchpoint,
    touchpoint_event_id,
)

router = APIRouter(prefix="/v1", tags=["interactions"])


class Accepted(BaseModel):
    event_id: UUID
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


@router.post("/touchpoints", status_code=status.HTTP_202_ACCEPTED)
async def post_touchpoint(command: RecordTouchpoint, runtime: Runtime) -> Accepted:
    """Record a touchpoint; the same touchpoint id for the same customer is recorded once."""
    events = record_touchpoint(command, datetime.now(UTC))
    event_id = touchpoint_event_id(command.customer_id, command.touchpoint_id)
    envelopes = [
        Envelope.wrap(
            event,
            id=event_id,
            source=f"/{runtime.service}/api",
            subject=command.customer_id,
            time=datetime.now(UTC),
            traceparent=current_traceparent(),
        )
        for event in events
    ]
    await runtime.publisher.publish(INTERACTIONS_EVENTS.name, envelopes)
    return Accepted(event_id=event_id)


@router.get("/customers/{customer_id}/timeline")
async def get_timeline(
    customer_id: CustomerId,
    runtime: Runtime,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> TimelinePage:
    """The customer's timeline, newest first; pass `next_cursor` back to read further."""
    after_time, after_id = decode_cursor(cursor) if cursor else (None, None)
    rows = await runtime.pool.fetch(
        "SELECT entry_id, occurred_at, kind, channel, direction, summary, source, source_ref,"
        " correlation_id FROM timeline_entries WHERE customer_id = $1"
        " AND ($2::timestamptz IS NULL OR (occurred_at, entry_id) < ($2, $3::uuid))"
        " ORDER BY occurred_at DESC, entry_id DESC LIMIT $4",
        customer_id,
        after_time,
        after_id,
        limit + 1,
    )
    entries = [TimelineEntry(**dict(r)) for r in rows[:limit]]
    more = len(rows) > limit
    last = entries[-1] if entries else None
    return TimelinePage(
        customer_id=customer_id,
        entries=entries,
        next_cursor=encode_cursor(last.occurred_at, last.entry_id) if more and last else None,
    )


def encode_cursor(occurred_at: datetime, entry_id: UUID) -> str:
    """An opaque position in a timeline: the last entry a page returned."""
    raw = orjson.dumps([occurred_at.isoformat(), str(entry_id)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        occurred_at, entry_id = orjson.loads(raw)
        position = datetime.fromisoformat(occurred_at), UUID(entry_id)
        if position[0].tzinfo is None:
            raise ValueError("cursor time without zone")
        return position
    except (ValueError, TypeError) as error:
        raise Problem(
            400, "Invalid cursor", "cursor is not one this API returned", field="cursor"
        ) from error
