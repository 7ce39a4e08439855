"""Bulk replay: rebuild projections from their topics, reading in bulk instead of via faust.

A full rebuild (into a freshly migrated database) reads each source topic from the positions the
database holds (offset 0 when empty) up to the end offsets at the start, in large batches with
the plain consumer, and hands them to the same `ProjectionRunner` the worker uses, so positions
are stored with the data. A worker started afterwards continues from there.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from dialogkit.deadletters import DeadLetters
from dialogkit.projection import BatchOutcome, Projection, ProjectionRunner, stored_positions
from dialogkit.records import SourceRecord

IDLE_MS = 500


@dataclass(frozen=True)
class ReplayResult:
    projection: str
    outcome: BatchOutcome


async def replay(
    pool: asyncpg.Pool,
    projections: Sequence[Projection],
    dead_letters: DeadLetters,
    bootstrap: str,
    *,
    batch: int = 5000,
    security: Mapping[str, Any] | None = None,
) -> list[ReplayResult]:
    """Bring every projection up to the end of its topic as it is now."""
    by_topic: dict[str, list[Projection]] = defaultdict(list)
    for projection in projections:
        by_topic[projection.source.name].append(projection)
    results = []
    for topic, readers in by_topic.items():
        runners = {p.name: ProjectionRunner(pool, p, dead_letters) for p in readers}
        starts: dict[int, int] = {}
        for projection in readers:
            stored = await stored_positions(pool, projection.name)
            for (name, partition), offset in stored.items():
                if name == topic:
                    starts[partition] = min(starts.get(partition, offset), offset)
        totals = {name: BatchOutcome(0, 0, 0) for name in runners}
        async for records in read_topic_in_batches(
            bootstrap, topic, starts, batch, security=security
        ):
            for name, runner in runners.items():
                totals[name] = totals[name] + await runner.handle(records)
        results += [ReplayResult(name, outcome) for name, outcome in totals.items()]
    return results


async def read_topic_in_batches(
    bootstrap: str,
    topic: str,
    starts: dict[int, int],
    batch: int,
    *,
    security: Mapping[str, Any] | None = None,
) -> AsyncIterator[list[SourceRecord]]:
    """Records of a topic from `starts` (default 0) until nothing more arrives.

    Reading stops once every partition is past the end offset reported at the start and a fetch
    comes back empty: some brokers (the embedded one among them) report the end offset of a
    partition as the start of its last record batch, so the end offset alone would stop short.
    """
    consumer = AIOKafkaConsumer(
        **(security or {}),
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        await consumer.topics()  # loads the cluster's metadata
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, starts.get(tp.partition, 0))
        pending: list[SourceRecord] = []
        while True:
            fetched = await consumer.getmany(timeout_ms=IDLE_MS, max_records=batch)
            for records in fetched.values():
                pending += [
                    SourceRecord(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers))
                    for r in records
                ]
            if not fetched and all([await consumer.position(tp) >= ends[tp] for tp in partitions]):
                break
            if len(pending) >= batch:
                yield pending
                pending = []
        if pending:
            yield pending
    finally:
        await consumer.stop()
