"""The projections of one topic fed from one stream: each record decoded once, applied by each.

A worker runs one agent per source topic, not one per projection: every agent costs faust's
per-record work (delivery, acknowledgement) and its own decoding, so two projections of a topic
in two agents paid both twice. Each projection still applies the batch in its own transaction,
with its own stored positions and dead letters, side by side with the others; the batch is
acknowledged once every one of them has made it durable. The bulk rebuild applies its batches
the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from dialog_schemas.catalog import TopicContract
from dialogkit.ledger import LedgerVerifier
from dialogkit.projection import BatchOutcome, Item, ProjectionRunner, decode_all
from dialogkit.records import SourceRecord


class SideBySide:
    """Runners of projections that read the same topic, fed the same decoded batch."""

    def __init__(
        self,
        source: TopicContract,
        runners: dict[str, ProjectionRunner],
        verifier: LedgerVerifier | None = None,
    ) -> None:
        """`runners`: projection name -> its runner, each of a projection reading `source`;
        `verifier` checks the signatures of a signed topic's records once for all of them."""
        self.source = source
        self.runners = runners
        self._verifier = verifier if source.signed_by else None

    def decode(self, records: Sequence[SourceRecord]) -> list[Item]:
        """The batch decoded (and signatures checked) once, before any transaction."""
        return decode_all(records, self.source, self._verifier)

    async def apply(self, items: Sequence[Item]) -> dict[str, BatchOutcome]:
        """Every projection applies the batch at once, each in its own transaction."""
        outcomes = await asyncio.gather(*(r.handle_decoded(items) for r in self.runners.values()))
        return dict(zip(self.runners, outcomes, strict=True))

    async def handle(self, records: Sequence[SourceRecord]) -> BatchOutcome:
        """Decode once and apply everywhere; the outcomes summed over the projections."""
        outcomes = await self.apply(self.decode(records))
        total = BatchOutcome(0, 0, 0)
        for outcome in outcomes.values():
            total = total + outcome
        return total
