"""Reading customer facts for audiences, a page of customers at a time, in id order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from campaigns.audience import CustomerFacts
from dialog_schemas.common import Channel, CustomerKind

REACHED_BY: dict[str, tuple[Channel, ...]] = {
    "phone_numbers": (Channel.PHONE, Channel.SMS),
    "email_addresses": (Channel.EMAIL,),
    "addresses": (Channel.LETTER,),
}
"""Which channels a contact-point field serves; the field each channel's request uses first."""
FIELD_FOR: dict[Channel, str] = {c: f for f, cs in REACHED_BY.items() for c in cs}


def reachable_on(points: dict[str, Any]) -> frozenset[Channel]:
    """Channels with a contact point: a plain non-empty list, or a sealed value (which is
    opened only when the request is sealed; an empty one then cancels the outreach)."""
    return frozenset(
        c for f, cs in REACHED_BY.items() if points.get(f) not in (None, [], "") for c in cs
    )


FACTS = (
    "SELECT f.customer_id, f.kind, f.registered_at, f.customer_since, f.interests, f.time_zone,"
    " f.contact_points, f.objected, f.erased,"
    " (SELECT coalesce(jsonb_agg(jsonb_build_array(h.category, h.item_id, h.cancelled_at)),"
    "   '[]') FROM audience_holdings h WHERE h.customer_id = f.customer_id) AS holdings,"
    " (SELECT coalesce(jsonb_object_agg(t.touch, t.last_at), '{}') FROM audience_touches t"
    "   WHERE t.customer_id = f.customer_id) AS touches"
    " FROM audience_facts f"
)


def facts_of(row: Any) -> CustomerFacts:
    held: set[str] = set()
    cancelled: dict[str, datetime] = {}
    for category, item, cancelled_at in orjson.loads(row["holdings"]):
        if category is None:
            continue
        if cancelled_at is None or item.startswith("purchase:"):
            held.add(category)
        if cancelled_at is not None:
            at = datetime.fromisoformat(cancelled_at)
            cancelled[category] = max(at, cancelled.get(category, at))
    contact: dict[Channel, datetime] = {}
    response: dict[Channel, datetime] = {}
    for touch, at in orjson.loads(row["touches"]).items():
        channel, _, direction = touch.partition("/")
        (contact if direction == "outbound" else response)[Channel(channel)] = (
            datetime.fromisoformat(at)
        )
    return CustomerFacts(
        customer_id=row["customer_id"],
        kind=CustomerKind(row["kind"]) if row["kind"] else None,
        registered_at=row["registered_at"],
        customer_since=row["customer_since"],
        held=frozenset(held),
        cancelled=cancelled,
        interests=frozenset(row["interests"]),
        time_zone=row["time_zone"],
        last_contact=contact,
        last_response=response,
        reachable_on=reachable_on(orjson.loads(row["contact_points"])),
        objected=row["objected"],
        erased=row["erased"],
    )


async def facts_page(db: Any, after: str, limit: int) -> list[CustomerFacts]:
    """Up to `limit` customers' facts with ids after `after`, in id order."""
    rows = await db.fetch(
        FACTS + " WHERE f.customer_id > $1 ORDER BY f.customer_id LIMIT $2", after, limit
    )
    return [facts_of(r) for r in rows]


async def facts_for(db: Any, customers: Sequence[str]) -> dict[str, CustomerFacts]:
    """These customers' facts (those known), by id."""
    rows = await db.fetch(FACTS + " WHERE f.customer_id = ANY($1::text[])", list(customers))
    return {r["customer_id"]: facts_of(r) for r in rows}


async def contact_points(db: Any, customers: Sequence[str]) -> dict[str, dict[str, Any]]:
    """These customers' contact points as the contacts topic carried them (sealed), by field."""
    rows = await db.fetch(
        "SELECT customer_id, contact_points FROM audience_facts"
        " WHERE customer_id = ANY($1::text[])",
        list(customers),
    )
    return {r["customer_id"]: orjson.loads(r["contact_points"]) for r in rows}
