"""Resuming after a rebalance where the database says, and telling the consumer group so.

The database, not the consumer group, is the truth about what a projection has applied: a crash
between the database commit and faust's offset commit leaves the group's offsets behind. After
faust has sought to the group's committed offsets, every assigned partition is sought again, to
the position stored with the read model, and those positions are committed to the group at once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from faust.types import TP

from dialogkit.projection import Projection, stored_positions

log = logging.getLogger(__name__)


class HasPool(Protocol):
    pool: Any


def resume_at_stored_positions(
    consumer: Any, resources: HasPool, projections: Sequence[Projection]
) -> None:
    """Wrap the consumer's `perform_seek` (once) so it ends at the stored positions."""
    if getattr(consumer, "_seeks_to_stored_positions", False):
        return
    seek_to_committed = consumer.perform_seek

    async def perform_seek() -> None:
        await seek_to_committed()
        stored = await stored_offsets(resources.pool, projections, consumer.assignment())
        # `seek_wait` seeks on the consumer's own thread; `seek` calls aiokafka from this one,
        # racing the fetcher there (a KeyError in `Fetcher.fetched_records` crashed workers)
        await consumer.seek_wait(stored)
        await commit_stored_positions(consumer, stored)

    consumer.perform_seek = perform_seek
    consumer._seeks_to_stored_positions = True


async def stored_offsets(
    pool: Any, projections: Sequence[Projection], assigned: set[TP]
) -> dict[TP, int]:
    """Per assigned partition, the lowest next offset any projection reading it stored."""
    offsets: dict[TP, int] = {}
    for projection in projections:
        stored = await stored_positions(pool, projection.name)
        for tp in assigned:
            if tp.topic == projection.source.name:
                position = stored.get((tp.topic, tp.partition), 0)
                offsets[tp] = min(offsets.get(tp, position), position)
    log.info(
        "partitions assigned; resuming from stored positions",
        extra={"positions": {f"{tp.topic}/{tp.partition}": o for tp, o in offsets.items()}},
    )
    return offsets


async def commit_stored_positions(consumer: Any, stored: Mapping[TP, int]) -> None:
    """Commit the group's offsets at the positions the database holds, right after the seek.

    faust commits only offsets it saw acknowledged, and only while they continue its last
    committed offset: after a seek past that offset it sees a gap and never commits the partition
    again, so broker-side lag stays wrong. `_commit_offsets` is the step faust's own `commit()`
    ends in (faust has no public call to commit given offsets): it commits to the broker and
    records them as faust's committed offsets, so its next commits continue from there.
    """
    if stored:
        await consumer._commit_offsets(dict(stored))
