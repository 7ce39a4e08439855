"""After a rebalance the worker seeks to the stored positions on the consumer's own thread."""

from __future__ import annotations

from typing import Any

from faust.types import TP

from dialog_schemas.catalog import CONSENT_EVENTS
from dialogkit.resume import resume_at_stored_positions


class Pool:
    """What `stored_positions` reads: one projection's positions."""

    async def fetch(self, query: str, projection: str) -> list[dict[str, Any]]:
        return [{"topic": CONSENT_EVENTS.name, "partition": 0, "next_offset": 42}]


class Consumer:
    """faust's consumer as the resume step uses it; `seek` (aiokafka called from the caller's
    thread, racing the fetcher on the consumer's thread) must not be used."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def perform_seek(self) -> None:
        self.calls.append(("seek_to_committed", None))

    def assignment(self) -> set[TP]:
        return {TP(CONSENT_EVENTS.name, 0), TP(CONSENT_EVENTS.name, 1)}

    async def seek(self, tp: TP, offset: int) -> None:
        raise AssertionError("seek runs aiokafka off the consumer's thread")

    async def seek_wait(self, partitions: dict[TP, int]) -> None:
        self.calls.append(("seek_wait", dict(partitions)))

    async def _commit_offsets(self, offsets: dict[TP, int]) -> None:
        self.calls.append(("commit", offsets))


class Projection:
    name = "consent.ledger"
    source = CONSENT_EVENTS


class Resources:
    pool = Pool()


async def test_the_stored_positions_are_sought_on_the_consumers_thread_then_committed() -> None:
    consumer = Consumer()
    resume_at_stored_positions(consumer, Resources(), [Projection()])  # type: ignore[list-item]
    await consumer.perform_seek()
    expected = {TP(CONSENT_EVENTS.name, 0): 42, TP(CONSENT_EVENTS.name, 1): 0}
    assert consumer.calls == [
        ("seek_to_committed", None),
        ("seek_wait", expected),
        ("commit", expected),
    ]
