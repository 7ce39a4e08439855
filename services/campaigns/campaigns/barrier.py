"""The read barrier: no dispatch decision is made on a consent view older than its start.

When a decision round begins, the dispatcher reads the end of the consent and contacts topics
(every partition), then waits until the projections it decides from have stored positions at or
past those ends. A consent change the consent API acknowledged before the round began was on the
topic by then (the API answers once the broker has it), so it is reflected in the decision.

Why every partition and not only the customers': a round decides up to a batch of customers,
which touch nearly every partition anyway, and reading all ends is one request.

The embedded broker reports a partition's end offset as the start of its last record batch,
so the end is found by fetching from just before the reported end: the offset after the last
record fetched is the true end (on Apache Kafka this gives the reported end).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition


class TopicEnds(Protocol):
    async def ends(self, topics: Sequence[str]) -> dict[tuple[str, int], int]:
        """The next offset to be written, per (topic, partition), as of now."""


class KafkaTopicEnds:
    """Topic ends read from the broker by a consumer without a group."""

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()

    async def _started(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                group_id=None,
                enable_auto_commit=False,
                fetch_max_wait_ms=20,
                max_partition_fetch_bytes=64 * 1024,
            )
            await consumer.start()
            self._consumer = consumer
        return self._consumer

    async def ends(self, topics: Sequence[str]) -> dict[tuple[str, int], int]:
        async with self._lock:
            consumer = await self._started()
            await consumer.topics()  # fresh metadata: partitions may have been added
            partitions = [
                TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()
            ]
            reported = await consumer.end_offsets(partitions)
            return await self._true_ends(consumer, reported)

    async def _true_ends(
        self, consumer: AIOKafkaConsumer, reported: Mapping[TopicPartition, int]
    ) -> dict[tuple[str, int], int]:
        ends = {(tp.topic, tp.partition): end for tp, end in reported.items()}
        look = [tp for tp, end in reported.items() if end > 0]
        if not look:
            return ends
        consumer.assign(look)
        for tp in look:
            consumer.seek(tp, reported[tp] - 1)
        waiting = set(look)
        deadline = time.monotonic() + 5.0
        while waiting and time.monotonic() < deadline:
            fetched = await consumer.getmany(*waiting, timeout_ms=50)
            for tp, records in fetched.items():
                if records:
                    key = (tp.topic, tp.partition)
                    ends[key] = max(ends[key], records[-1].offset + 1)
                    waiting.discard(tp)
        if waiting:
            raise TimeoutError(f"could not read the end of {sorted(map(str, waiting))}")
        return ends

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None


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
