"""Projection lag: the broker's log end offset minus the position stored with the read model.

End offsets come from the platform's one end reader (`dialogkit.offsets`: kafka-python, no
consumer group, true ends also where a broker reports the start of the last batch); the
positions from `projection_positions`, the database being the truth about what was applied.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from dialogkit import metrics
from dialogkit.config import ServiceSettings
from dialogkit.kafka_security import kafka_client_options
from dialogkit.offsets import end_offsets
from dialogkit.projection import Projection, stored_positions

log = logging.getLogger(__name__)


@dataclass(frozen=True, order=True)
class Lag:
    """One row of the lag table: records a projection has yet to apply on one partition."""

    projection: str
    topic: str
    partition: int
    end_offset: int
    position: int

    @property
    def records(self) -> int:
        return max(0, self.end_offset - self.position)


async def projection_lag(
    pool: asyncpg.Pool,
    projections: Sequence[Projection],
    bootstrap: str,
    security: Mapping[str, Any] | None = None,
    timeout_s: float = 10.0,
) -> list[Lag]:
    """Per projection and partition of its source topic, end offset and stored position."""
    topics = [p.source.name for p in projections]
    ends = await asyncio.to_thread(end_offsets, bootstrap, topics, security, timeout_s)
    rows: list[Lag] = []
    for projection in projections:
        stored = await stored_positions(pool, projection.name)
        for (topic, partition), end in ends.items():
            if topic == projection.source.name:
                position = stored.get((topic, partition), 0)
                rows.append(Lag(projection.name, topic, partition, end, position))
    return sorted(rows)


def publish(rows: Sequence[Lag]) -> None:
    """Set the `dialog_projection_lag_records` gauge from a lag table."""
    for row in rows:
        metrics.PROJECTION_LAG.labels(
            projection=row.projection, topic=row.topic, partition=str(row.partition)
        ).set(row.records)


async def refresh_lag(
    pool: asyncpg.Pool | None, projections: Sequence[Projection], settings: ServiceSettings
) -> None:
    """Update the lag gauges of a worker's projections (before a scrape); on a failure within
    `readiness_timeout_s` they keep their last values and the failure is logged."""
    if pool is None or not projections:
        return
    try:
        rows = await asyncio.wait_for(
            projection_lag(
                pool,
                projections,
                settings.kafka_bootstrap,
                kafka_client_options(settings),
                timeout_s=settings.readiness_timeout_s,
            ),
            settings.readiness_timeout_s,
        )
    except Exception as error:
        log.warning("projection lag not refreshed: %r", error)
        return
    publish(rows)


def table(rows: Sequence[Lag]) -> str:
    """The lag table as text for operators, one line per projection and partition."""
    header = ("projection", "topic", "partition", "end offset", "position", "lag")
    lines = [header] + [
        (
            r.projection,
            r.topic,
            str(r.partition),
            str(r.end_offset),
            str(r.position),
            str(r.records),
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i < 3 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    )
