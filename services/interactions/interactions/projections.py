"""The per-customer timeline read model: entries from every service's events, once each.

Personal notes are kept sealed as they came, with the customer whose key sealed them; the API
opens them when it shows a timeline. So projecting needs no data key and no network call. The
runner moves a merged duplicate's entries and empties the notes and answers of erased customers
(`interactions.tables`).
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import orjson

from dialog_schemas.catalog import TopicContract
from dialogkit.projection import Decoded
from interactions.tables import CUSTOMER_TABLES
from interactions.timeline import describe

COLUMNS = {
    "customer_id": "text",
    "entry_id": "uuid",
    "occurred_at": "timestamptz",
    "kind": "text",
    "channel": "text",
    "direction": "text",
    "summary": "text",
    "source": "text",
    "source_ref": "text",
    "correlation_id": "uuid",
    "note": "text",
    "note_owner": "text",
    "answer": "text",
}
INSERT_ENTRIES = (
    f"INSERT INTO timeline_entries ({', '.join(COLUMNS)}) SELECT "
    + ", ".join(f"(r->>{n})::{kind}" for n, kind in enumerate(COLUMNS.values()))
    + " FROM jsonb_array_elements($1::jsonb) AS r ON CONFLICT DO NOTHING"
)
"""A batch's entries in one statement, as one JSON array of rows: one round trip whatever the
size (rows one by one with `executemany`, or a scratch table, `COPY` and an insert, took three).
A column per array parameter would be one round trip too, but the driver checks every element of
an array with some Python-level type checks, which cost more than the rows' JSON."""


class TimelineProjection:
    """One topic's events become timeline entries, keyed by event id (applied once)."""

    customer_tables = CUSTOMER_TABLES

    def __init__(self, source: TopicContract, name: str) -> None:
        self.source = source
        self.name = name

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        rows = [row for d in events if (row := timeline_row(d))]
        if rows:
            await connection.execute(INSERT_ENTRIES, orjson.dumps(rows).decode())


def timeline_row(decoded: Decoded) -> tuple[object, ...] | None:
    """The `COLUMNS` of an event's timeline entry, in order, as `orjson` writes them into the
    batch's JSON array (enumeration members as their values); None for an event not about a
    customer."""
    entry = describe(decoded.event)
    if entry is None:
        return None
    envelope = decoded.envelope
    occurred_at, summary, channel, direction, source_ref, note, answer = entry
    return (
        envelope.subject,
        envelope.id,
        occurred_at,
        envelope.type,
        channel,
        direction,
        summary,
        envelope.source,
        source_ref,
        envelope.correlationid,
        note,
        envelope.subject if note is not None or answer is not None else None,
        answer,
    )
