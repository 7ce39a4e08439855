"""The timeline worker on the real broker and database: a SIGKILL during a burst loses nothing."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dialog_schemas import Envelope
from dialog_schemas.catalog import INTERACTIONS_EVENTS
from dialog_schemas.common import Channel, Direction
from dialog_schemas.interactions import TouchpointRecorded
from dialogkit.publishing import KafkaPublisher
from tests.support import eventually, service_process

BURST = 10_000


async def test_a_worker_killed_during_a_burst_of_ten_thousand_ends_with_exactly_ten_thousand(
    new_database,
    pool_for,
    publisher: KafkaPublisher,
    platform_topics_ready: str,
    tmp_path: Path,
    data_keys_env: dict[str, str],
) -> None:
    run = uuid.uuid4().hex[:8]
    customers = [f"burst-{run}-{n}" for n in range(100)]
    start = datetime.now(UTC) - timedelta(days=1)
    channels = list(Channel)
    envelopes = [
        Envelope.wrap(
            TouchpointRecorded(
                touchpoint_id=f"tp-{n}",
                channel=channels[n % 5],
                direction=Direction.OUTBOUND,
                occurred_at=start + timedelta(seconds=n),
                reported_by="burst",
            ),
            id=uuid.uuid4(),
            source="/test",
            subject=customers[n % len(customers)],
            time=datetime.now(UTC),
        )
        for n in range(BURST)
    ]
    dsn = await new_database("interactions")
    pool = await pool_for(dsn)

    async def entries() -> int:
        count: int = await pool.fetchval(
            "SELECT count(*) FROM timeline_entries WHERE customer_id = ANY($1)", customers
        )
        return count

    common = {"bootstrap": platform_topics_ready, "dsn": dsn, "extra_env": data_keys_env}
    small_batches = {"INTERACTIONS_BATCH_MAX": "250", **data_keys_env}
    logs = tmp_path / "w1.log"
    with service_process(
        "interactions", "worker", logs=logs, **(common | {"extra_env": small_batches})
    ) as (
        worker,
        _,
    ):
        for begin in range(0, BURST, 1000):  # the burst arrives while the worker runs
            await publisher.publish(INTERACTIONS_EVENTS.name, envelopes[begin : begin + 1000])
        killed_at = await eventually(entries, lambda n: n >= 2000, timeout=120, interval=0.05)
        worker.process.kill()
        worker.process.wait(10)
    assert killed_at < BURST, "killed in the middle of the burst"
    with service_process("interactions", "worker", logs=tmp_path / "w2.log", **common):
        await eventually(entries, lambda n: n >= BURST, timeout=180, interval=0.5)
    assert await entries() == BURST
    duplicates = await pool.fetchval(
        "SELECT count(*) - count(DISTINCT (customer_id, source_ref)) FROM timeline_entries"
        " WHERE customer_id = ANY($1)",
        customers,
    )
    assert duplicates == 0


async def test_a_rebuild_replays_every_topic_into_an_empty_read_model_in_bulk(
    new_database,
    pool_for,
    publisher: KafkaPublisher,
    platform_topics_ready: str,
    tmp_path: Path,
    data_keys_env: dict[str, str],
) -> None:
    run = uuid.uuid4().hex[:8]
    customers = [f"rebuild-{run}-{n}" for n in range(10)]
    start = datetime.now(UTC) - timedelta(days=1)
    await publisher.publish(
        INTERACTIONS_EVENTS.name,
        [
            Envelope.wrap(
                TouchpointRecorded(
                    touchpoint_id=f"tp-{n}",
                    channel=Channel.LETTER,
                    direction=Direction.OUTBOUND,
                    occurred_at=start + timedelta(minutes=n),
                    reported_by="rebuild-test",
                ),
                id=uuid.uuid4(),
                source="/test",
                subject=customers[n % 10],
                time=datetime.now(UTC),
            )
            for n in range(500)
        ],
    )
    dsn = await new_database("interactions")
    env = {
        **os.environ,
        "INTERACTIONS_KAFKA_BOOTSTRAP": platform_topics_ready,
        "INTERACTIONS_DATABASE_URL": dsn,
        **data_keys_env,
    }
    code, out, err = await rebuild(env)
    assert code == 0, err
    assert "interactions.timeline: applied" in out
    progress = [line for line in err.splitlines() if line.startswith("interactions.events.v1:")]
    assert progress, f"the rebuild shows its progress: {err[-2000:]}"
    assert "events applied" in progress[-1]
    assert "events/s" in progress[-1]
    assert ", 0 left" in progress[-1]
    pool = await pool_for(dsn)
    count = await pool.fetchval(
        "SELECT count(*) FROM timeline_entries WHERE customer_id = ANY($1)", customers
    )
    assert count == 500
    code, out, err = await rebuild(env)
    assert code == 0, err
    assert "interactions.timeline: applied 0," in out, "positions were stored"


async def rebuild(env: dict[str, str]) -> tuple[int | None, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "interactions",
        "rebuild",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=300)
    return process.returncode, out.decode(), err.decode()


async def test_a_merged_duplicates_timeline_follows_the_survivor(new_database, pool_for) -> None:
    from dialog_schemas.catalog import CONTACTS_EVENTS
    from dialog_schemas.contacts import ContactErased, ContactsMerged
    from dialogkit.codec import encode
    from dialogkit.deadletters import DeadLetters
    from dialogkit.projection import ProjectionRunner
    from dialogkit.publishing import FakePublisher
    from dialogkit.records import SourceRecord
    from interactions.projections import TimelineProjection

    survivor, duplicate = f"s-{uuid.uuid4().hex[:8]}", f"d-{uuid.uuid4().hex[:8]}"
    pool = await pool_for(await new_database("interactions"))
    dead = DeadLetters(FakePublisher(), "dl", "t")
    touchpoints = ProjectionRunner(pool, TimelineProjection(INTERACTIONS_EVENTS, "tl"), dead)
    contacts = ProjectionRunner(pool, TimelineProjection(CONTACTS_EVENTS, "tl.contacts"), dead)
    at = datetime.now(UTC) - timedelta(days=1)

    sent: dict[int, bytes] = {}

    async def touchpoint(n: int, customer: str, offset: int | None = None) -> None:
        if n not in sent:
            event = TouchpointRecorded(
                touchpoint_id=f"tp-{n}",
                channel=Channel.PHONE,
                direction=Direction.INBOUND,
                occurred_at=at,
                summary=f"said {n}",
                reported_by="t",
            )
            envelope = Envelope.wrap(event, id=uuid.uuid4(), source="/t", subject=customer, time=at)
            sent[n] = encode(envelope)
        record = SourceRecord(INTERACTIONS_EVENTS.name, 0, offset or n, b"k", sent[n])
        assert (await touchpoints.handle([record])).dead_lettered == 0

    async def contact_event(offset: int, event: Any) -> None:
        envelope = Envelope.wrap(event, id=uuid.uuid4(), source="/t", subject=survivor, time=at)
        record = SourceRecord(CONTACTS_EVENTS.name, 0, offset, b"k", encode(envelope))
        await contacts.handle([record])

    await touchpoint(0, survivor)
    await touchpoint(1, duplicate)
    await contact_event(0, ContactsMerged(merged_customer_id=duplicate, merged_at=at))
    await touchpoint(2, duplicate)  # read after the merge, as a rebuild may
    await touchpoint(1, duplicate, offset=10)  # delivered again after its entry moved
    rows = await pool.fetch(
        "SELECT customer_id, kind FROM timeline_entries WHERE customer_id = ANY($1) ORDER BY kind",
        [survivor, duplicate],
    )
    assert {r["customer_id"] for r in rows} == {survivor}
    assert sorted(r["kind"] for r in rows) == [
        "ContactsMerged",
        "TouchpointRecorded",
        "TouchpointRecorded",
        "TouchpointRecorded",
    ]

    erased = ContactErased(erased_at=at, request_id=uuid.uuid4(), suppressed_contact_points=[])
    await contact_event(1, erased)
    await touchpoint(3, duplicate)  # a note that arrives after the survivor's erasure
    notes = await pool.fetch(
        "SELECT note FROM timeline_entries WHERE customer_id = $1 AND note IS NOT NULL", survivor
    )
    assert notes == [], "nothing said by an erased customer stays, whenever it arrives"
