"""Metrics on every API (prometheus_client text), structured logs with trace, span and event
ids, and the timing of calls to the key service."""

from __future__ import annotations

import io
import logging
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client.parser import text_string_to_metric_families

from dialogkit import metrics
from dialogkit.http_metrics import TimedTransport
from dialogkit.logs import JsonFormatter, handling_event
from tests.fakes import fake_app
from tests.support import AUTH

SERVICES = ["consent", "contacts", "interactions", "campaigns"]


def samples(text: str, name: str) -> list[dict[str, str]]:
    """The labels of every sample of a metric family in a Prometheus text page."""
    return [
        {**sample.labels, "__name__": sample.name}
        for family in text_string_to_metric_families(text)
        if family.name == name
        for sample in family.samples
    ]


@pytest.mark.parametrize("service", SERVICES)
def test_every_api_serves_its_metrics_as_prometheus_text(service: str) -> None:
    from devstack.stack import definitions

    definition = next(d for d in definitions() if d.name == service)
    app, _ = fake_app(definition)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/v1/customers/c-secret-1/nothing-here").status_code == 404
        page = client.get("/metrics")
    assert page.headers["content-type"].startswith("text/plain; version=")
    requests = samples(page.text, "dialog_http_requests")
    mine = [s for s in requests if s["service"] == service]
    assert any((s["route"], s["status"], s["method"]) == ("/healthz", "200", "GET") for s in mine)
    assert any(s["route"] == "unmatched" and s["status"] == "404" for s in mine)
    assert "c-secret-1" not in page.text, "route templates, never raw paths"
    latency = samples(page.text, "dialog_http_request_duration_seconds")
    assert any(s["service"] == service and s["__name__"].endswith("_bucket") for s in latency)


def test_the_route_template_labels_a_customer_route() -> None:
    from interactions.bootstrap import DEFINITION

    app, _ = fake_app(DEFINITION)
    with TestClient(app) as client:
        client.get("/v1/customers/c-secret-2/timeline")  # no token: 401
        client.get("/v1/customers/c-secret-2/timeline", headers=AUTH)
        page = client.get("/metrics").text
    routes = {
        (s["route"], s["status"])
        for s in samples(page, "dialog_http_requests")
        if s["service"] == "interactions"
    }
    assert ("/v1/customers/{customer_id}/timeline", "401") in routes
    assert "c-secret-2" not in page


def test_counters_keep_their_names_and_add_up() -> None:
    before = metrics.value("dialog_test_things_total", topic="a")
    metrics.increment("dialog_test_things_total", 2, topic="a")
    metrics.increment("dialog_test_things_total", topic="b")
    assert metrics.value("dialog_test_things_total", topic="a") == before + 2
    assert metrics.totals("dialog_test_things_total", "topic")["b"] >= 1
    [found] = [s for s in samples(metrics.exposition(), "dialog_test_things") if s["topic"] == "a"]
    assert found["__name__"] == "dialog_test_things_total"


def log_line(logger: logging.Logger, message: str) -> dict[str, str]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("t"))
    logger.addHandler(handler)
    try:
        logger.warning(message)
    finally:
        logger.removeHandler(handler)
    parsed: dict[str, str] = orjson.loads(stream.getvalue())
    return parsed


def test_log_lines_carry_trace_span_and_event_ids() -> None:
    logger = logging.getLogger("tests.observability")
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("work") as span, handling_event("e-1"):
        line = log_line(logger, "inside")
    context = span.get_span_context()
    assert line["trace_id"] == format(context.trace_id, "032x")
    assert line["span_id"] == format(context.span_id, "016x")
    assert line["event_id"] == "e-1"
    outside = log_line(logger, "outside")
    assert {"trace_id", "span_id", "event_id"}.isdisjoint(outside)


async def test_calls_to_the_key_service_are_timed_by_outcome() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/down"):
            raise httpx.ConnectError("refused")
        return httpx.Response(404)

    transport = TimedTransport(httpx.MockTransport(answer), "contacts", "data-key")

    def count(outcome: str) -> float:
        labels = {"target": "contacts", "operation": "GET data-key", "outcome": outcome}
        value = metrics.REGISTRY.get_sample_value(
            "dialog_service_call_duration_seconds_count", labels
        )
        return value or 0.0

    before = (count("4xx"), count("error"))
    async with httpx.AsyncClient(transport=transport, base_url="http://keys") as client:
        assert (await client.get("/v1/data-keys/c-1")).status_code == 404
        with pytest.raises(httpx.ConnectError):
            await client.get("/v1/data-keys/down")
    assert (count("4xx"), count("error")) == (before[0] + 1, before[1] + 1)


def test_a_worker_instruments_the_database_and_broker_clients() -> None:
    from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    from dialogkit import tracing
    from dialogkit.worker import StreamWorker
    from interactions.config import Settings

    for instrumentor in (AIOKafkaInstrumentor(), AsyncPGInstrumentor()):
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
    tracing._instrumented = False

    StreamWorker("interactions", Settings(), [])

    assert AIOKafkaInstrumentor().is_instrumented_by_opentelemetry
    assert AsyncPGInstrumentor().is_instrumented_by_opentelemetry


def test_clients_drop_idle_connections_before_the_apis_close_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A request sent on a connection the server is closing at that moment fails with a read
    error: for a data key that is a 503 on a healthy platform. Clients expire idle connections
    well before the APIs do."""
    from dialogkit import service
    from dialogkit.http_metrics import CLIENT_KEEPALIVE_S, SERVER_KEEPALIVE_S, PeerClient
    from interactions.bootstrap import DEFINITION
    from interactions.config import Settings

    client = PeerClient("http://contacts", "t", target="contacts", operation="x", timeout_s=1)
    pool = client.client()._transport._inner._pool  # type: ignore[attr-defined]
    assert pool._keepalive_expiry == CLIENT_KEEPALIVE_S
    assert CLIENT_KEEPALIVE_S * 2 <= SERVER_KEEPALIVE_S

    ran: dict[str, Any] = {}
    monkeypatch.setattr(service.uvicorn, "run", lambda app, **options: ran.update(options))
    service.run_api(DEFINITION, Settings())
    assert ran["timeout_keep_alive"] == SERVER_KEEPALIVE_S
