"""A service's composition root and command line: `python -m <service> <command>`."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic

import uvicorn
import uvloop
from fastapi import APIRouter, FastAPI
from pydantic import ValidationError
from typing_extensions import TypeVar

from dialog_schemas.catalog import TopicContract
from dialogkit import heap
from dialogkit.config import ServiceSettings
from dialogkit.db import migrate
from dialogkit.http import create_api
from dialogkit.http_metrics import SERVER_KEEPALIVE_S
from dialogkit.ingress import IngressRoute
from dialogkit.jobs import Periodic
from dialogkit.lifecycle import CustomerTables
from dialogkit.logs import configure_logging
from dialogkit.projection import Projection
from dialogkit.publishing import EventPublisher
from dialogkit.replay import ReplayProgress
from dialogkit.tracing import configure_tracing

S = TypeVar("S", bound=ServiceSettings, default=ServiceSettings)


def no_jobs(settings: ServiceSettings) -> Sequence[Periodic]:
    return ()


@dataclass(frozen=True)
class ServiceDefinition(Generic[S]):
    """What makes one service: settings, HTTP routes, projections, ingress routes, migrations.

    Generic over the service's own settings type, so its factories receive exactly that type.
    """

    name: str
    settings: type[S]
    routers: Sequence[APIRouter]
    projections: Callable[[S, EventPublisher], Sequence[Projection]]
    """Made when the worker starts; the publisher is for projections that publish (state)."""
    description: str = ""
    ingress: Sequence[IngressRoute[S]] = ()
    periodic: Callable[[S], Sequence[Periodic]] = no_jobs
    """Jobs the worker runs at intervals (e.g. recording expiries)."""
    state_tables: Mapping[str, TopicContract] = field(default_factory=dict)
    """In-memory faust tables of the latest event per key on state topics, by table name."""
    customer_tables: CustomerTables = field(default_factory=CustomerTables)
    """Every table keyed by customer: those that follow a merge, and those kept, with why."""

    @property
    def migrations_package(self) -> str:
        return self.name


class SettingsError(SystemExit):
    """Settings that cannot be used; the message names each variable and what is wrong."""


def load_settings(definition: ServiceDefinition[S], **overrides: Any) -> S:
    """Read the service's settings from its environment variables, or explain what is wrong."""
    try:
        return definition.settings(**overrides)
    except ValidationError as error:
        prefix = definition.settings.model_config.get("env_prefix", "")
        lines = [
            f"  {prefix}{'_'.join(str(p) for p in e['loc']).upper() or '(settings)'}: {e['msg']}"
            for e in error.errors(include_url=False)
        ]
        raise SettingsError(
            f"invalid settings for {definition.name}:\n" + "\n".join(lines)
        ) from None


def build_api(definition: ServiceDefinition[S], settings: S) -> FastAPI:
    return create_api(
        definition.name, settings, definition.routers, description=definition.description
    )


def server_options(settings: ServiceSettings) -> dict[str, Any]:
    """How uvicorn serves an API: uvloop's event loop and httptools' HTTP parser (both C, both
    named so that a missing one fails at start, not as a silent fallback to the slower pure
    Python ones), no access log (metrics count requests), a longer keep-alive than clients."""
    return {
        "host": settings.http_host,
        "port": settings.http_port,
        "loop": "uvloop",
        "http": "httptools",
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": 5,
        "timeout_keep_alive": SERVER_KEEPALIVE_S,  # longer than any client keeps one idle
    }


def run_api(definition: ServiceDefinition[S], settings: S) -> None:
    configure_tracing(f"{definition.name}-api", settings.otlp_endpoint)
    app = build_api(definition, settings)
    heap.tune_for_service()
    uvicorn.run(app, **server_options(settings))


def run_worker(definition: ServiceDefinition[S], settings: S) -> None:
    """Run the service's stream worker until it is stopped, on asyncio's own event loop (faust
    runs its consumer on a thread of its own; uvloop there is not measured yet)."""
    from dialogkit.worker import StreamWorker
    from dialogkit.worker_setup import WorkerResources

    configure_logging(f"{definition.name}-worker", settings.log_level)
    configure_tracing(f"{definition.name}-worker", settings.otlp_endpoint)
    resources = WorkerResources(definition.name, settings)
    projections = definition.projections(settings, resources.publisher)
    worker = StreamWorker(definition.name, settings, projections, definition.ingress, resources)
    for job in definition.periodic(settings):
        worker.add_periodic(job)
    for name, topic in definition.state_tables.items():
        worker.add_state_table(name, topic)
    heap.tune_for_service()
    worker.run()


def run_migrations(definition: ServiceDefinition[S], settings: S) -> None:
    configure_logging(f"{definition.name}-migrate", settings.log_level)
    applied = asyncio.run(migrate(settings.database_url, definition.migrations_package))
    print(f"{definition.name}: applied {len(applied)} migration(s)", *applied, sep="\n  ")


def run_rebuild(definition: ServiceDefinition[S], settings: S) -> None:
    """Migrate, then bring every projection up to the end of its topics by bulk replay."""
    from dialogkit.db import create_pool
    from dialogkit.deadletters import DeadLetters
    from dialogkit.kafka_security import kafka_client_options
    from dialogkit.ledger import ledger_verifier
    from dialogkit.publishing import KafkaPublisher
    from dialogkit.replay import replay
    from dialogkit.topics import dead_letter_topic

    configure_logging(f"{definition.name}-rebuild", settings.log_level)

    async def rebuild() -> None:
        await migrate(settings.database_url, definition.migrations_package)
        pool = await create_pool(settings.database_url, max_size=2)
        security = kafka_client_options(settings)
        publisher = KafkaPublisher(
            settings.kafka_bootstrap,
            client_id=f"{definition.name}-rebuild",
            security=security,
            signers=settings.topic_signers(),
        )
        await publisher.start()
        try:
            dead = DeadLetters(publisher, dead_letter_topic(definition.name), "rebuild")
            projections = definition.projections(settings, publisher)
            report = ProgressReport()
            results = await replay(
                pool,
                projections,
                dead,
                settings.kafka_bootstrap,
                progress=report,
                security=security,
                verifier=ledger_verifier(settings, projections),
            )
            for result in results:
                print(
                    f"{result.projection}: applied {result.outcome.applied},"
                    f" dead-lettered {result.outcome.dead_lettered},"
                    f" already there {result.outcome.skipped}"
                )
        finally:
            await publisher.stop()
            await pool.close()

    heap.tune_for_service()
    uvloop.run(rebuild())


def run_status(definition: ServiceDefinition, settings: ServiceSettings) -> None:
    """Print each projection's lag per partition: broker end offset, stored position, lag."""
    from dialogkit.db import create_pool
    from dialogkit.kafka_security import kafka_client_options
    from dialogkit.lag import projection_lag, table
    from dialogkit.publishing import FakePublisher

    configure_logging(f"{definition.name}-status", settings.log_level)

    async def status() -> None:
        pool = await create_pool(settings.database_url, max_size=1)
        try:
            projections = definition.projections(settings, FakePublisher())
            rows = await projection_lag(
                pool, projections, settings.kafka_bootstrap, kafka_client_options(settings)
            )
        finally:
            await pool.close()
        print(table(rows))

    asyncio.run(status())


class ProgressReport:
    """Prints a rebuild's progress to stderr: at most every `every_s`, and each topic's end."""

    def __init__(self, every_s: float = 2.0) -> None:
        self.every_s = every_s
        self.last = 0.0

    def __call__(self, progress: ReplayProgress) -> None:
        now = time.monotonic()
        if now - self.last >= self.every_s or progress.read >= progress.total:
            self.last = now
            print(progress, file=sys.stderr, flush=True)


COMMANDS: dict[str, Callable[[ServiceDefinition[Any], Any], None]] = {
    "api": run_api,
    "worker": run_worker,
    "migrate": run_migrations,
    "rebuild": run_rebuild,
    "status": run_status,
}


def main(definition: ServiceDefinition[Any], argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {definition.name}")
    parser.add_argument("command", choices=sorted(COMMANDS))
    args = parser.parse_args(argv)
    settings = load_settings(definition)
    sys.argv = sys.argv[:1]  # faust's worker reads the command line too
    COMMANDS[args.command](definition, settings)
