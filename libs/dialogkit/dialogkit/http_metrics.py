"""Request counts and latency of an API by route template and status (ASGI middleware)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from dialogkit import metrics
from dialogkit.tokens import BearerAuth, StaticToken, TokenSource

Scope = dict[str, Any]
Message = dict[str, Any]


def route_template(scope: Scope) -> str:
    """The matched route's path template (`/v1/customers/{customer_id}`), never the raw path,
    so customer ids neither reach the metrics nor multiply their series; `unmatched` if none."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


Series = tuple[Any, Any]
"""The request counter's and the latency histogram's child of one label set."""
SERIES_KEPT = 1024
"""Label sets whose children `RequestMetrics` keeps at hand (methods come from clients)."""


class RequestMetrics:
    """Counts every HTTP request and observes its latency, including refused ones (413, 401)."""

    def __init__(self, app: Any, service: str) -> None:
        self.app = app
        self.service = service
        self._series: dict[tuple[str, str, int], Series] = {}

    def series(self, method: str, route: str, status: int) -> Series:
        """The counter and histogram of one label set; prometheus_client's `labels()` checks
        and locks on every call, so the children are looked up once per label set."""
        key = (method, route, status)
        found = self._series.get(key)
        if found is None:
            labels = {
                "service": self.service,
                "method": method,
                "route": route,
                "status": str(status),
            }
            found = (
                metrics.HTTP_REQUESTS.labels(**labels),
                metrics.HTTP_LATENCY.labels(**labels),
            )
            if len(self._series) < SERIES_KEPT:
                self._series[key] = found
        return found

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            requests, latency = self.series(scope.get("method", ""), route_template(scope), status)
            requests.inc()
            latency.observe(time.perf_counter() - started)


class TimedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that observes every call to another service in
    `dialog_service_call_duration_seconds{target, operation, outcome}`: outcome is the status
    class (`2xx`, `4xx`, ...) or `error` when no answer came."""

    def __init__(self, inner: httpx.AsyncBaseTransport, target: str, operation: str) -> None:
        self._inner = inner
        self._target = target
        self._operation = operation

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        outcome = "error"
        try:
            response = await self._inner.handle_async_request(request)
            outcome = f"{response.status_code // 100}xx"
            return response
        finally:
            metrics.SERVICE_CALLS.labels(
                target=self._target,
                operation=f"{request.method} {self._operation}",
                outcome=outcome,
            ).observe(time.perf_counter() - started)

    async def aclose(self) -> None:
        await self._inner.aclose()


SERVER_KEEPALIVE_S = 15
"""How long an API keeps an idle connection open (uvicorn's `timeout_keep_alive`)."""
CLIENT_KEEPALIVE_S = 5.0
"""How long a client of the platform reuses an idle connection: well below the servers' time, so
a request never goes out on a connection the server is closing at that moment (a read error on a
healthy service, which for a data key would answer 503)."""


def peer_transport() -> httpx.AsyncHTTPTransport:
    """The transport of the platform's clients to its APIs: idle connections dropped after
    `CLIENT_KEEPALIVE_S`."""
    return httpx.AsyncHTTPTransport(limits=httpx.Limits(keepalive_expiry=CLIENT_KEEPALIVE_S))


class PeerClient:
    """One httpx client to another service for the life of the adapter that holds it: its
    connections are kept and reused, every call is observed as `target`/`operation`
    (`TimedTransport`), and requests carry `token` (a fixed one, or a source that renews it)."""

    def __init__(
        self,
        base_url: str,
        token: TokenSource | str,
        *,
        target: str,
        operation: str,
        timeout_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._options: dict[str, Any] = {
            "base_url": base_url.rstrip("/"),
            "auth": BearerAuth(StaticToken(token) if isinstance(token, str) else token),
            "timeout": timeout_s,
        }
        self._observed = (transport, target, operation)
        self._client: httpx.AsyncClient | None = None

    @property
    def auth(self) -> httpx.Auth:
        """What authenticates every request (a bearer token of the adapter's scopes)."""
        auth: httpx.Auth = self._options["auth"]
        return auth

    def client(self) -> httpx.AsyncClient:
        """The client, made on first use (inside the event loop that uses it)."""
        if self._client is None:
            transport, target, operation = self._observed
            timed = TimedTransport(transport or peer_transport(), target, operation)
            self._client = httpx.AsyncClient(transport=timed, **self._options)
        return self._client
