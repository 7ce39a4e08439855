"""The event journal: every event of a topic, kept as it arrived, queryable by customer."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import orjson

from dialog_schemas.catalog import TopicContract
from dialogkit.projection import Decoded


class EventJournal:
    """Stores each event of one topic once, by event id."""

    def __init__(self, source: TopicContract) -> None:
        self.source = source
        self.name = f"journal:{source.name}"

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        await connection.executemany(
            "INSERT INTO event_journal (event_id, subject, type, schema_version, time, source,"
            " correlation_id, causation_id, data, topic, partition, kafka_offset)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12)"
            " ON CONFLICT (event_id) DO NOTHING",
            [
                (
                    d.envelope.id,
                    d.envelope.subject,
                    d.envelope.type,
                    d.envelope.schemaversion,
                    d.envelope.time,
                    d.envelope.source,
                    d.envelope.correlationid,
                    d.envelope.causationid,
                    orjson.dumps(d.envelope.data).decode(),
                    d.record.topic,
                    d.record.partition,
                    d.record.offset,
                )
                for d in events
            ],
        )
