"""Tracing: OpenTelemetry's instrumentation for FastAPI, asyncpg, aiokafka and httpx, the SDK
set up by entrypoints only, and W3C trace context from Kafka headers into projection batches.

The aiokafka instrumentation writes the producer span's `traceparent` into every record's Kafka
headers; a worker continues that trace in the span around a batch it applies, so the database
writes of the batch (asyncpg spans) belong to it. Records published in batches
(`KafkaPublisher.publish_encoded`) carry the `traceparent` of one producer span per batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from fastapi import FastAPI
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from dialogkit.records import SourceRecord

MAX_LINKS = 128
_configured = False
_instrumented = False


def configure_tracing(
    service_name: str, otlp_endpoint: str | None, exporter: SpanExporter | None = None
) -> None:
    """Install the SDK's tracer provider (once per process; entrypoints only). Spans are
    exported over OTLP/HTTP to `otlp_endpoint` when set, or to `exporter`; else dropped."""
    global _configured
    if _configured:
        return
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=f"{otlp_endpoint.rstrip('/')}/v1/traces")
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _configured = True


def instrument_libraries() -> None:
    """Patch asyncpg, aiokafka and httpx to make spans and carry trace context (idempotent);
    without a configured SDK their spans cost next to nothing and go nowhere."""
    global _instrumented
    if _instrumented:
        return
    from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    AIOKafkaInstrumentor().instrument()
    AsyncPGInstrumentor().instrument()  # type: ignore[no-untyped-call]
    HTTPXClientInstrumentor().instrument()
    _instrumented = True


UNTRACED_PATHS = ("/healthz", "/readyz", "/metrics")
"""Probes and scrapes: asked every few seconds, they would fill the traces and cost a span each."""


def instrument_app(app: FastAPI, tracer_provider: TracerProvider | None = None) -> None:
    """One server span per request, continuing the caller's `traceparent`; none for the probes
    and metrics (`UNTRACED_PATHS`), and none of the instrumentation's per-message spans (one
    for each ASGI `receive` and `send`: three or more per request, with nothing a trace needs).

    `tracer_provider`: the SDK provider the spans go to; the process's global one when None."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    instrument_libraries()
    FastAPIInstrumentor.instrument_app(
        app,
        excluded_urls=",".join(f"{path}$" for path in UNTRACED_PATHS),
        exclude_spans=["receive", "send"],
        tracer_provider=tracer_provider,
    )


def current_traceparent() -> str | None:
    """The W3C traceparent of the active span, to put into an outgoing envelope; None without
    one. Written as the W3C propagator writes it, without asking every configured propagator
    for its headers (once per event made)."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    trace_id, span_id = (
        trace.format_trace_id(context.trace_id),
        trace.format_span_id(context.span_id),
    )
    return f"00-{trace_id}-{span_id}-{context.trace_flags:02x}"


TRACE_HEADERS = ("traceparent", "ce_traceparent")
"""The headers a record's span context may come from, in order of preference."""


def record_context(record: SourceRecord) -> trace.SpanContext | None:
    """The span context a record carries: its `traceparent` header (set by the producer), else
    its envelope's `ce_traceparent` (set by the API that made the event); None if neither.
    Header names in any case; of a header given twice, the last."""
    found: dict[str, bytes] = {}
    for name, value in record.headers:
        if (lowered := name.lower()) in TRACE_HEADERS:
            found[lowered] = value
    if not found:  # the usual record of a batch published without a trace
        return None
    for name in TRACE_HEADERS:
        if (header := found.get(name)) is None:
            continue
        carrier = {"traceparent": header.decode(errors="replace")}
        span_context = trace.get_current_span(propagate.extract(carrier)).get_span_context()
        if span_context.is_valid:
            return span_context
    return None


@contextmanager
def batch_span(name: str, records: Sequence[SourceRecord], **attributes: str) -> Iterator[None]:
    """A span around processing a batch of records: linked to the trace of every record, and a
    child of that trace when all records share one (the live path, one request at a time)."""
    with linked_span(name, [record_context(r) for r in records], **attributes):
        yield


@contextmanager
def linked_span(
    name: str, contexts: Sequence[trace.SpanContext | None], **attributes: str
) -> Iterator[None]:
    """`batch_span` for a batch whose records' span contexts (`record_context`, None for a
    record without one) were read already: one per record, in batch order."""
    found = [c for c in contexts if c is not None]
    traces = {c.trace_id for c in found}
    parent = None
    if len(traces) == 1:
        parent = trace.set_span_in_context(trace.NonRecordingSpan(found[0]))
    links = [trace.Link(c) for c in found[:MAX_LINKS]]
    tracer = trace.get_tracer("dialogkit")
    with tracer.start_as_current_span(
        name,
        context=parent,
        kind=trace.SpanKind.CONSUMER,
        links=links,
        attributes={**attributes, "messaging.batch.message_count": len(contexts)},
    ):
        yield


@contextmanager
def producer_span(topic: str, count: int) -> Iterator[list[tuple[str, bytes]]]:
    """One producer span around sending `count` records to `topic` in batches; yields the trace
    headers (W3C `traceparent`) each of them carries, as the aiokafka instrumentation puts them
    into a record sent alone. None without a tracer provider set up (no trace to continue)."""
    tracer = trace.get_tracer("dialogkit")
    attributes: dict[str, str | int] = {
        "messaging.system": "kafka",
        "messaging.destination.name": topic,
        "messaging.batch.message_count": count,
    }
    with tracer.start_as_current_span(
        f"{topic} send", kind=trace.SpanKind.PRODUCER, attributes=attributes
    ):
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        yield [(name, value.encode()) for name, value in carrier.items()]


@contextmanager
def span_from(name: str, traceparent: str | None, **attributes: str) -> Iterator[trace.Span]:
    """A span that continues the trace an envelope or request carried."""
    context = propagate.extract({"traceparent": traceparent} if traceparent else {})
    tracer = trace.get_tracer("dialogkit")
    with tracer.start_as_current_span(name, context=context, attributes=attributes) as span:
        yield span
