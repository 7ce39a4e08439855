"""The span context a record carries, read once per record, and the span around a batch."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from dialog_schemas import Envelope
from dialog_schemas.catalog import INTERACTIONS_EVENTS
from dialog_schemas.common import Channel, Direction
from dialog_schemas.interactions import TouchpointRecorded
from dialogkit import tracing
from dialogkit.codec import encode
from dialogkit.projection import decode_all
from dialogkit.records import SourceRecord
from dialogkit.tracing import batch_span, linked_span, record_context

TRACE_A, TRACE_B = "a" * 32, "b" * 32
TOPIC = INTERACTIONS_EVENTS.name


def parent(trace_id: str, span: int) -> bytes:
    return f"00-{trace_id}-{span:016x}-01".encode()


def record(*headers: tuple[str, bytes]) -> SourceRecord:
    return SourceRecord("t", 0, 0, None, b"{}", headers)


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """Spans the tracing module starts, kept in memory (the global provider left as it is)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing.trace, "get_tracer", lambda name: provider.get_tracer(name))
    yield exporter
    provider.shutdown()


def test_a_record_without_trace_headers_carries_no_context() -> None:
    assert record_context(record(("content-type", b"application/json"))) is None


def test_the_traceparent_header_comes_before_the_envelopes() -> None:
    found = record_context(
        record(("ce_traceparent", parent(TRACE_B, 2)), ("TraceParent", parent(TRACE_A, 1)))
    )
    assert found is not None
    assert (found.trace_id, found.span_id, found.is_remote) == (int(TRACE_A, 16), 1, True)


def test_an_invalid_traceparent_falls_back_to_the_envelopes() -> None:
    found = record_context(
        record(("traceparent", b"00-nonsense-01"), ("ce_traceparent", parent(TRACE_B, 2)))
    )
    assert found is not None
    assert (found.trace_id, found.span_id) == (int(TRACE_B, 16), 2)


def test_of_a_header_given_twice_the_last_counts() -> None:
    found = record_context(
        record(("traceparent", parent(TRACE_A, 1)), ("traceparent", parent(TRACE_A, 3)))
    )
    assert found is not None
    assert found.span_id == 3


@pytest.mark.parametrize(
    "headers",
    [
        [parent(TRACE_A, 1), None, parent(TRACE_A, 2)],  # one trace: its child, linked to both
        [parent(TRACE_A, 1), parent(TRACE_B, 2)],  # two traces: linked to both, no parent
        [None, None],
    ],
)
def test_a_span_from_contexts_read_already_is_the_span_from_the_records(
    spans: InMemorySpanExporter, headers: list[bytes | None]
) -> None:
    records = [record(*([("traceparent", h)] if h else [])) for h in headers]
    with batch_span("from records", records, projection="p"):
        pass
    with linked_span("from contexts", [record_context(r) for r in records], projection="p"):
        pass
    by_records, by_contexts = spans.get_finished_spans()
    for span in (by_records, by_contexts):
        assert span.kind == trace.SpanKind.CONSUMER
        assert dict(span.attributes or {}) == {
            "projection": "p",
            "messaging.batch.message_count": len(records),
        }
    assert by_records.parent == by_contexts.parent
    traces = {h.split(b"-")[1] for h in headers if h}
    if len(traces) == 1:
        assert by_records.context.trace_id == by_contexts.context.trace_id == int(traces.pop(), 16)
    else:
        assert by_records.parent is None
    assert [link.context for link in by_records.links] == [
        link.context for link in by_contexts.links
    ]
    assert len(by_contexts.links) == sum(1 for h in headers if h)


def test_a_batch_is_decoded_with_the_context_each_record_carries() -> None:
    at = datetime(2026, 11, 1, tzinfo=UTC)
    event = TouchpointRecorded(
        touchpoint_id="tp-1",
        channel=Channel.SMS,
        direction=Direction.OUTBOUND,
        occurred_at=at,
        reported_by="test",
    )
    envelope = encode(Envelope.wrap(event, id=uuid4(), source="/test", subject="c0", time=at))
    traced = SourceRecord(TOPIC, 0, 0, b"c0", envelope, (("traceparent", parent(TRACE_A, 1)),))
    plain = SourceRecord(TOPIC, 0, 1, b"c0", envelope)
    broken = SourceRecord(TOPIC, 0, 2, b"c0", b"{", (("traceparent", parent(TRACE_B, 2)),))
    items = decode_all([traced, plain, broken], INTERACTIONS_EVENTS)
    assert [type(i).__name__ for i in items] == ["Decoded", "Decoded", "Undecodable"]
    assert [i.trace for i in items] == [record_context(r) for r in (traced, plain, broken)]
    assert [i.trace is None for i in items] == [False, True, False]
