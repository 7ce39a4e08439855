"""The per-customer timeline read model: entries from every service's events, once each.

Personal notes are kept sealed as they came, with the customer whose key sealed them; the API
opens them when it shows a timeline. So projecting needs no data key and no network call. The
runner moves a merged duplicate's entries and empties the notes and answers of erased customers
(`interactions.tables`).
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from dialog_schemas import Event
from dialog_schemas.catalog import TopicContract
from dialogkit.projection import Decoded
from interactions.tables import CUSTOMER_TABLES
from interactions.timeline import describe

COPY_FROM = 200
COLUMNS = [
    "customer_id",
    "entry_id",
    "occurred_at",
    "kind",
    "channel",
    "direction",
    "summary",
    "source",
    "source_ref",
    "correlation_id",
    "note",
    "note_owner",
    "answer",
]
INSERT_ENTRIES = (
    "INSERT INTO timeline_entries (customer_id, entry_id, occurred_at, kind, channel,"
    " direction, summary, source, source_ref, correlation_id, note, note_owner, answer)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING"
)


class TimelineProjection:
    """One topic's events become timeline entries, keyed by event id (applied once)."""

    customer_tables = CUSTOMER_TABLES

    def __init__(self, source: TopicContract, name: str) -> None:
        self.source = source
        self.name = name

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        rows = [row for d in events if (row := _row(d, d.event))]
        if len(rows) < COPY_FROM:
            await connection.executemany(INSERT_ENTRIES, rows)
        else:
            await copy_entries(connection, rows)


async def copy_entries(connection: asyncpg.Connection, rows: list[tuple[object, ...]]) -> None:
    """Large batches (catching up, rebuilding): COPY into a scratch table, then one insert."""
    await connection.execute(
        "CREATE TEMP TABLE IF NOT EXISTS timeline_incoming"
        " (LIKE timeline_entries INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    await connection.copy_records_to_table("timeline_incoming", records=rows, columns=COLUMNS)
    await connection.execute(
        f"INSERT INTO timeline_entries ({', '.join(COLUMNS)})"
        f" SELECT {', '.join(COLUMNS)} FROM timeline_incoming ON CONFLICT DO NOTHING"
    )


def _row(decoded: Decoded, event: Event) -> tuple[object, ...] | None:
    entry = describe(event)
    if entry is None:
        return None
    envelope = decoded.envelope
    return (
        envelope.subject,
        envelope.id,
        entry.occurred_at,
        envelope.type,
        entry.channel.value if entry.channel else None,
        entry.direction.value if entry.direction else None,
        entry.summary,
        envelope.source,
        entry.source_ref,
        envelope.correlationid,
        entry.note,
        envelope.subject if entry.note is not None or entry.answer is not None else None,
        entry.answer,
    )
