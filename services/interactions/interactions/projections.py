"""The per-customer timeline read model."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from dialog_schemas.catalog import INTERACTIONS_EVENTS
from dialog_schemas.interactions import TouchpointRecorded
from dialogkit.projection import Decoded


class TimelineProjection:
    """Touchpoints become timeline entries, once each, keyed by event id."""

    name = "interactions.timeline"
    source = INTERACTIONS_EVENTS

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        rows = [_row(d) for d in events if isinstance(d.event, TouchpointRecorded)]
        await connection.executemany(
            "INSERT INTO timeline_entries (customer_id, entry_id, occurred_at, kind, channel,"
            " direction, summary, source, source_ref, correlation_id)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
            rows,
        )


def _row(decoded: Decoded) -> tuple[object, ...]:
    envelope, event = decoded.envelope, decoded.event
    assert isinstance(event, TouchpointRecorded)
    return (
        envelope.subject,
        envelope.id,
        event.occurred_at,
        envelope.type,
        event.channel.value,
        event.direction.value,
        event.summary,
        envelope.source,
        event.touchpoint_id,
        envelope.correlationid,
    )
