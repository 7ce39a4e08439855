"""One trace from an HTTP POST through the event's Kafka headers to the projection's database
write, on the real broker and PostgreSQL, collected by an in-memory span exporter; records
published in batches carry their batch's producer span."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import orjson
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from dialog_schemas import Envelope
from dialog_schemas.catalog import INTERACTIONS_EVENTS, TopicContract
from dialogkit.codec import encode
from dialogkit.config import ServiceSettings
from dialogkit.deadletters import DeadLetters
from dialogkit.http import ApiRuntime, Probe, create_api
from dialogkit.pii import InMemoryKeyStore
from dialogkit.projection import ProjectionRunner
from dialogkit.publishing import FakePublisher, KafkaPublisher, encoded
from dialogkit.records import SourceRecord
from dialogkit.topics import ensure_topics
from dialogkit.tracing import configure_tracing
from interactions.bootstrap import DEFINITION
from interactions.projections import TimelineProjection
from tests.support import AUTH, read_topic


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Every span the process ends from here on (the SDK set up as an entrypoint would)."""
    configure_tracing("tests", None)
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    yield exporter
    processor.shutdown()  # the provider keeps it, but it exports nothing any more


def hex_id(value: int, width: int) -> str:
    return format(value, f"0{width}x")


async def test_one_trace_runs_from_the_http_post_through_kafka_to_the_database_write(
    spans: InMemorySpanExporter,
    platform_topics_ready: str,
    publisher: KafkaPublisher,
    new_database: Any,
    pool_for: Any,
    customer_id: str,
) -> None:
    pool = await pool_for(await new_database("interactions"))
    keys = InMemoryKeyStore()

    @asynccontextmanager
    async def runtime(
        service: str, settings: ServiceSettings
    ) -> AsyncIterator[tuple[ApiRuntime, dict[str, Probe]]]:
        yield ApiRuntime(service, settings, pool, publisher, keys), {}

    app = create_api(
        "interactions", DEFINITION.settings(), DEFINITION.routers, runtime_factory=runtime
    )
    touchpoint = {
        "customer_id": customer_id,
        "touchpoint_id": "call-1",
        "channel": "phone",
        "direction": "inbound",
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "summary": "tariff question",
    }
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://i") as api,
    ):
        response = await api.post("/v1/touchpoints", json=touchpoint, headers=AUTH)
    assert response.status_code == 202, response.text

    [server] = [
        s
        for s in spans.get_finished_spans()
        if s.kind == trace.SpanKind.SERVER and s.name == "POST /v1/touchpoints"
    ]
    trace_id = server.context.trace_id
    [send] = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.PRODUCER]
    assert send.context.trace_id == trace_id

    [record] = [
        r
        for r in await read_topic(platform_topics_ready, INTERACTIONS_EVENTS.name)
        if r.key == customer_id.encode()
    ]
    headers = dict(record.headers)
    version, carried_trace, carried_span, _ = headers["traceparent"].decode().split("-")
    assert (version, carried_trace) == ("00", hex_id(trace_id, 32))
    assert carried_span == hex_id(send.context.span_id, 16), "the producer's span"

    projection = TimelineProjection(INTERACTIONS_EVENTS, "interactions.timeline")
    runner = ProjectionRunner(pool, projection, DeadLetters(FakePublisher(), "dl", "t"))
    source = SourceRecord(
        record.topic,
        record.partition,
        record.offset,
        record.key,
        record.value,
        tuple(record.headers),
    )
    outcome = await runner.handle([source])
    assert outcome.applied == 1

    finished = spans.get_finished_spans()
    [batch] = [s for s in finished if s.name == "projection interactions.timeline"]
    assert batch.context.trace_id == trace_id
    assert batch.parent is not None
    assert batch.parent.span_id == send.context.span_id
    assert [link.context.span_id for link in batch.links] == [send.context.span_id]
    writes = [s for s in finished if descends_from(s, batch, finished) and is_write(s)]
    assert any("timeline_entries" in str(s.attributes.get("db.statement", "")) for s in writes)
    assert all(s.context.trace_id == trace_id for s in writes)
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM timeline_entries WHERE customer_id = $1", customer_id
        )
        == 1
    )


def is_write(span: ReadableSpan) -> bool:
    statement = str((span.attributes or {}).get("db.statement", "")).lstrip().upper()
    return statement.startswith(("INSERT", "UPDATE"))


def descends_from(span: ReadableSpan, ancestor: ReadableSpan, spans: Any) -> bool:
    by_id = {s.context.span_id: s for s in spans}
    current: ReadableSpan | None = span
    while current is not None and current.parent is not None:
        if current.parent.span_id == ancestor.context.span_id:
            return True
        current = by_id.get(current.parent.span_id)
    return False


async def test_records_published_in_batches_carry_the_batch_span_and_land_as_sent_alone(
    spans: InMemorySpanExporter, platform_topics_ready: str, publisher: KafkaPublisher
) -> None:
    """Encoded records keep their value, key and headers, go to the partition `publish` gives
    their key, each key's in order, and carry the `traceparent` of one producer span."""
    topic = f"test.batches.{uuid4().hex[:8]}"
    await ensure_topics(platform_topics_ready, [TopicContract(topic)], partitions=6, replication=1)
    customers = [f"batch-{uuid4().hex[:12]}" for _ in range(8)]
    envelopes = [envelope_for(c, n) for n in range(3) for c in customers]
    first = envelopes[: len(customers)]
    alone = await publisher.publish(topic, first)
    partition_of = {e.subject: p.partition for e, p in zip(first, alone, strict=True)}
    records = [encoded(encode(e)) for e in envelopes]
    await publisher.publish_encoded(topic, records)

    [send] = [  # the instrumentation names a record's own span alike, without a count
        s
        for s in spans.get_finished_spans()
        if s.name == f"{topic} send"
        and (s.attributes or {}).get("messaging.batch.message_count") == len(records)
    ]
    assert send.kind == trace.SpanKind.PRODUCER
    context = send.context
    carried = f"00-{hex_id(context.trace_id, 32)}-{hex_id(context.span_id, 16)}-"
    carried += hex_id(context.trace_flags, 2)
    found = [r for r in await read_topic(platform_topics_ready, topic) if r.key in keys(customers)]
    batched = [r for r in found if ("traceparent", carried.encode()) in r.headers]
    assert sorted(r.value for r in batched) == sorted(r.value for r in records)
    for record in batched:
        [sent] = [r for r in records if r.value == record.value]
        assert record.key == sent.key
        assert list(record.headers) == [*sent.headers, ("traceparent", carried.encode())]
        assert record.partition == partition_of[record.key.decode()]
    for customer in customers:
        mine = [r for r in sorted(batched, key=lambda r: r.offset) if r.key == customer.encode()]
        assert [orjson.loads(r.value)["data"]["n"] for r in mine] == [0, 1, 2]


def keys(customers: list[str]) -> set[bytes]:
    return {c.encode() for c in customers}


def envelope_for(customer: str, n: int) -> Envelope:
    outreach = uuid4()
    return Envelope(
        id=uuid4(),
        source="/campaigns/worker",
        type="OutreachDispatched",
        subject=customer,
        time=datetime.now(UTC),
        schemaversion=1,
        correlationid=outreach,
        data={"outreach_id": str(outreach), "n": n},
    )
