"""Projection lag on the real broker and PostgreSQL: the broker's end offsets minus the
positions stored with the read model, as `/metrics` and `python -m <service> status` show it."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from contacts.bootstrap import DEFINITION
from dialog_schemas import Envelope
from dialog_schemas.catalog import TopicContract
from dialog_schemas.common import CustomerKind
from dialog_schemas.contacts import ContactRegistered
from dialogkit import lag, metrics
from dialogkit.deadletters import DeadLetters
from dialogkit.projection import Decoded, ProjectionRunner
from dialogkit.publishing import FakePublisher, KafkaPublisher
from dialogkit.records import SourceRecord
from dialogkit.service import load_settings, run_status
from dialogkit.topics import ensure_topics
from tests.support import read_topic


class Counting:
    """A read model that only counts what it applied."""

    def __init__(self, source: TopicContract) -> None:
        self.name = f"lagging-{uuid.uuid4().hex[:6]}"
        self.source = source
        self.applied = 0

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        self.applied += len(events)


def registered(customer: str) -> Envelope:
    now = datetime.now(UTC)
    event = ContactRegistered(kind=CustomerKind.CONSUMER, name="N", registered_at=now)
    return Envelope.wrap(event, id=uuid.uuid4(), source="/t", subject=customer, time=now)


async def publish_one_by_one(publisher: KafkaPublisher, topic: str, count: int) -> None:
    for _ in range(count):  # one producer batch each: the embedded broker's end offset is the
        await publisher.publish(topic, [registered("c-lag")])  # start of the last batch


async def catch_up(runner: ProjectionRunner, bootstrap: str, topic: str) -> None:
    records = await read_topic(bootstrap, topic)
    await runner.handle(
        [
            SourceRecord(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers))
            for r in records
        ]
    )


async def status_of(
    projection: Counting, dsn: str, bootstrap: str, capsys: pytest.CaptureFixture[str]
) -> str:
    """What `python -m contacts status` prints, for a service whose projection this is."""
    definition = replace(DEFINITION, projections=lambda settings, publisher: [projection])
    settings = load_settings(definition, database_url=dsn, kafka_bootstrap=bootstrap)
    capsys.readouterr()
    await asyncio.to_thread(run_status, definition, settings)
    return capsys.readouterr().out


def lag_of(rows: Sequence[lag.Lag]) -> int:
    return sum(row.records for row in rows)


async def test_a_stopped_projections_lag_grows_and_returns_to_zero_when_it_resumes(
    platform_topics_ready: str,
    publisher: KafkaPublisher,
    new_database: Any,
    pool_for: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bootstrap = platform_topics_ready
    topic = TopicContract.of(f"lag-test-{uuid.uuid4().hex[:8]}.v1", [ContactRegistered])
    await ensure_topics(bootstrap, [topic], partitions=2, replication=1)
    dsn = await new_database("contacts")
    pool = await pool_for(dsn)
    projection = Counting(topic)
    runner = ProjectionRunner(pool, projection, DeadLetters(FakePublisher(), "dl", "t"))

    await publish_one_by_one(publisher, topic.name, 2)
    await catch_up(runner, bootstrap, topic.name)
    rows = await lag.projection_lag(pool, [projection], bootstrap)
    assert [(r.topic, r.partition) for r in rows] == [(topic.name, 0), (topic.name, 1)]
    assert lag_of(rows) == 0

    await publish_one_by_one(publisher, topic.name, 3)  # the projection is stopped meanwhile
    stopped = lag_of(await lag.projection_lag(pool, [projection], bootstrap))
    await publish_one_by_one(publisher, topic.name, 3)
    later = await lag.projection_lag(pool, [projection], bootstrap)
    assert 0 < stopped < lag_of(later)
    lag.publish(later)
    gauges = {
        sample.labels["partition"]: sample.value
        for family in text_string_to_metric_families(metrics.exposition())
        for sample in family.samples
        if family.name == "dialog_projection_lag_records"
        and sample.labels["projection"] == projection.name
    }
    assert sum(gauges.values()) == lag_of(later)
    header, *lines = lag.table(later).splitlines()
    assert header.split() == [
        "projection",
        "topic",
        "partition",
        "end",
        "offset",
        "position",
        "lag",
    ]
    assert [line.split()[-1] for line in lines] == [str(row.records) for row in later]

    printed = await status_of(projection, dsn, bootstrap, capsys)
    assert printed == lag.table(later) + "\n"

    await catch_up(runner, bootstrap, topic.name)  # resumed
    assert projection.applied == 8
    resumed = await lag.projection_lag(pool, [projection], bootstrap)
    assert lag_of(resumed) == 0
    metrics.exposition()  # refreshes the age of the newest applied event
    freshness = metrics.REGISTRY.get_sample_value(
        "dialog_projection_freshness_seconds", {"projection": projection.name}
    )
    assert freshness is not None
    assert 0 <= freshness < 60


async def test_lag_gauges_keep_their_values_when_the_broker_does_not_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from dialog_schemas.catalog import CONTACTS_EVENTS
    from dialogkit.config import ServiceSettings
    from dialogkit.lag import refresh_lag

    class Quiet:
        name = "quiet-projection"
        source = CONTACTS_EVENTS

    gauge = metrics.PROJECTION_LAG.labels(
        projection="quiet-projection", topic=CONTACTS_EVENTS.name, partition="0"
    )
    gauge.set(7)
    settings = ServiceSettings(kafka_bootstrap="127.0.0.1:1", readiness_timeout_s=0.3)
    pool: Any = object()  # never reached: the broker is asked first
    with caplog.at_level(logging.WARNING, logger="dialogkit.lag"):
        await refresh_lag(pool, [Quiet()], settings)  # type: ignore[list-item]
    assert "projection lag not refreshed" in caplog.text
    sample = metrics.REGISTRY.get_sample_value(
        "dialog_projection_lag_records",
        {"projection": "quiet-projection", "topic": CONTACTS_EVENTS.name, "partition": "0"},
    )
    assert sample == 7
