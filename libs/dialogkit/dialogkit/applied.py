"""Waiting until a projection has applied what a command published, by broker position.

The publisher says where each event landed (partition, offset); the projection runner stores,
in the read model's own transaction, the next offset it will read per partition. An event is
applied (or dead-lettered, which also ends the wait) once that offset has passed it. This works
the same for every service and every read model, without asking the read model for ids.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any, Protocol

from dialogkit.publishing import Position

POLL_S = 0.02


class AppliedPositions(Protocol):
    async def passed(self, projection: str, positions: Sequence[Position]) -> bool:
        """True when the projection has consumed beyond every one of these positions."""


class PostgresAppliedPositions:
    """Reads `projection_positions`, which the runner writes with each batch."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    async def passed(self, projection: str, positions: Sequence[Position]) -> bool:
        rows = await self._pool.fetch(
            "SELECT topic, partition, next_offset FROM projection_positions"
            " WHERE projection = $1 AND topic = ANY($2::text[])",
            projection,
            sorted({p.topic for p in positions}),
        )
        reached = {(r["topic"], r["partition"]): r["next_offset"] for r in rows}
        return all(reached.get((p.topic, p.partition), 0) > p.offset for p in positions)


class InMemoryAppliedPositions:
    """AppliedPositions for unit tests: a test says how far each projection has come."""

    def __init__(self) -> None:
        self.next_offsets: dict[tuple[str, str, int], int] = {}

    def advance(self, projection: str, position: Position) -> None:
        """The projection has applied everything up to and including `position`."""
        self.next_offsets[(projection, position.topic, position.partition)] = position.offset + 1

    async def passed(self, projection: str, positions: Sequence[Position]) -> bool:
        return all(
            self.next_offsets.get((projection, p.topic, p.partition), 0) > p.offset
            for p in positions
        )


async def wait_applied(
    applied: AppliedPositions, projection: str, positions: Sequence[Position], timeout_s: float
) -> bool:
    """Poll until the projection has passed the positions; False once `timeout_s` is over."""
    deadline = time.monotonic() + timeout_s
    while not await applied.passed(projection, positions):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(POLL_S)
    return True
