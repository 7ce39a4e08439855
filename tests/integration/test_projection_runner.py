"""ProjectionRunner on the real database, dead letters on the real broker."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from uuid import uuid4

import asyncpg
import orjson

from dialog_schemas import Envelope
from dialog_schemas.catalog import INTERACTIONS_EVENTS
from dialog_schemas.interactions import Channel, Direction, TouchpointRecorded
from dialogkit import metrics
from dialogkit.codec import encode
from dialogkit.deadletters import DeadLetters
from dialogkit.projection import (
    PROJECTION_DEAD_LETTERS_TOTAL,
    Decoded,
    ProjectionRunner,
    stored_positions,
)
from dialogkit.records import SourceRecord
from dialogkit.worker import StreamWorker
from interactions.config import Settings
from interactions.projections import TimelineProjection
from tests.support import read_topic

TOPIC = INTERACTIONS_EVENTS.name


def touchpoint_record(customer: str, offset: int, partition: int = 0) -> SourceRecord:
    event = TouchpointRecorded(
        touchpoint_id=f"tp-{offset}",
        channel=Channel.SMS,
        direction=Direction.OUTBOUND,
        occurred_at=datetime(2026, 11, 1, tzinfo=UTC),
        reported_by="test",
    )
    envelope = Envelope.wrap(
        event, id=uuid4(), source="/test", subject=customer, time=datetime.now(UTC)
    )
    return SourceRecord(TOPIC, partition, offset, customer.encode(), encode(envelope))


async def entries(pool: asyncpg.Pool, customer: str) -> list[str]:
    rows = await pool.fetch(
        "SELECT source_ref FROM timeline_entries WHERE customer_id = $1 ORDER BY source_ref",
        customer,
    )
    return [r["source_ref"] for r in rows]


async def dead_letters_of(bootstrap: str, topic: str, consumer: str) -> list[dict[str, bytes]]:
    """The headers (and value) of every dead letter one consumer wrote."""
    letters = [dict(r.headers) | {"value": r.value} for r in await read_topic(bootstrap, topic)]
    return [h for h in letters if h.get("dlq_consumer") == consumer.encode()]


async def runner_for(pool, publisher, projection=None, consumer="timeline-test"):  # type: ignore[no-untyped-def]
    dead = DeadLetters(publisher, "interactions.deadletter.v1", consumer)
    return ProjectionRunner(
        pool, projection or TimelineProjection(INTERACTIONS_EVENTS, "interactions.timeline"), dead
    )


async def test_a_batch_is_applied_once_and_its_position_stored(
    new_database, pool_for, publisher, platform_topics_ready, customer_id
) -> None:
    pool = await pool_for(await new_database("interactions"))
    runner = await runner_for(pool, publisher)
    batch = [touchpoint_record(customer_id, o) for o in range(5)]
    first = await runner.handle(batch)
    again = await runner.handle(batch[2:])
    assert (first.applied, again.applied, again.skipped) == (5, 0, 3)
    assert await entries(pool, customer_id) == [f"tp-{o}" for o in range(5)]
    assert (await stored_positions(pool, "interactions.timeline"))[(TOPIC, 0)] == 5


async def test_undecodable_records_go_to_the_dead_letter_topic_and_the_rest_apply(
    new_database, pool_for, publisher, platform_topics_ready, customer_id
) -> None:
    pool = await pool_for(await new_database("interactions"))
    consumer = f"dlq-{uuid4().hex[:8]}"
    good = touchpoint_record(customer_id, 0)
    unknown = orjson.loads(good.value or b"") | {"type": "TouchpointTeleported"}
    batch = [
        good,
        SourceRecord(TOPIC, 0, 1, b"k", b"{broken"),
        SourceRecord(TOPIC, 0, 2, b"k", orjson.dumps(unknown)),
        SourceRecord(TOPIC, 0, 3, b"k", None),
        touchpoint_record(customer_id, 4),
    ]
    outcome = await (await runner_for(pool, publisher, consumer=consumer)).handle(batch)
    assert (outcome.applied, outcome.dead_lettered) == (2, 3)
    assert await entries(pool, customer_id) == ["tp-0", "tp-4"]
    letters = await dead_letters_of(platform_topics_ready, "interactions.deadletter.v1", consumer)
    reasons = sorted((h["dlq_source_offset"], h["dlq_reason"]) for h in letters)
    assert reasons == [(b"1", b"not_json"), (b"2", b"unknown_type"), (b"3", b"empty_record")]
    assert next(h for h in letters if h["dlq_source_offset"] == b"1")["value"] == b"{broken"
    assert (await stored_positions(pool, "interactions.timeline"))[(TOPIC, 0)] == 5


class RefusesOne(TimelineProjection):
    """A projection whose read model rejects one particular touchpoint."""

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        if any(getattr(d.event, "touchpoint_id", "") == "tp-3" for d in events):
            raise ValueError("tp-3 breaks a constraint")
        await super().apply(connection, events)


async def test_a_record_the_read_model_rejects_is_isolated_and_dead_lettered(
    new_database, pool_for, publisher, platform_topics_ready, customer_id
) -> None:
    pool = await pool_for(await new_database("interactions"))
    consumer = f"poison-{uuid4().hex[:8]}"
    runner = await runner_for(
        pool, publisher, RefusesOne(INTERACTIONS_EVENTS, "interactions.timeline"), consumer
    )
    outcome = await runner.handle([touchpoint_record(customer_id, o) for o in range(8)])
    assert (outcome.applied, outcome.dead_lettered) == (7, 1)
    assert "tp-3" not in await entries(pool, customer_id)
    assert len(await entries(pool, customer_id)) == 7
    [letter] = await dead_letters_of(platform_topics_ready, "interactions.deadletter.v1", consumer)
    assert (letter["dlq_reason"], letter["dlq_source_offset"]) == (b"projection_failed", b"3")
    assert b"tp-3 breaks a constraint" in letter["dlq_detail"]


class FailsTwiceThenWorks(TimelineProjection):
    def __init__(self) -> None:
        super().__init__(INTERACTIONS_EVENTS, "interactions.timeline")
        self.failures = 0

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        await super().apply(connection, events)  # written, then rolled back by the failure
        if self.failures < 2:
            self.failures += 1
            raise ConnectionResetError("database connection lost")


async def test_a_lost_database_connection_is_retried_without_losing_or_doubling(
    new_database, pool_for, publisher, platform_topics_ready, customer_id
) -> None:
    pool = await pool_for(await new_database("interactions"))
    projection = FailsTwiceThenWorks()
    runner = await runner_for(pool, publisher, projection)
    outcome = await runner.handle([touchpoint_record(customer_id, o) for o in range(4)])
    assert projection.failures == 2
    assert (outcome.applied, outcome.dead_lettered) == (4, 0)
    assert await entries(pool, customer_id) == ["tp-0", "tp-1", "tp-2", "tp-3"]


async def test_partitions_keep_separate_positions(
    new_database, pool_for, publisher, platform_topics_ready, customer_id
) -> None:
    pool = await pool_for(await new_database("interactions"))
    runner = await runner_for(pool, publisher)
    await runner.handle([touchpoint_record(customer_id, 0, partition=1)])
    await runner.handle(
        [touchpoint_record(customer_id, 7, partition=2), touchpoint_record(customer_id, 1, 1)]
    )
    positions = await stored_positions(pool, "interactions.timeline")
    assert positions == {(TOPIC, 1): 2, (TOPIC, 2): 8}


async def test_two_runners_of_one_projection_given_the_same_batch_apply_it_once(
    new_database, pool_for, publisher, platform_topics_ready, customer_id
) -> None:
    """As after a rebalance, when the old owner of a partition still applies its last batch."""
    pool = await pool_for(await new_database("interactions"))
    one, other = await runner_for(pool, publisher), await runner_for(pool, publisher)
    batch = [touchpoint_record(customer_id, o, partition=p) for p in (3, 4) for o in range(5)]
    outcomes = await asyncio.gather(one.handle(batch), other.handle(batch))
    assert sorted((o.applied, o.skipped) for o in outcomes) == [(0, 10), (10, 0)]
    assert await stored_positions(pool, "interactions.timeline") == {(TOPIC, 3): 5, (TOPIC, 4): 5}


async def test_a_batch_already_applied_leaves_the_positions_as_they_were(
    new_database, pool_for, publisher, platform_topics_ready, customer_id
) -> None:
    pool = await pool_for(await new_database("interactions"))
    runner = await runner_for(pool, publisher)
    batch = [touchpoint_record(customer_id, o) for o in range(3)]
    await runner.handle(batch)
    query = "SELECT next_offset, updated_at FROM projection_positions WHERE projection = $1"
    before = await pool.fetch(query, "interactions.timeline")
    outcome = await runner.handle(batch[:2])
    assert (outcome.applied, outcome.skipped) == (0, 2)
    assert await pool.fetch(query, "interactions.timeline") == before


async def test_an_event_twice_in_one_batch_is_one_timeline_entry(
    new_database, pool_for, publisher, platform_topics_ready, customer_id
) -> None:
    pool = await pool_for(await new_database("interactions"))
    record = touchpoint_record(customer_id, 0)
    repeated = SourceRecord(TOPIC, 0, 1, record.key, record.value)  # the producer retried
    outcome = await (await runner_for(pool, publisher)).handle([record, repeated])
    assert outcome.applied == 2
    assert await entries(pool, customer_id) == ["tp-0"]


async def test_stored_v1_touchpoints_are_projected_by_v2_code(
    new_database, pool_for, publisher, platform_topics_ready
) -> None:
    pool = await pool_for(await new_database("interactions"))
    runner = await runner_for(pool, publisher)
    lines = (Path(__file__).parents[1] / "fixtures" / "touchpoint-recorded-v1.jsonl").read_bytes()
    records = [
        SourceRecord(TOPIC, 5, offset, b"c-v1", line)
        for offset, line in enumerate(lines.splitlines())
    ]
    outcome = await runner.handle(records)
    assert (outcome.applied, outcome.dead_lettered) == (2, 0)
    assert await entries(pool, "c-v1") == ["call-1", "mail-7"]


async def test_projections_of_one_topic_side_by_side_decode_once_and_apply_each(
    new_database, pool_for, publisher, platform_topics_ready, customer_id, monkeypatch
) -> None:
    from dialogkit import side_by_side
    from dialogkit.side_by_side import SideBySide
    from interactions.compliance import ComplianceProjection

    pool = await pool_for(await new_database("interactions"))
    dead = DeadLetters(publisher, "interactions.deadletter.v1", "side-by-side-test")
    timeline = TimelineProjection(INTERACTIONS_EVENTS, "interactions.timeline")
    compliance = ComplianceProjection()
    both = SideBySide(
        INTERACTIONS_EVENTS,
        {p.name: ProjectionRunner(pool, p, dead) for p in (timeline, compliance)},
    )
    decoded: list[int] = []
    decode_all = side_by_side.decode_all
    monkeypatch.setattr(
        side_by_side, "decode_all", lambda r, *a: decoded.append(len(r)) or decode_all(r, *a)
    )
    batch = [touchpoint_record(customer_id, o) for o in range(4)]

    first = await both.handle(batch)
    again = await both.handle(batch)

    assert decoded == [4, 4], "each batch decoded once for both projections"
    assert (first.applied, again.applied, again.skipped) == (8, 0, 8)
    assert await entries(pool, customer_id) == [f"tp-{o}" for o in range(4)]
    for name in ("interactions.timeline", "interactions.compliance"):
        assert (await stored_positions(pool, name))[(TOPIC, 0)] == 4, name


async def test_a_record_a_projection_dead_letters_shows_on_readiness_and_in_the_metrics(
    new_database, pool_for, publisher, platform_topics_ready, customer_id, tmp_path
) -> None:
    """The worker stays ready (one bad record must not stop the rest) and says what is missing
    from its read models since it started; the dead-letter topic is the durable record."""
    pool = await pool_for(await new_database("interactions"))
    name = f"interactions.refusing-{uuid4().hex[:8]}"
    runner = await runner_for(pool, publisher, RefusesOne(INTERACTIONS_EVENTS, name), name)
    settings = Settings(worker_data_dir=tmp_path)
    worker = StreamWorker(
        "interactions",
        settings,
        [],
        resources=SimpleNamespace(pool=pool, publisher=publisher),  # type: ignore[arg-type]
    )
    before = await worker.readiness()
    assert name not in before["checks"]["projection_dead_letters"]

    outcome = await runner.handle([touchpoint_record(customer_id, o) for o in range(5)])

    assert outcome.dead_lettered == 1
    after = await worker.readiness()
    assert after["checks"]["projection_dead_letters"][name] == 1
    assert after["checks"]["database"] is True
    labels = {"projection": name, "reason": "projection_failed"}
    assert metrics.value(PROJECTION_DEAD_LETTERS_TOTAL, **labels) == 1
    assert f'dialog_projection_dead_letters_total{{projection="{name}"' in metrics.exposition()
