"""OpenTelemetry set-up and W3C trace context carried in event envelopes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_configured = False


def configure_tracing(service_name: str, otlp_endpoint: str | None) -> None:
    """Install a tracer provider; spans are exported only when an OTLP endpoint is set."""
    global _configured
    if _configured:
        return
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp_endpoint}/v1/traces"))
        )
    trace.set_tracer_provider(provider)
    _configured = True


def current_traceparent() -> str | None:
    """The W3C traceparent of the active span, to put into an outgoing envelope."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


@contextmanager
def span_from(name: str, traceparent: str | None, **attributes: str) -> Iterator[trace.Span]:
    """A span that continues the trace an envelope or request carried."""
    context = propagate.extract({"traceparent": traceparent} if traceparent else {})
    tracer = trace.get_tracer("dialogkit")
    with tracer.start_as_current_span(name, context=context, attributes=attributes) as span:
        yield span
