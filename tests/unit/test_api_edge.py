"""What every request pays for at an API's edge, and what it no longer pays for: one server span
(none for probes, none per ASGI message), no worker thread for a dependency, answers without a
personal-data declaration passed through as the route sends them."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute, iter_route_contexts
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from dialogkit import http, tracing
from dialogkit.auth import scope
from dialogkit.tracing import current_traceparent
from interactions.bootstrap import DEFINITION
from tests.fakes import client_of, fake_app

SERVICES = ("consent", "contacts", "interactions", "campaigns")


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """Spans of apps `create_api` builds from here on, kept in memory (the process's global
    tracer provider left as it is)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(http, "instrument_app", lambda app: tracing.instrument_app(app, provider))
    yield exporter
    provider.shutdown()


def names(spans: InMemorySpanExporter) -> list[tuple[str, trace.SpanKind]]:
    finished: tuple[ReadableSpan, ...] = spans.get_finished_spans()
    return [(s.name, s.kind) for s in finished]


async def test_probes_and_metrics_make_no_spans(spans: InMemorySpanExporter) -> None:
    app, _ = fake_app(DEFINITION)
    async with client_of(app) as client:
        for path in tracing.UNTRACED_PATHS:
            assert (await client.get(path)).status_code == 200
    assert names(spans) == []


async def test_a_request_makes_one_server_span_and_none_per_asgi_message(
    spans: InMemorySpanExporter,
) -> None:
    app, _ = fake_app(DEFINITION)
    async with client_of(app) as client:
        # a customer id that names a probe is still a customer's request
        response = await client.get("/v1/customers/metrics/timeline")
    assert response.status_code == 200
    route = "GET /v1/customers/{customer_id}/timeline"
    assert names(spans) == [(route, trace.SpanKind.SERVER)]


def test_no_dependency_of_any_route_runs_in_a_worker_thread() -> None:
    """FastAPI runs a plain `def` dependency in the thread pool: a hand-off per request."""
    from fastapi.dependencies.models import _is_coroutine_callable

    synchronous: set[str] = set()
    for name in SERVICES:
        definition = importlib.import_module(f"{name}.bootstrap").DEFINITION
        app, _ = fake_app(definition)
        for context in iter_route_contexts(app.routes):
            if not isinstance(context.original_route, APIRoute):
                continue
            pending: list[Dependant] = [context.dependant]
            while pending:
                dependant = pending.pop()
                pending += dependant.dependencies
                call = dependant.call
                endpoint = dependant is context.dependant
                if call is not None and not endpoint and not _is_coroutine_callable(call):
                    synchronous.add(getattr(call, "__qualname__", repr(call)))
    assert synchronous == set()


streamed = APIRouter(prefix="/v1")


@streamed.get("/customers/{customer_id}/stream", dependencies=[scope("interactions:read")])
async def stream(customer_id: str) -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"one,"
        yield b"two"

    return StreamingResponse(chunks(), media_type="text/csv")


async def test_an_answer_without_personal_data_is_passed_on_as_the_route_sends_it() -> None:
    from dialogkit.http import create_api
    from tests.fakes import FakeRuntimes

    app = create_api(
        "interactions", DEFINITION.settings(), [streamed], runtime_factory=FakeRuntimes()
    )
    sent: list[dict[str, Any]] = []
    requests = iter([{"type": "http.request", "body": b"", "more_body": False}])
    answered = asyncio.Event()

    async def receive() -> dict[str, Any]:
        request = next(requests, None)
        if request is None:  # the client stays until the answer is complete
            await answered.wait()
            return {"type": "http.disconnect"}
        return request

    async def send(message: dict[str, Any]) -> None:
        sent.append(dict(message))
        if message["type"] == "http.response.body" and not message.get("more_body"):
            answered.set()

    from tests.support import AUTH

    headers = [(k.lower().encode(), v.encode()) for k, v in AUTH.items()]
    scope_: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/v1/customers/c-1/stream",
        "raw_path": b"/v1/customers/c-1/stream",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"api"), *headers],
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1),
    }
    async with app.router.lifespan_context(app):
        await app(scope_, receive, send)
    assert (sent[0]["type"], sent[0]["status"]) == ("http.response.start", 200)
    bodies = [m["body"] for m in sent[1:] if m["body"]]
    assert bodies == [b"one,", b"two"], "chunk by chunk, not held and joined"


def test_the_traceparent_is_the_one_the_w3c_propagator_writes() -> None:
    assert current_traceparent() is None
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("work"):
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        assert current_traceparent() == carrier["traceparent"]
