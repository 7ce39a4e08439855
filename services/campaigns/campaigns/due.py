"""The due-time table: outreach waiting for its decision, and what a round records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from campaigns.audience_store import FIELD_FOR
from campaigns.dispatch import Contact
from campaigns.outbox import WORKER, event_id, request_row, write
from campaigns.phone_zones import UNREAD
from campaigns.triggers import Origin
from dialog_schemas import Envelope
from dialog_schemas.campaigns import CampaignDefinition, FrequencyCaps, TriggerKind
from dialog_schemas.catalog import OUTBOUND_TOPICS
from dialog_schemas.common import Channel, Purpose

REQUEST_PATHS = {
    Channel.PHONE: "phone_number",
    Channel.SMS: "phone_number",
    Channel.EMAIL: "email_address",
    Channel.LETTER: "address",
}


@dataclass(frozen=True)
class Row:
    outreach_id: UUID
    campaign_id: str
    customer_id: str
    channel: Channel
    purpose: Purpose
    deferrals: int
    status: str
    definition: CampaignDefinition
    origin: Origin | None = None
    """The trigger of a triggered outreach."""


@dataclass
class Decisions:
    events: list[tuple[Any, ...]]
    requests: list[tuple[Any, ...]]
    done: list[UUID]
    deferred: list[tuple[UUID, datetime]]
    contacts: list[tuple[UUID, str, str, datetime]]
    retry: list[tuple[UUID, datetime]]
    """Outreach whose decision failed: due again later, not counted as deferred."""

    @classmethod
    def empty(cls) -> Decisions:
        return cls([], [], [], [], [], [])

    def add(self, other: Decisions) -> None:
        """Take over everything one outreach's decision produced."""
        self.events += other.events
        self.requests += other.requests
        self.done += other.done
        self.deferred += other.deferred
        self.contacts += other.contacts
        self.retry += other.retry


DUE = (
    " FROM outreach_due d JOIN campaigns c USING (campaign_id)"
    " LEFT JOIN audience_facts f ON f.customer_id = d.customer_id"
    " WHERE d.due_at <= $1 AND c.status <> 'paused'"
    f" AND coalesce(NOT (d.channel = 'phone' AND {UNREAD}), true)"
)
"""Outreach due at $1: of campaigns not paused; a call only once its customer's zone is known."""


async def anything_due(db: Any, now: datetime) -> bool:
    """Whether some outreach is due at `now` (a cheap look before a round)."""
    found: bool = await db.fetchval(f"SELECT EXISTS (SELECT 1{DUE})", now)
    return found


CUSTOMER_DECISIONS = 7301
"""The advisory-lock class of one customer's outreach decisions (the key is the hash of the
customer id): while a round holds it, no other round decides about that customer."""


async def take_due(connection: asyncpg.Connection, now: datetime, limit: int) -> list[Row]:
    """Up to `limit` outreach due at `now` of campaigns not paused, locked for this
    transaction (rows other transactions hold are skipped), of customers this transaction
    may decide about (`claim_customers`)."""
    records = await connection.fetch(
        "SELECT d.outreach_id, d.campaign_id, d.customer_id, d.channel, d.purpose, d.deferrals,"
        " d.trigger_kind, d.trigger_item, d.triggered_at, d.offer_category,"
        f" c.status, c.definition{DUE} ORDER BY d.due_at, d.outreach_id"
        " LIMIT $2 FOR UPDATE OF d SKIP LOCKED",
        now,
        limit,
    )
    claimed = await claim_customers(connection, sorted({r["customer_id"] for r in records}))
    definitions: dict[str, CampaignDefinition] = {}
    rows = []
    for r in (r for r in records if r["customer_id"] in claimed):
        campaign = r["campaign_id"]
        if campaign not in definitions:
            definitions[campaign] = CampaignDefinition.model_validate_json(r["definition"])
        rows.append(
            Row(
                r["outreach_id"],
                campaign,
                r["customer_id"],
                Channel(r["channel"]),
                Purpose(r["purpose"]),
                r["deferrals"],
                r["status"],
                definitions[campaign],
                _origin(r),
            )
        )
    return rows


async def claim_customers(connection: asyncpg.Connection, customers: list[str]) -> set[str]:
    """The customers whose outreach this transaction decides: for each, the advisory lock of
    `CUSTOMER_DECISIONS` taken without waiting and held until commit. A customer another
    replica's round holds is left: their outreach stays due for a later round, which then sees
    that round's contacts, so a frequency cap holds across replicas as within one round."""
    rows = await connection.fetch(
        "SELECT c FROM unnest($1::text[]) AS c"
        " WHERE pg_try_advisory_xact_lock($2, hashtext(c)) ORDER BY c",
        customers,
        CUSTOMER_DECISIONS,
    )
    return {r["c"] for r in rows}


def _origin(r: Any) -> Origin | None:
    if r["trigger_kind"] is None:
        return None
    kind = TriggerKind(r["trigger_kind"])
    return Origin(kind, r["trigger_item"], r["triggered_at"], r["offer_category"])


async def recent_contacts(
    connection: asyncpg.Connection,
    customers: list[str],
    now: datetime,
    caps: list[FrequencyCaps],
) -> dict[str, list[Contact]]:
    """Each customer's authorized outreach (every campaign) within the longest cap window."""
    windows = [
        c.window_days for cs in caps for c in (cs.per_channel, cs.across_channels) if c is not None
    ]
    if not windows:
        return {}
    window = timedelta(days=max(windows))
    found: dict[str, list[Contact]] = {}
    for r in await connection.fetch(
        "SELECT customer_id, channel, at FROM customer_contacts"
        " WHERE customer_id = ANY($1::text[]) AND at > $2 AND at <= $3",
        customers,
        now - window,
        now,
    ):
        found.setdefault(r["customer_id"], []).append(Contact(Channel(r["channel"]), r["at"]))
    return found


async def record(connection: asyncpg.Connection, decisions: Decisions) -> None:
    """Everything a round decided, in its transaction: events before requests."""
    await write(connection, decisions.events + decisions.requests)
    await connection.execute(
        "DELETE FROM outreach_due WHERE outreach_id = ANY($1::uuid[])", decisions.done
    )
    await connection.executemany(
        "UPDATE outreach_due SET due_at = $2, deferrals = deferrals + 1 WHERE outreach_id = $1",
        decisions.deferred,
    )
    await connection.executemany(
        "UPDATE outreach_due SET due_at = $2 WHERE outreach_id = $1", decisions.retry
    )
    await connection.executemany(
        "INSERT INTO customer_contacts (outreach_id, customer_id, channel, at)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        decisions.contacts,
    )


async def phone_zones(db: Any, customers: list[str]) -> dict[str, list[str]]:
    """The zones each customer's phone number implies, where read (see `phone_zones`)."""
    rows = await db.fetch(
        "SELECT customer_id, phone_zones FROM audience_facts"
        " WHERE customer_id = ANY($1::text[]) AND phone_zones IS NOT NULL",
        customers,
    )
    return {r["customer_id"]: list(r["phone_zones"]) for r in rows}


def request(row: Row, now: datetime, points: dict[str, Any]) -> tuple[Any, ...]:
    """The channel request, its contact point to be opened and sealed by the relay."""
    topic = OUTBOUND_TOPICS[row.channel.value]
    kind = next(iter(topic.events.values()))
    data = {
        "outreach_id": str(row.outreach_id),
        "campaign_id": row.campaign_id,
        "purpose": row.purpose.value,
        "message_ref": row.definition.message_ref,
        "requested_at": now.isoformat(),
        "deadline": (now + timedelta(hours=row.definition.deadline_hours)).isoformat(),
    }
    envelope = Envelope(
        id=event_id(row.outreach_id, "requested"),
        source=WORKER.source,
        type=kind.event_type,
        subject=row.customer_id,
        time=now,
        schemaversion=kind.schema_version,
        correlationid=row.outreach_id,
        data=data,
    )
    field = FIELD_FOR[row.channel]
    return request_row(topic.name, envelope, field, points.get(field), REQUEST_PATHS[row.channel])
