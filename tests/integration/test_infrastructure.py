"""Migrations, topics and the publisher against the real database and broker."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from dialog_schemas import Envelope
from dialog_schemas.catalog import TopicContract
from dialog_schemas.interactions import Channel, Direction, TouchpointRecorded
from dialogkit.codec import decode_envelope
from dialogkit.db import ensure_database, migrate
from dialogkit.publishing import KafkaPublisher
from dialogkit.topics import ensure_topics


async def test_migrations_apply_once_even_when_run_concurrently(postgres_admin_dsn) -> None:
    from tests.conftest import dsn_for

    name = f"test_{uuid.uuid4().hex[:12]}"
    assert await ensure_database(postgres_admin_dsn, name) is True
    assert await ensure_database(postgres_admin_dsn, name) is False
    dsn = dsn_for(postgres_admin_dsn, name)
    results = await asyncio.gather(*(migrate(dsn, "interactions") for _ in range(3)))
    applied = sorted(results, key=len)
    assert applied[0] == applied[1] == []
    assert applied[2] == [
        "dialogkit/001_projection_positions.sql",
        "dialogkit/002_event_journal.sql",
        "dialogkit/003_customer_merges.sql",
        "dialogkit/004_idempotency_keys.sql",
        "consentledger/001_ledger.sql",  # required by interactions' migrations
        "consentledger/002_suppressed_channels.sql",
        "consentledger/003_customer_kinds.sql",
        "consentledger/004_erased_at.sql",
        "consentledger/005_snapshots.sql",
        "interactions/001_timeline.sql",
        "interactions/002_compliance.sql",
        "interactions/003_timeline_note.sql",
        "interactions/004_erased_customers.sql",
        "interactions/005_compliance_failures.sql",
        "interactions/006_note_owner.sql",
        "interactions/007_survey_answers.sql",
    ]
    connection = await asyncpg.connect(dsn)
    try:
        assert await connection.fetchval("SELECT count(*) FROM schema_migrations") == 16
    finally:
        await connection.close()


async def test_topics_are_created_once_with_their_cleanup_policy(kafka_bootstrap) -> None:
    suffix = uuid.uuid4().hex[:8]
    specs = [
        TopicContract(f"test.plain.{suffix}"),
        TopicContract(f"test.state.{suffix}", compacted=True),
    ]
    created = await ensure_topics(kafka_bootstrap, specs, partitions=3, replication=1)
    again = await ensure_topics(kafka_bootstrap, specs, partitions=3, replication=1)
    assert created == [s.name for s in specs]
    assert again == []
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, s.name) for s in specs]
        )
        plain, state = ({e[0]: e[1] for e in r[4]} for r in response.resources)
        assert state["cleanup.policy"] == "compact"
        assert (plain["cleanup.policy"], plain["retention.ms"]) == ("delete", "-1")
    finally:
        await admin.close()


async def test_published_events_are_keyed_by_customer_with_routing_headers(
    kafka_bootstrap,
) -> None:
    topic = f"test.publish.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, [TopicContract(topic)], partitions=6, replication=1)
    event = TouchpointRecorded(
        touchpoint_id="t-1",
        channel=Channel.LETTER,
        direction=Direction.OUTBOUND,
        occurred_at=datetime(2026, 11, 2, tzinfo=UTC),
        reported_by="test",
    )
    envelopes = [
        Envelope.wrap(event, id=uuid.uuid4(), source="/t", subject=c, time=datetime.now(UTC))
        for c in ("anna", "ben", "anna")
    ]
    publisher = KafkaPublisher(kafka_bootstrap, client_id="test")
    await publisher.start()
    try:
        assert await publisher.reachable()
        await publisher.publish(topic, envelopes)
    finally:
        await publisher.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        received = []
        while len(received) < 3:
            batches = await consumer.getmany(timeout_ms=1000)
            received += [r for records in batches.values() for r in records]
    finally:
        await consumer.stop()
    by_customer: dict[bytes, set[int]] = {}
    for record in received:
        by_customer.setdefault(record.key, set()).add(record.partition)
        headers = dict(record.headers)
        assert headers["content-type"] == b"application/cloudevents+json"
        assert headers["ce_type"] == b"TouchpointRecorded"
        assert decode_envelope(record.value).subject == record.key.decode()
        structured = decode_envelope(record.value, record.headers)
        ce_headers = [(k, v) for k, v in record.headers if k.startswith("ce_")]
        assert decode_envelope(orjson.dumps(structured.data), ce_headers) == structured
    assert set(by_customer) == {b"anna", b"ben"}
    assert len(by_customer[b"anna"]) == 1  # one customer, one partition: ordered


async def test_the_publisher_says_where_each_event_landed_and_publishing_nothing_is_fine(
    kafka_bootstrap: str,
) -> None:
    topic = f"test.places.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, [TopicContract(topic)], partitions=2, replication=1)
    event = TouchpointRecorded(
        touchpoint_id="tp",
        channel=Channel.LETTER,
        direction=Direction.OUTBOUND,
        occurred_at=datetime(2026, 11, 2, tzinfo=UTC),
        reported_by="test",
    )
    envelopes = [
        Envelope.wrap(event, id=uuid.uuid4(), source="/t", subject="anna", time=datetime.now(UTC))
        for _ in range(3)
    ]
    publisher = KafkaPublisher(kafka_bootstrap, client_id="test")
    await publisher.start()
    try:
        assert await publisher.publish(topic, []) == []
        placed = await publisher.publish(topic, envelopes)
    finally:
        await publisher.stop()
    assert {p.topic for p in placed} == {topic}
    assert len({p.partition for p in placed}) == 1, "one customer, one partition"
    assert [p.offset for p in placed] == [0, 1, 2]
