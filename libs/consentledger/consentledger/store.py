"""Reading a customer's consent state from the read model: history, facts, snapshots."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from consentledger import snapshots
from consentledger.domain import (
    ConsentState,
    state_as_of,
)
from consentledger.effective import effective_at
from consentledger.facts import CustomerFacts
from dialog_schemas import Event
from dialog_schemas.catalog import CONSENT_EVENTS, upcast

Connection = Any
"""An asyncpg connection or pool: anything with fetch and fetchrow."""


def event_of(type_: str, version: int, data: Any) -> Event:
    """The event of a history row: `data` as stored (JSON text) or already parsed, upcast."""
    event_class = CONSENT_EVENTS.events[type_]
    raw = orjson.loads(data) if isinstance(data, str | bytes) else data
    current = upcast(type_, version, raw, event_class.schema_version)
    return event_class.model_validate(current)


async def histories(db: Connection, customers: Iterable[str]) -> dict[str, list[Event]]:
    """Each customer's consent events, in the order they were published.

    One customer's events share a partition, so offsets order them. A survivor of a merge also
    holds its duplicates' events from other partitions: each partition's events keep their
    order, and the partitions are interleaved by the time the events were recorded."""
    rows = await _rows_since(db, {c: NO_POSITION for c in customers})
    return {customer: [row.event for row in found] for customer, found in rows.items()}


@dataclass(frozen=True)
class _Row:
    partition: int
    kafka_offset: int
    event: Event


NO_POSITION = (-1, -1)
"""Before every history row: `_rows_since` it gives the whole history."""


async def _rows_since(
    db: Connection, since: Mapping[str, tuple[int, int]]
) -> dict[str, list[_Row]]:
    """Each customer's history rows after (partition, offset), and any in another partition
    (which make the snapshot at that position unusable), in the order of `histories`."""
    wanted = sorted(since)
    rows = await db.fetch(
        "SELECT h.customer_id, h.partition, h.kafka_offset, h.recorded_at, h.type,"
        " h.schema_version, h.data FROM unnest($1::text[], $2::int[], $3::bigint[])"
        " AS w(customer_id, partition, kafka_offset)"
        " JOIN consent_history h ON h.customer_id = w.customer_id"
        " AND ((h.partition, h.kafka_offset) > (w.partition, w.kafka_offset)"
        "  OR h.partition < w.partition)"
        " ORDER BY h.customer_id, h.partition, h.kafka_offset",
        wanted,
        [since[c][0] for c in wanted],
        [since[c][1] for c in wanted],
    )
    streams: dict[str, list[tuple[int, int, datetime, Event]]] = {}
    for row in rows:
        event = event_of(row["type"], row["schema_version"], row["data"])
        streams.setdefault(row["customer_id"], []).append(
            (row["partition"], row["kafka_offset"], row["recorded_at"], event)
        )
    return {customer: _in_order(found) for customer, found in streams.items()}


def _in_order(rows: Iterable[tuple[int, int, datetime, Event]]) -> list[_Row]:
    """Rows in (partition, offset) order, the partitions interleaved by recording time."""
    parts: dict[int, list[tuple[datetime, _Row]]] = {}
    for partition, offset, recorded_at, event in rows:
        parts.setdefault(partition, []).append((recorded_at, _Row(partition, offset, event)))
    if len(parts) == 1:
        return [row for _, row in next(iter(parts.values()))]
    return [row for _, row in heapq.merge(*parts.values(), key=lambda e: e[0])]


def _history(data: str | None) -> list[_Row]:
    """The rows `FACTS` aggregates as JSON, in the order of `histories`."""
    return _in_order(
        (p, o, datetime.fromisoformat(t), event_of(type_, v, d))
        for p, o, t, type_, v, d in (orjson.loads(data) if data else [])
    )


async def load_state(
    db: Connection, customer_id: str, at: datetime | None = None
) -> ConsentState | None:
    """The customer's state (as of `at`, if given); None for a customer never registered.

    Consents and customer facts alike count as they stood at `at`: a kind corrected later, a
    purchase made later, a registration later (nothing known yet) do not apply."""
    return (await load_states(db, [customer_id], at)).get(customer_id)


FACTS = (
    "SELECT f.customer_id, f.registered_at, f.suppressed_channels, f.erased_at,"
    " ARRAY(SELECT k.kind FROM customer_kinds k WHERE k.customer_id = f.customer_id"
    "  ORDER BY k.effective_at, k.seq) AS kinds,"
    " ARRAY(SELECT k.effective_at FROM customer_kinds k WHERE k.customer_id = f.customer_id"
    "  ORDER BY k.effective_at, k.seq) AS kinds_since,"
    " (SELECT json_agg(json_build_array(p.purchase_id, p.category, p.purchased_at,"
    "  p.email_obtained, p.objection_notice_given) ORDER BY p.purchased_at)"
    "  FROM customer_purchases p WHERE p.customer_id = f.customer_id) AS purchases,"
    " s.state AS snapshot, s.partition AS snapshot_partition,"
    " s.kafka_offset AS snapshot_offset, s.through AS snapshot_through,"
    " (SELECT json_agg(json_build_array(h.partition, h.kafka_offset, h.recorded_at, h.type,"
    "  h.schema_version, h.data) ORDER BY h.partition, h.kafka_offset) FROM consent_history h"
    "  WHERE h.customer_id = f.customer_id AND ((h.partition, h.kafka_offset)"
    "  > (coalesce(s.partition, -1), coalesce(s.kafka_offset, -1)) OR h.partition < s.partition))"
    " AS history"
    " FROM unnest($1::text[], $3::timestamptz[]) AS w(customer_id, at)"
    " JOIN customer_facts f ON f.customer_id = w.customer_id"
    " LEFT JOIN consent_snapshots s ON s.customer_id = f.customer_id"
    "  AND s.format = $2 AND f.erased_at IS NULL"
    "  AND (w.at IS NULL OR s.through IS NULL OR s.through <= w.at)"
    "  AND NOT EXISTS (SELECT 1 FROM customer_merges m"
    "   WHERE m.duplicate = f.customer_id OR m.survivor = f.customer_id)"
)
"""Each customer's facts, kinds and purchases, the snapshot usable for questions about times
from `at` on (see `consentledger.snapshots`) and the history rows after it, in one query."""

Question = tuple[str, datetime | None]
"""A customer and the time asked about (None: now, every event)."""


async def load_states(
    db: Connection, customers: Iterable[str], at: datetime | None = None
) -> dict[str, ConsentState]:
    """`load_state` for many customers in one query (two if a history moved partition);
    customers never registered are left out."""
    found = await states_at(db, [(c, at) for c in customers])
    return {customer: state for (customer, _), state in found.items()}


async def states_at(db: Connection, questions: Iterable[Question]) -> dict[Question, ConsentState]:
    """Each (customer, time)'s state as `load_state` gives it, for any mix of customers and
    times, in one query (two if a history moved partition); customers never registered are
    left out.

    A customer's consent history is folded from its snapshot where one answers for the
    earliest time asked about it, else from the start: the answers are the same
    (`consentledger.snapshots`); only the events after the snapshot are read."""
    wanted = set(questions)
    earliest: dict[str, datetime | None] = {}
    for customer, at in wanted:
        if at is not None:
            before = earliest.get(customer)
            earliest[customer] = at if before is None else min(before, at)
        else:
            earliest.setdefault(customer, None)
    customers = sorted(earliest)
    facts = {
        f["customer_id"]: f
        for f in await db.fetch(
            FACTS, customers, snapshots.FORMAT, [earliest[c] for c in customers]
        )
    }
    since = {c: (_snapshot(f), _history(f["history"])) for c, f in facts.items()}
    moved = [
        c for c, (s, rows) in since.items() if s and any(r.partition != s.partition for r in rows)
    ]
    if moved:  # the customer's events are no longer in one partition: fold them all
        whole = await _rows_since(db, {c: NO_POSITION for c in moved})
        since |= {c: (None, whole.get(c, [])) for c in moved}
    known = {c: CustomerFacts.of(f) for c, f in facts.items()}  # read once, shared by its questions
    events = {c: [r.event for r in rows] for c, (_, rows) in since.items()}
    states = {}
    for customer, at in wanted:
        f = known.get(customer)
        if f is None:
            continue
        snapshot = since[customer][0]
        state = state_as_of(events[customer], at, snapshot.state if snapshot else None)
        states[customer, at] = f.applied(state, at)
    return states


async def _since(
    db: Connection, start: Mapping[str, snapshots.Snapshot | None]
) -> dict[str, tuple[snapshots.Snapshot | None, list[_Row]]]:
    """Each customer's snapshot (if any) and the history rows after it."""
    rows = await _rows_since(db, {c: _position(s) for c, s in start.items()})
    moved = [
        c
        for c, s in start.items()
        if s is not None and any(r.partition != s.partition for r in rows.get(c, ()))
    ]
    if moved:  # the customer's events are no longer in one partition: fold them all
        rows |= await _rows_since(db, {c: NO_POSITION for c in moved})
    return {c: (None if c in moved else s, rows.get(c, [])) for c, s in start.items()}


async def fold(
    db: Connection, start: Mapping[str, snapshots.Snapshot | None]
) -> dict[str, snapshots.Snapshot]:
    """Each customer's whole history folded, from its snapshot where it has one: the snapshot
    after its last event."""
    folded = {}
    for customer, (snapshot, found) in (await _since(db, start)).items():
        events = [r.event for r in found]
        times = [t for t in map(effective_at, events) if t is not None]
        if snapshot is not None and snapshot.through is not None:
            times.append(snapshot.through)
        partition, offset = (
            (found[-1].partition, found[-1].kafka_offset) if found else _position(snapshot)
        )
        state = state_as_of(events, None, snapshot.state if snapshot else None)
        partitions = {r.partition for r in found} | ({snapshot.partition} if snapshot else set())
        folded[customer] = snapshots.Snapshot(
            state, partition, offset, max(times, default=None), kept=len(partitions) <= 1
        )
    return folded


def _position(snapshot: snapshots.Snapshot | None) -> tuple[int, int]:
    return NO_POSITION if snapshot is None else (snapshot.partition, snapshot.kafka_offset)


def _snapshot(facts: Any) -> snapshots.Snapshot | None:
    if facts["snapshot"] is None:
        return None
    return snapshots.Snapshot(
        snapshots.decode(facts["snapshot"]),
        facts["snapshot_partition"],
        facts["snapshot_offset"],
        facts["snapshot_through"],
    )


async def recorded(db: Connection, event_ids: Sequence[Any]) -> list[asyncpg.Record]:
    """The history rows of these events that the projection has applied."""
    rows: list[asyncpg.Record] = await db.fetch(
        "SELECT event_id, type, effective_at, recorded_at, data FROM consent_history"
        " WHERE event_id = ANY($1::uuid[]) ORDER BY partition, kafka_offset",
        list(event_ids),
    )
    return rows
