"""Reading a customer's consent state from the read model: history, facts, snapshots."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from consentledger.domain import ConsentState, Purchase, state_as_of, with_customer_facts
from dialog_schemas import Event
from dialog_schemas.catalog import CONSENT_EVENTS, upcast
from dialog_schemas.common import Channel, CustomerKind

Connection = Any
"""An asyncpg connection or pool: anything with fetch and fetchrow."""


def event_of(type_: str, version: int, data: Any) -> Event:
    event_class = CONSENT_EVENTS.events[type_]
    current = upcast(type_, version, orjson.loads(data), event_class.schema_version)
    return event_class.model_validate(current)


async def histories(db: Connection, customers: Iterable[str]) -> dict[str, list[Event]]:
    """Each customer's consent events, in the order they were published.

    One customer's events share a partition, so offsets order them. A survivor of a merge also
    holds its duplicates' events from other partitions: each partition's events keep their
    order, and the partitions are interleaved by the time the events were recorded."""
    rows = await db.fetch(
        "SELECT customer_id, partition, recorded_at, type, schema_version, data"
        " FROM consent_history WHERE customer_id = ANY($1::text[])"
        " ORDER BY customer_id, partition, kafka_offset",
        list(customers),
    )
    streams: dict[str, dict[int, list[tuple[datetime, Event]]]] = {}
    for row in rows:
        event = event_of(row["type"], row["schema_version"], row["data"])
        by_partition = streams.setdefault(row["customer_id"], {})
        by_partition.setdefault(row["partition"], []).append((row["recorded_at"], event))
    return {
        customer: [event for _, event in heapq.merge(*parts.values(), key=lambda e: e[0])]
        for customer, parts in streams.items()
    }


async def load_state(
    db: Connection, customer_id: str, at: datetime | None = None
) -> ConsentState | None:
    """The customer's state (as of `at`, if given); None for a customer never registered.

    Consents and customer facts alike count as they stood at `at`: a kind corrected later, a
    purchase made later, a registration later (nothing known yet) do not apply."""
    return (await load_states(db, [customer_id], at)).get(customer_id)


async def load_states(
    db: Connection, customers: Iterable[str], at: datetime | None = None
) -> dict[str, ConsentState]:
    """`load_state` for many customers in four queries; customers never registered are left out."""
    wanted = sorted(set(customers))
    facts = await db.fetch(
        "SELECT customer_id, registered_at, suppressed_channels, erased_at FROM customer_facts"
        " WHERE customer_id = ANY($1::text[])",
        wanted,
    )
    known = [f["customer_id"] for f in facts]
    stories = await histories(db, known)
    kinds: dict[str, list[tuple[CustomerKind, datetime]]] = {}
    for k in await db.fetch(
        "SELECT customer_id, kind, effective_at FROM customer_kinds"
        " WHERE customer_id = ANY($1::text[]) ORDER BY customer_id, effective_at, seq",
        known,
    ):
        kinds.setdefault(k["customer_id"], []).append((CustomerKind(k["kind"]), k["effective_at"]))
    purchases: dict[str, list[Purchase]] = {}
    for p in await db.fetch(
        "SELECT customer_id, purchase_id, category, purchased_at, email_obtained,"
        " objection_notice_given FROM customer_purchases WHERE customer_id = ANY($1::text[])"
        " ORDER BY customer_id, purchased_at",
        known,
    ):
        row = dict(p)
        purchases.setdefault(row.pop("customer_id"), []).append(Purchase(**row))
    states = {}
    for f in facts:
        customer = f["customer_id"]
        state = state_as_of(stories.get(customer, []), at)
        registered = at is None or f["registered_at"] <= at
        suppressed = {Channel(c): f["registered_at"] for c in f["suppressed_channels"]}
        state = replace(
            state,
            suppressed={**(suppressed if registered else {}), **state.suppressed},
            erased_at=f["erased_at"],
        )
        states[customer] = with_customer_facts(
            state, kinds.get(customer, []), purchases.get(customer, []), at
        )
    return states


async def recorded(db: Connection, event_ids: Sequence[Any]) -> list[asyncpg.Record]:
    """The history rows of these events that the projection has applied."""
    rows: list[asyncpg.Record] = await db.fetch(
        "SELECT event_id, type, effective_at, recorded_at, data FROM consent_history"
        " WHERE event_id = ANY($1::uuid[]) ORDER BY partition, kafka_offset",
        list(event_ids),
    )
    return rows
