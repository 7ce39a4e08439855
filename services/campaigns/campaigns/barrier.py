"""The read barrier: no dispatch decision is made on a consent view older than its start.

When a decision round begins, the dispatcher reads the end of the consent and contacts topics
(every partition), then waits until the projections it decides from have stored positions at or
past those ends. A consent change the consent API acknowledged before the round began was on the
topic by then (the API answers once the broker has it), so it is reflected in the decision.

Why every partition and not only the customers': a round decides up to a batch of customers,
which touch nearly every partition anyway, and reading all ends is one request.

The ends are read by the platform's one end reader (`dialogkit.offsets.KafkaTopicEnds`), on the
service's Kafka connection settings, which confirms each end by a fetch where a broker reports
the start of the last batch as the end.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class TopicEnds(Protocol):
    async def ends(self, topics: Sequence[str]) -> dict[tuple[str, int], int]:
        """The next offset to be written, per (topic, partition), as of now."""


class ReadBarrier:
    """Waits until the named projections have applied every topic up to its end as of the call."""

    def __init__(
        self,
        ends: TopicEnds,
        projections: Mapping[str, Sequence[str]],
        *,
        poll_s: float = 0.005,
        timeout_s: float = 30.0,
    ) -> None:
        self._ends = ends
        self._projections = projections
        """Topic -> the projections of it the decision reads."""
        self._poll_s = poll_s
        self._timeout_s = timeout_s

    async def wait(self, db: Any) -> None:
        """Return once the read models are as fresh as the topics were at the call; TimeoutError
        after `timeout_s` (the round is not made, and is tried again)."""
        ends = await self._ends.ends(sorted(self._projections))
        deadline = time.monotonic() + self._timeout_s
        while True:
            behind = await self._behind(db, ends)
            if not behind:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"consent view behind the topics: {behind}")
            await asyncio.sleep(self._poll_s)

    async def _behind(self, db: Any, ends: Mapping[tuple[str, int], int]) -> list[str]:
        rows = await db.fetch(
            "SELECT projection, topic, partition, next_offset FROM projection_positions"
            " WHERE projection = ANY($1::text[])",
            [p for ps in self._projections.values() for p in ps],
        )
        stored = {(r["projection"], r["topic"], r["partition"]): r["next_offset"] for r in rows}
        return [
            f"{projection} {topic}[{partition}] at {stored.get((projection, topic, partition), 0)}"
            f" < {end}"
            for (topic, partition), end in ends.items()
            for projection in self._projections[topic]
            if stored.get((projection, topic, partition), 0) < end
        ]
