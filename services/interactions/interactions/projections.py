"""The per-customer timeline read model: entries from every service's events, once each."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from dialog_schemas.catalog import TopicContract
from dialogkit.projection import Decoded
from interactions.timeline import describe

INSERT_ENTRIES = (
    "INSERT INTO timeline_entries (customer_id, entry_id, occurred_at, kind, channel,"
    " direction, summary, source, source_ref, correlation_id)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING"
)


class TimelineProjection:
    """One topic's events become timeline entries, keyed by event id (applied once)."""

    def __init__(self, source: TopicContract, name: str) -> None:
        self.source = source
        self.name = name

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        await connection.executemany(INSERT_ENTRIES, [row for d in events if (row := _row(d))])


def _row(decoded: Decoded) -> tuple[object, ...] | None:
    entry = describe(decoded.event)
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
    )
