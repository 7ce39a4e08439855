"""The audit trail, queryable by customer: every service's personal-data access records.

Every API publishes a `PersonalDataAccessed` to `audit.events.v1` for each read of personal
data, export, erasure and merge (dialogkit.audit). This projection keeps them in `audit_trail`;
a data-protection officer reads them with `GET /v1/customers/{id}/audit` (scope
`contacts:audit`); `AuditRetention` deletes records older than `CONTACTS_AUDIT_RETENTION_DAYS`.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import orjson
from fastapi import APIRouter, Query
from pydantic import BaseModel

from dialog_schemas import CustomerId
from dialog_schemas.audit import AuditOutcome, PersonalDataAccessed
from dialog_schemas.catalog import AUDIT_EVENTS
from dialog_schemas.common import Label
from dialogkit.auth import scope
from dialogkit.http import Runtime
from dialogkit.problems import Problem
from dialogkit.projection import Decoded
from dialogkit.publishing import EventPublisher

router = APIRouter(prefix="/v1", tags=["audit"])

COLUMNS = (
    "event_id, customer_id, at, actor, action, service, method, route, status, outcome,"
    " personal_fields_shown"
)


class AuditTrailProjection:
    name = "contacts.audit_trail"
    source = AUDIT_EVENTS

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        rows = []
        for decoded in events:
            access = decoded.event
            assert isinstance(access, PersonalDataAccessed)
            envelope = decoded.envelope
            rows.append(
                (
                    envelope.id,
                    envelope.subject,
                    envelope.time,
                    access.actor,
                    access.action,
                    access.service,
                    access.method,
                    access.route,
                    access.status,
                    access.outcome.value,
                    access.personal_fields_shown,
                )
            )
        await connection.executemany(
            f"INSERT INTO audit_trail ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
            " $10, $11) ON CONFLICT (event_id) DO NOTHING",
            rows,
        )


class AuditRetention:
    """Deletes audit records older than the retention period, a bounded batch per round."""

    name = "audit-retention"

    def __init__(self, retention: timedelta, interval_s: float = 3600, batch: int = 10_000):
        self.retention = retention
        self.interval_s = interval_s
        self.batch = batch

    async def run(self, pool: Any, publisher: EventPublisher, now: datetime | None = None) -> int:
        """Delete what is past the retention period; returns how many records went."""
        cutoff = (now or datetime.now(UTC)) - self.retention
        deleted = 0
        while True:
            result: str = await pool.execute(
                "DELETE FROM audit_trail WHERE event_id IN"
                " (SELECT event_id FROM audit_trail WHERE at < $1 LIMIT $2)",
                cutoff,
                self.batch,
            )
            count = int(result.rsplit(" ", 1)[1])
            deleted += count
            if count < self.batch:
                return deleted


async def audit_page(
    db: Any, customer_id: str, limit: int, before: tuple[datetime, Any] | None
) -> list[dict[str, Any]]:
    """The customer's audit records, newest first, from before the given position."""
    rows = await db.fetch(
        f"SELECT {COLUMNS} FROM audit_trail WHERE customer_id = $1"
        " AND ($2::timestamptz IS NULL OR (at, event_id) < ($2, $3::uuid))"
        " ORDER BY at DESC, event_id DESC LIMIT $4",
        customer_id,
        before[0] if before else None,
        before[1] if before else None,
        limit,
    )
    return [dict(r) for r in rows]


class AuditRecord(BaseModel):
    event_id: UUID
    at: datetime
    actor: str
    action: str
    service: str
    method: str
    route: str
    status: int
    outcome: AuditOutcome
    personal_fields_shown: bool


class AuditTrailPage(BaseModel):
    customer_id: str
    records: list[AuditRecord]
    next_cursor: str | None


@router.get("/customers/{customer_id}/audit", dependencies=[scope("contacts:audit")])
async def get_audit_trail(
    customer_id: CustomerId,
    runtime: Runtime,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Label | None = None,
) -> AuditTrailPage:
    """Who read, exported, erased or merged the customer's personal data, newest first.

    For the data-protection officer (GDPR Art. 5(2), 30); records are kept for
    `CONTACTS_AUDIT_RETENTION_DAYS`. Pass `next_cursor` back for the next page."""
    rows = await audit_page(
        runtime.pool, customer_id, limit + 1, decode_cursor(cursor) if cursor else None
    )
    records = [AuditRecord(**{k: v for k, v in r.items() if k != "customer_id"}) for r in rows]
    more = len(records) > limit
    records = records[:limit]
    last = records[-1] if more else None
    return AuditTrailPage(
        customer_id=customer_id,
        records=records,
        next_cursor=encode_cursor(last.at, last.event_id) if last else None,
    )


def encode_cursor(at: datetime, event_id: UUID) -> str:
    raw = orjson.dumps([at.isoformat(), str(event_id)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        at, event_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        position = datetime.fromisoformat(at), UUID(event_id)
    except (ValueError, TypeError) as error:
        raise Problem(
            400, "Invalid cursor", "cursor is not one this API returned", field="cursor"
        ) from error
    if position[0].tzinfo is None:
        raise Problem(400, "Invalid cursor", "cursor is not one this API returned", field="cursor")
    return position
