"""The consumer group's committed offsets follow the positions stored with the read model."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from kafka import KafkaAdminClient, TopicPartition
from kafka.structs import OffsetAndMetadata

from dialog_schemas import Envelope
from dialog_schemas.catalog import INTERACTIONS_EVENTS
from dialog_schemas.common import Channel, Direction
from dialog_schemas.interactions import TouchpointRecorded
from dialogkit.publishing import FakePublisher, KafkaPublisher
from interactions.bootstrap import projections
from interactions.config import Settings
from tests.support import eventually, read_topic, service_process

GROUP = "interactions-worker"
BEHIND = 1  # the group's offset a crash left behind: far below what the database holds


def touchpoints(customers: list[str], count: int) -> list[Envelope]:
    return [
        Envelope.wrap(
            TouchpointRecorded(
                touchpoint_id=f"tp-{uuid.uuid4().hex[:8]}",
                channel=Channel.LETTER,
                direction=Direction.OUTBOUND,
                occurred_at=datetime.now(UTC),
                reported_by="offsets-test",
            ),
            id=uuid.uuid4(),
            source="/test",
            subject=customers[n % len(customers)],
            time=datetime.now(UTC),
        )
        for n in range(count)
    ]


def readers_of_the_topic() -> list[str]:
    """The interactions worker's projections that read the interactions topic."""
    return [
        p.name
        for p in projections(Settings(), FakePublisher())
        if p.source.name == INTERACTIONS_EVENTS.name
    ]


async def stored_positions(pool: asyncpg.Pool) -> dict[int, int]:
    """Per partition of the interactions topic, the lowest next offset any projection stored."""
    rows = await pool.fetch(
        "SELECT partition, min(next_offset) AS next_offset FROM projection_positions"
        " WHERE topic = $1 AND projection = ANY($2) GROUP BY partition",
        INTERACTIONS_EVENTS.name,
        readers_of_the_topic(),
    )
    return {r["partition"]: r["next_offset"] for r in rows}


def committed_offsets(admin: KafkaAdminClient) -> dict[int, int]:
    offsets = admin.list_group_offsets({GROUP: None})[GROUP]
    return {
        tp.partition: meta.offset
        for tp, meta in offsets.items()
        if tp.topic == INTERACTIONS_EVENTS.name and meta.offset >= 0
    }


async def test_after_a_restart_at_stored_positions_the_group_commits_those_positions(
    new_database,
    pool_for,
    publisher: KafkaPublisher,
    platform_topics_ready: str,
    tmp_path: Path,
    data_keys_env: dict[str, str],
) -> None:
    run = uuid.uuid4().hex[:8]
    customers = [f"offsets-{run}-{n}" for n in range(12)]
    await publisher.publish(INTERACTIONS_EVENTS.name, touchpoints(customers, 300))
    ends: dict[int, int] = {}
    for record in await read_topic(platform_topics_ready, INTERACTIONS_EVENTS.name):
        ends[record.partition] = max(ends.get(record.partition, 0), record.offset + 1)
    dsn = await new_database("interactions")
    pool = await pool_for(dsn)
    # A worker applied everything up to `ends` and was killed before faust committed offsets.
    await pool.executemany(
        "INSERT INTO projection_positions (projection, topic, partition, next_offset)"
        " VALUES ($1, $2, $3, $4)",
        [
            (name, INTERACTIONS_EVENTS.name, partition, end)
            for name in readers_of_the_topic()
            for partition, end in ends.items()
        ],
    )
    admin = KafkaAdminClient(bootstrap_servers=platform_topics_ready, client_id="offsets-test")
    try:
        behind = {
            TopicPartition(INTERACTIONS_EVENTS.name, p): OffsetAndMetadata(BEHIND, "", -1)
            for p in ends
        }

        async def alter() -> bool:  # refused while a stopped worker is still a group member
            errors = await asyncio.to_thread(admin.alter_group_offsets, GROUP, behind)
            return all(error.errno == 0 for error in errors.values())

        await eventually(alter, bool, timeout=60, interval=1)
        assert set(committed_offsets(admin).values()) == {BEHIND}

        with service_process(
            "interactions",
            "worker",
            bootstrap=platform_topics_ready,
            dsn=dsn,
            logs=tmp_path / "worker.log",
            extra_env=data_keys_env,
        ):
            await publisher.publish(INTERACTIONS_EVENTS.name, touchpoints(customers, 60))
            await eventually(
                lambda: pool.fetchval(
                    "SELECT count(*) FROM timeline_entries WHERE customer_id = ANY($1)",
                    customers,
                ),
                lambda n: n == 60,
                timeout=60,
            )

            async def in_step() -> tuple[dict[int, int | None], dict[int, int | None]]:
                committed = await asyncio.to_thread(committed_offsets, admin)
                stored = await stored_positions(pool)
                return {p: committed.get(p) for p in ends}, {p: stored.get(p) for p in ends}

            _, stored = await eventually(
                in_step, lambda both: both[0] == both[1], timeout=30, interval=0.5
            )
        assert all((stored[p] or 0) >= ends[p] for p in ends), "the worker went on from there"
    finally:
        admin.close()
