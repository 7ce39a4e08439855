"""Stream workers on faust-streaming: projections and ingress routes fed in batches.

The database, not the consumer group, is the truth about what a projection has applied. After
each rebalance, once faust has sought to the group's committed offsets, the worker seeks every
assigned partition to the position stored with the read model, so a crash between the database
commit and the offset commit neither loses nor repeats a change (repeats are skipped by
`ProjectionRunner` anyway), and commits those positions to the group (dialogkit.resume).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Generic

import faust
import orjson
from faust.types import StreamT
from typing_extensions import TypeVar

from dialog_schemas.catalog import TopicContract
from dialogkit import faust_transport, metrics
from dialogkit.agent_loop import BATCH_SECONDS as BATCH_SECONDS  # the metrics page names it
from dialogkit.agent_loop import Steps, batch_agent, source_record, source_records
from dialogkit.auth import authorize_header, refusal
from dialogkit.codec import DecodeError
from dialogkit.config import ServiceSettings
from dialogkit.ingress import IngressContext, IngressProcessor, IngressRoute
from dialogkit.issuer import Forbidden, NoKeys, TokenVerifier, Unauthorized
from dialogkit.jobs import JOB_RECORD_FAILURES_TOTAL, Periodic
from dialogkit.lag import refresh_lag
from dialogkit.ledger import ledger_verifier
from dialogkit.problems import PROBLEM_JSON
from dialogkit.projection import (
    PROJECTION_DEAD_LETTERS_TOTAL,
    Projection,
    ProjectionRunner,
    decode,
)
from dialogkit.readiness import check_all
from dialogkit.resume import resume_at_stored_positions
from dialogkit.side_by_side import SideBySide
from dialogkit.tracing import instrument_libraries
from dialogkit.worker_setup import WorkerResources, faust_settings

S = TypeVar("S", bound=ServiceSettings, default=ServiceSettings)
log = logging.getLogger(__name__)


class StreamWorker(Generic[S]):
    """A faust app that runs a service's projections and reports its readiness."""

    def __init__(
        self,
        service: str,
        settings: S,
        projections: Sequence[Projection],
        ingress: Sequence[IngressRoute[S]] = (),
        resources: WorkerResources | None = None,
    ) -> None:
        instrument_libraries()  # spans for asyncpg and aiokafka; exported once the SDK is set up
        self.service = service
        self.settings = settings
        self.projections = list(projections)
        self.resources = resources or WorkerResources(service, settings)
        options = faust_settings(service, settings)
        Path(options["datadir"]).mkdir(parents=True, exist_ok=True)  # faust makes one level only
        self.app = faust_transport.App(**options)
        self.rebalanced = False
        self.read_scope = f"{service}:read"
        self._verifier: TokenVerifier | None = None
        by_topic: dict[str, list[Projection]] = {}
        for projection in self.projections:  # one agent per topic: decoded once, applied by each
            by_topic.setdefault(projection.source.name, []).append(projection)
        for topic, readers in by_topic.items():
            name = "+".join(p.name.removeprefix(f"{service}.") for p in readers)
            self._add_agent(name, topic, self._projection_runners(readers))
        for route in ingress:
            self._add_agent(route.name, route.source.name, self._ingress_processor(route))
        self.app.on_rebalance_complete.connect(self._seek_to_stored_positions)  # type: ignore[arg-type]
        self._add_pages()

    def _projection_runners(self, readers: Sequence[Projection]) -> Callable[[], Steps]:
        resources = self.resources
        verifier = ledger_verifier(self.settings, readers)

        def make() -> Steps:
            runners = SideBySide(
                readers[0].source,
                {
                    p.name: ProjectionRunner(
                        resources.pool, p, resources.dead_letters(p.name), verifier
                    )
                    for p in readers
                },
                verifier,
            )
            return Steps(lambda events: runners.decode(source_records(events)), runners.apply)

        return make

    def _ingress_processor(self, route: IngressRoute[S]) -> Callable[[], Steps]:
        resources, settings = self.resources, self.settings
        return lambda: Steps.of(
            IngressProcessor(
                route,
                resources.publisher,
                resources.dead_letters(route.name),
                settings.key_store(resources.pool),
                context=IngressContext(resources.pool, settings),
            )
        )

    def _add_agent(self, name: str, topic_name: str, make: Callable[[], Steps]) -> None:
        """An agent that hands batches of raw records to steps made once resources are up."""
        topic = self.app.topic(
            topic_name,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
        )
        process = batch_agent(name, topic_name, self.settings, make)
        self.app.agent(topic, name=f"{self.service}.{name}")(process)

    def add_state_table(self, name: str, source: TopicContract) -> Any:
        """A faust table of the latest event per key on a (compacted) state topic.

        Workers that need a customer's current state in-stream read it from the table instead of
        asking a database. faust keeps the table in memory, backs it with its own changelog
        topic and recovers it from there on start; the worker serves it at
        `/tables/<name>/<key>`. Records that are not valid events go to the dead-letter topic.
        """
        table = self.app.Table(
            name,
            default=None,
            partitions=self.settings.topic_partitions,
            key_type=str,
            value_type=str,
        )
        topic = self.app.topic(
            source.name,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
        )
        resources = self.resources

        async def follow(stream: StreamT[bytes]) -> None:
            async for event in stream.events():
                record = source_record(event)
                try:
                    envelope = decode(record, source).envelope
                except DecodeError as error:
                    await resources.dead_letters(f"table:{name}").send(record, error)
                    continue
                table[envelope.subject] = envelope.model_dump_json(exclude_none=True)

        self.app.agent(topic, name=f"{self.service}.table.{name}")(follow)

        worker = self

        @self.app.page(f"/tables/{name}/{{key}}")
        async def entry(web: Any, request: Any, key: str) -> Any:
            """The latest event for a key; needs a token with `<service>:read`."""
            try:
                await authorize_header(
                    worker.verifier(), request.headers.get("Authorization"), [worker.read_scope]
                )
            except (Unauthorized, Forbidden) as error:
                status, body, headers = refusal(error)
                return web.json(body, status=status, headers=headers, content_type=PROBLEM_JSON)
            value = table.get(key)
            if value is None:
                return web.json({"detail": f"no entry for {key}"}, status=404)
            return web.json(orjson.loads(value))

        return table

    def verifier(self) -> TokenVerifier:
        """The API's token check, made when a page first needs it."""
        if self._verifier is None:
            try:
                self._verifier = self.settings.token_verifier()
            except ValueError as error:  # no issuer configured: every token is refused
                log.warning("worker pages refuse every token: %s", error)
                self._verifier = TokenVerifier(NoKeys(), issuer="", audience="")
        return self._verifier

    def add_periodic(self, job: Periodic) -> None:
        resources = self.resources

        async def tick() -> None:
            try:
                await job.run(resources.pool, resources.publisher)
            except Exception:
                log.exception(
                    "periodic job failed; it runs again next interval", extra={"job": job.name}
                )

        self.app.timer(job.interval_s, name=f"{self.service}.{job.name}")(tick)

    async def _seek_to_stored_positions(self, sender: Any = None, **_: Any) -> None:
        """Make faust's seek after a rebalance land on the positions the database holds."""
        resume_at_stored_positions(self.app.consumer, self.resources, self.projections)
        self.rebalanced = True

    def _add_pages(self) -> None:
        worker = self

        @self.app.page("/healthz")
        async def healthz(web: Any, request: Any) -> Any:
            return web.json({"status": "ok"})

        @self.app.page("/metrics")
        async def metrics_page(web: Any, request: Any) -> Any:
            pool = worker.resources.pool
            await refresh_lag(pool, worker.projections, worker.settings)
            return web.text(metrics.exposition(), content_type=metrics.MEDIA_TYPE)

        @self.app.page("/readyz")
        async def readyz(web: Any, request: Any) -> Any:
            body = await worker.readiness()
            return web.json(body, status=503 if "failing" in body else 200)

    async def readiness(self) -> dict[str, Any]:
        """Broker and database answer within `readiness_timeout_s`, and the worker has taken its
        partitions; `failing` names each check that did not pass and why."""

        async def database() -> bool:
            return bool(await self.resources.pool.fetchval("SELECT 1") == 1)

        result = await check_all(
            {"database": database, "broker": self.resources.publisher.reachable},
            self.settings.readiness_timeout_s,
        )
        checks: dict[str, Any] = {
            **result.checks,
            "partitions_assigned": self.rebalanced,
            "partitions": len(self.app.consumer.assignment()) if self.rebalanced else 0,
            # records the read models lack (ready still: one bad record must not stop the rest)
            "projection_dead_letters": metrics.totals(PROJECTION_DEAD_LETTERS_TOTAL, "projection"),
            "job_record_failures": metrics.totals(JOB_RECORD_FAILURES_TOTAL, "job"),
        }
        failing = dict(result.failing)
        if not self.rebalanced:
            failing["partitions_assigned"] = "no partitions assigned yet"
        if not failing:
            return {"status": "ready", "checks": checks}
        return {"status": "not ready", "checks": checks, "failing": failing}

    def run(self) -> None:
        """Run until SIGINT/SIGTERM; stops the app, then closes pool and producer."""
        worker = faust.Worker(
            self.app,
            self.resources,
            loglevel=self.settings.log_level.lower(),
            override_logging=False,
            quiet=True,
        )
        worker.execute_from_commandline()
