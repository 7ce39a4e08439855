"""The FastAPI shell every service's API shares: lifespan, health, auth, problems, metrics,
tracing (the SDK itself is set up by the entrypoint, `dialogkit.service`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from fastapi.telemetry import TelemetryConfig
from typing_extensions import TypeVar

from dialogkit import metrics
from dialogkit.applied import (
    AppliedPositions,
    InMemoryAppliedPositions,
    PostgresAppliedPositions,
)
from dialogkit.audit import PublishedAuditTrail, install_personal_data_guard
from dialogkit.auth import authorize_route, check_declarations, install_auth
from dialogkit.commands import Outcome
from dialogkit.config import ServiceSettings
from dialogkit.customers import refuse_merged_customers
from dialogkit.db import create_pool
from dialogkit.emitter import Emitter
from dialogkit.erasures import ErasedContactPoints
from dialogkit.http_metrics import RequestMetrics
from dialogkit.idempotency import (
    IdempotencyStore,
    InMemoryIdempotencyStore,
    PostgresIdempotencyStore,
)
from dialogkit.kafka_security import kafka_client_options
from dialogkit.keys import KeyStore
from dialogkit.limits import BodyLimits
from dialogkit.logs import configure_logging
from dialogkit.pii import PersonalDataCipher
from dialogkit.problem_docs import NOT_READY, document_problems
from dialogkit.problems import (
    install_outage_handlers,
    install_problem_handlers,
    problem_response,
)
from dialogkit.publishing import EventPublisher, KafkaPublisher
from dialogkit.readiness import Probe, check_all
from dialogkit.tracing import instrument_app

S = TypeVar("S", bound=ServiceSettings, default=ServiceSettings)


@dataclass
class ApiRuntime(Generic[S]):
    """What request handlers need: settings, the service's database, a publisher, data keys.

    Generic over the service's settings; a service names its own `Runtime` alias
    (`Annotated[ApiRuntime[Settings], Depends(get_runtime)]`) so routes read typed settings.
    """

    service: str
    settings: S
    pool: asyncpg.Pool
    publisher: EventPublisher
    keys: KeyStore | None = None
    erased_contact_points: ErasedContactPoints | None = None
    idempotency: IdempotencyStore = field(init=False)
    applied: AppliedPositions = field(init=False)

    def __post_init__(self) -> None:
        if self.keys is None:
            self.keys = self.settings.key_store(self.pool)
        if self.erased_contact_points is None:
            self.erased_contact_points = self.settings.erased_contact_points()
        if self.pool is None:  # a runtime without a database: unit tests of routes
            self.idempotency = InMemoryIdempotencyStore()
            self.applied = InMemoryAppliedPositions()
        else:
            self.idempotency = PostgresIdempotencyStore(self.pool)
            self.applied = PostgresAppliedPositions(self.pool)

    @property
    def cipher(self) -> PersonalDataCipher:
        assert self.keys is not None
        return PersonalDataCipher(self.keys)

    @property
    def emitter(self) -> Emitter:
        return Emitter(self.service, "api")


@asynccontextmanager
async def kafka_postgres_runtime(
    service: str, settings: ServiceSettings
) -> AsyncIterator[tuple[ApiRuntime[ServiceSettings], dict[str, Probe]]]:
    """Open the pool and producer for the app's lifetime, and say how to probe them."""
    pool = await create_pool(settings.database_url, max_size=settings.database_pool_max)
    publisher = KafkaPublisher(
        settings.kafka_bootstrap,
        client_id=f"{service}-api",
        idempotent=settings.kafka_idempotent_producer,
        timeout_s=settings.publish_timeout_s,
        security=kafka_client_options(settings),
        signers=settings.topic_signers(),
    )
    try:
        await publisher.start()
        runtime = ApiRuntime(service, settings, pool, publisher)

        async def database() -> bool:
            try:
                return bool(await pool.fetchval("SELECT 1", timeout=2) == 1)
            except Exception:
                return False

        yield runtime, {"database": database, "broker": publisher.reachable}
    finally:
        await publisher.stop()
        await pool.close()


RuntimeFactory = Callable[[str, ServiceSettings], Any]
NATIVE_TELEMETRY_OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
"""FastAPI's own OpenTelemetry support stays off: spans come from the OpenTelemetry
instrumentation (`dialogkit.tracing`), metrics from `RequestMetrics`; with it on, every request
would still pay for checking whether it is needed."""


async def get_runtime(request: Request) -> ApiRuntime[Any]:
    """The app's runtime (`async`: FastAPI runs a plain `def` dependency in a worker thread)."""
    runtime: ApiRuntime[Any] = request.app.state.runtime
    return runtime


Runtime = Annotated[ApiRuntime[ServiceSettings], Depends(get_runtime)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Makes a retried command record nothing twice.",
    ),
]


def answered(response: Response, outcome: Outcome) -> Outcome:
    """Answer 202 where a command that waits has not seen its events applied yet."""
    if outcome.pending:
        response.status_code = 202
    return outcome


def create_api(
    service: str,
    settings: ServiceSettings,
    routers: Sequence[APIRouter],
    *,
    runtime_factory: RuntimeFactory = kafka_postgres_runtime,
    description: str = "",
) -> FastAPI:
    """Build a service's API; connections open in the lifespan, never at import.

    Every route but the probes, metrics and docs must declare its scopes (dialogkit.auth)."""
    configure_logging(f"{service}-api", settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime_factory(service, settings) as (runtime, probes):
            app.state.runtime = runtime
            app.state.probes = probes
            yield

    app = FastAPI(
        title=f"{service} API",
        version="1",
        description=description,
        lifespan=lifespan,
        telemetry=NATIVE_TELEMETRY_OFF,
    )
    app.state.settings = settings
    app.state.service = service
    install_problem_handlers(app)
    install_outage_handlers(app)
    install_auth(app, settings.token_verifier())
    install_personal_data_guard(
        app, lambda request: PublishedAuditTrail(request.app.state.runtime.publisher, service)
    )

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], responses=NOT_READY)
    async def readyz(request: Request) -> JSONResponse:
        """Broker and database answer, each within `readiness_timeout_s`; else a 503 problem
        whose `failing` names who does not and why."""
        result = await check_all(request.app.state.probes, settings.readiness_timeout_s)
        if result.ready:
            return JSONResponse({"status": "ready", "checks": result.checks})
        failing = ", ".join(f"{name}: {why}" for name, why in result.failing.items())
        return problem_response(
            request, 503, "Not ready", failing, checks=result.checks, failing=result.failing
        )

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    async def metrics_page() -> PlainTextResponse:
        """The process's metrics in Prometheus text format (prometheus_client)."""
        return PlainTextResponse(metrics.exposition(), media_type=metrics.CONTENT_TYPE)

    for router in routers:
        app.include_router(
            router, dependencies=[Depends(authorize_route), Depends(refuse_merged_customers)]
        )
    check_declarations(app)
    paths = {r.path for router in routers for r in router.routes if isinstance(r, APIRoute)}
    document_problems(app, paths)
    app.add_middleware(
        BodyLimits, max_bytes=settings.http_max_body_bytes, max_depth=settings.http_max_json_depth
    )
    app.add_middleware(RequestMetrics, service=service)
    instrument_app(app)
    return app
