"""Bulk replay: rebuild projections from their topics, reading in bulk instead of via faust.

A full rebuild (into a freshly migrated database) reads each source topic from the positions the
database holds (offset 0 when empty) up to the end offsets at the start, in large batches with
the plain consumer, decodes each batch once and hands it to the same `ProjectionRunner` the
worker uses for every projection reading that topic, so positions are stored with the data. The
projections of a topic apply a batch side by side (each in its own transaction), and the next
batch is read and decoded while the database applies the last; batches stay in order. A worker
started afterwards continues from there.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from dialogkit.deadletters import DeadLetters
from dialogkit.ledger import LedgerVerifier
from dialogkit.projection import (
    BatchOutcome,
    Item,
    Projection,
    ProjectionRunner,
    stored_positions,
)
from dialogkit.records import SourceRecord
from dialogkit.side_by_side import SideBySide

IDLE_MS = 500


@dataclass(frozen=True)
class ReplayResult:
    projection: str
    outcome: BatchOutcome


@dataclass(frozen=True)
class ReplayProgress:
    """How far the replay of one topic is: records read of those there were at its start."""

    topic: str
    read: int
    total: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        left = max(self.total - self.read, 0)
        eta = f", about {left / self.per_second:,.0f} s left" if self.per_second else ""
        share = f" ({self.read / self.total:.0%})" if self.total else ""
        return (
            f"{self.topic}: {self.read:,} of {self.total:,} events applied{share},"
            f" {self.per_second:,.0f} events/s, {left:,} left{eta}"
        )


async def replay(
    pool: asyncpg.Pool,
    projections: Sequence[Projection],
    dead_letters: DeadLetters,
    bootstrap: str,
    *,
    batch: int = 5000,
    progress: Callable[[ReplayProgress], None] | None = None,
    security: Mapping[str, Any] | None = None,
    verifier: LedgerVerifier | None = None,
) -> list[ReplayResult]:
    """Bring every projection up to the end of its topic as it is now; `progress` is told
    after every batch."""
    by_topic: dict[str, list[Projection]] = defaultdict(list)
    for projection in projections:
        by_topic[projection.source.name].append(projection)
    results = []
    for topic, readers in by_topic.items():
        runners = SideBySide(
            readers[0].source,
            {p.name: ProjectionRunner(pool, p, dead_letters, verifier) for p in readers},
            verifier,
        )
        starts: dict[int, int] = {}
        for projection in readers:
            stored = await stored_positions(pool, projection.name)
            for (name, partition), offset in stored.items():
                if name == topic:
                    starts[partition] = min(starts.get(partition, offset), offset)
        reader = TopicReader(bootstrap, topic, starts, batch, security=security)
        replaying = _TopicReplay(runners, reader, progress)
        applying: asyncio.Task[None] | None = None
        async for records in replaying.reader.batches():
            # decoded (and signatures checked) while the database applies the last batch
            items = runners.decode(records)
            if applying is not None:
                await applying
            applying = asyncio.create_task(replaying.apply(items))
        if applying is not None:
            await applying
        results += [ReplayResult(name, outcome) for name, outcome in replaying.totals.items()]
    return results


class _TopicReplay:
    def __init__(
        self,
        runners: SideBySide,
        reader: TopicReader,
        progress: Callable[[ReplayProgress], None] | None,
    ) -> None:
        self.runners = runners
        self.reader = reader
        self.progress = progress
        self.totals = {name: BatchOutcome(0, 0, 0) for name in runners.runners}
        self.read = 0
        self.began = time.monotonic()

    async def apply(self, items: list[Item]) -> None:
        """Every projection of the topic at once, each in its own transaction."""
        for name, outcome in (await self.runners.apply(items)).items():
            self.totals[name] = self.totals[name] + outcome
        self.read += len(items)
        if self.progress is not None:
            seconds = time.monotonic() - self.began
            self.progress(ReplayProgress(self.reader.topic, self.read, self.reader.total, seconds))


class TopicReader:
    """Records of a topic from `starts` (default 0) until nothing more arrives.

    Reading stops once every partition is past the end offset reported at the start and a fetch
    comes back empty: some brokers (the embedded one among them) report the end offset of a
    partition as the start of its last record batch, so the end offset alone would stop short.
    `total` is the number of records before those end offsets, known once reading began.
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        starts: dict[int, int],
        batch: int,
        *,
        security: Mapping[str, Any] | None = None,
    ) -> None:
        """`security`: connection options from `kafka_client_options` (plaintext if None)."""
        self.security = security or {}
        self.bootstrap = bootstrap
        self.topic = topic
        self.starts = starts
        self.batch = batch
        self.total = 0

    async def batches(self) -> AsyncIterator[list[SourceRecord]]:
        consumer = AIOKafkaConsumer(
            **self.security,
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
        )
        await consumer.start()
        try:
            await consumer.topics()  # loads the cluster's metadata
            partitions = [
                TopicPartition(self.topic, p)
                for p in consumer.partitions_for_topic(self.topic) or ()
            ]
            consumer.assign(partitions)
            ends = await consumer.end_offsets(partitions)
            for tp in partitions:
                consumer.seek(tp, self.starts.get(tp.partition, 0))
            self.total = sum(max(ends[tp] - self.starts.get(tp.partition, 0), 0) for tp in ends)
            pending: list[SourceRecord] = []
            while True:
                fetched = await consumer.getmany(timeout_ms=IDLE_MS, max_records=self.batch)
                for records in fetched.values():
                    pending += [
                        SourceRecord(
                            r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers)
                        )
                        for r in records
                    ]
                if not fetched and all(
                    [await consumer.position(tp) >= ends[tp] for tp in partitions]
                ):
                    break
                if len(pending) >= self.batch:
                    yield pending
                    pending = []
            if pending:
                yield pending
        finally:
            await consumer.stop()


async def read_topic_in_batches(
    bootstrap: str,
    topic: str,
    starts: dict[int, int],
    batch: int,
    *,
    security: Mapping[str, Any] | None = None,
) -> AsyncIterator[list[SourceRecord]]:
    """Records of a topic from `starts` until nothing more arrives (see `TopicReader`)."""
    reader = TopicReader(bootstrap, topic, starts, batch, security=security)
    async for records in reader.batches():
        yield records
