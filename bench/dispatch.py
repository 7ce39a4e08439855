"""Dispatch of a large campaign in one worker: planning and deciding every outreach.

The planner and the dispatcher run in this process exactly as the campaigns worker runs them
(read barrier on a real broker, decisions in PostgreSQL transactions, outbox published to the
real broker). Customers' facts and consent histories are written straight into the read model
(as the worker's projections would have left them): 90 % have an express phone consent, 10 %
none. Data keys come from an in-memory key store; what keys over HTTP cost is the `sealed`
measurement's subject. Tracing is set up as in the worker (the SDK without an exporter, asyncpg
and aiokafka instrumented): its spans are part of what a decision costs.

The ceiling, in the same run: a bare aiokafka producer (the publisher's settings) sends as many
records as dispatch published, encoded beforehand (a sample of dispatch's own, cycled), in runs
of a round's size each confirmed before the next, without instrumentation; decisions/s it would
allow.
"""

from __future__ import annotations

import asyncio
import resource
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import time as time_of_day
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer

from bench.dispatch_data import launch, seed
from bench.stack import Bench
from bench.table import Figure
from campaigns.barrier import ReadBarrier
from campaigns.bootstrap import CONSENT_VIEW
from campaigns.config import Settings
from campaigns.dispatch import Policy
from campaigns.dispatcher import Dispatcher
from campaigns.outbox import OutboxRelay
from campaigns.planning import Planner
from devstack.broker import start_broker
from devstack.processes import free_port
from devstack.stack import database_dsn
from dialog_schemas import Envelope
from dialogkit.codec import encode
from dialogkit.db import ensure_database, migrate
from dialogkit.offsets import KafkaTopicEnds
from dialogkit.pii import InMemoryKeyStore
from dialogkit.publishing import Encoded, Headers, KafkaPublisher, encoded
from dialogkit.topics import ensure_topics, platform_topics
from dialogkit.tracing import configure_tracing, instrument_libraries

DECISIONS = ("OutreachAuthorized", "OutreachBlocked", "OutreachDeferred")
SAMPLE = 10_000


@dataclass(frozen=True)
class DispatchFigures:
    customers: int
    decisions_per_s: float
    launch_to_last_decision_s: float
    planning_s: float
    p99_due_to_decided_s: float
    peak_rss_mb: float
    authorized: int
    blocked: int
    cpu_us_per_decision: float
    """The process's CPU time (user + system) during dispatch, per decision."""
    records: int
    """Records dispatch published (decisions, requests, `OutreachDispatched`)."""
    ceiling_per_s: float
    """Decisions/s if publishing as many records with a bare producer were all there was."""

    def lines(self) -> list[str]:
        return [
            f"dispatch of a {self.customers:,}-customer campaign (one worker, phone, 90 % consent):"
            f" {self.decisions_per_s:,.0f} decisions/s (goal 20,000/s); ceiling"
            f" {self.ceiling_per_s:,.0f}/s (bare producer, {self.records:,} records),"
            f" ratio {self.decisions_per_s / max(self.ceiling_per_s, 1e-9):.0%}",
            f"  launch -> last decision {self.launch_to_last_decision_s:.1f} s"
            f" (planning {self.planning_s:.1f} s), p99 due -> decided"
            f" {self.p99_due_to_decided_s:.1f} s (the whole wave falls due at launch)",
            f"  authorized {self.authorized:,}, blocked {self.blocked:,};"
            f" worker peak RSS {self.peak_rss_mb:.0f} MB,"
            f" CPU {self.cpu_us_per_decision:.0f} us per decision",
        ]


class Watching:
    """The broker publisher, noting each decision's `decided_at` as it goes out."""

    def __init__(self, publisher: KafkaPublisher) -> None:
        self.publisher = publisher
        self.decided: list[datetime] = []
        self.outcomes: dict[str, int] = {}
        self.records = 0
        self.sample: list[tuple[str, Encoded]] = []

    async def publish(self, topic: str, envelopes: Sequence[Envelope]) -> None:
        await self.publisher.publish(topic, envelopes)
        self.records += len(envelopes)
        self.sample += [(topic, encoded(encode(e))) for e in envelopes[: SAMPLE - len(self.sample)]]
        for e in envelopes:
            self._note(e.type, e.data)

    async def publish_encoded(self, topic: str, records: Sequence[Encoded]) -> None:
        await self.publisher.publish_encoded(topic, records)
        self.records += len(records)
        self.sample += [(topic, r) for r in records[: SAMPLE - len(self.sample)]]
        for r in records:
            event = orjson.loads(r.value)
            self._note(event["type"], event["data"])

    def _note(self, kind: str, data: dict[str, Any]) -> None:
        if kind in DECISIONS:
            self.decided.append(datetime.fromisoformat(data["decided_at"]))
            self.outcomes[kind] = self.outcomes.get(kind, 0) + 1

    async def send_raw(self, topic: str, key: bytes | None, value: bytes, headers: Headers) -> None:
        await self.publisher.send_raw(topic, key, value, headers)


async def bare_producer_s(
    bootstrap: str, sample: Sequence[tuple[str, Encoded]], records: int, run: int
) -> float:
    """Seconds a bare producer takes for `records` records (`sample` cycled), `run` at a time."""
    from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor

    AIOKafkaInstrumentor().uninstrument()  # bare: no span per record
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await producer.start()
    try:
        began = time.monotonic()
        for start in range(0, records, run):
            picked = (sample[n % len(sample)] for n in range(start, min(start + run, records)))
            sent = [
                await producer.send(topic, r.value, key=r.key, headers=list(r.headers))
                for topic, r in picked
            ]
            await asyncio.gather(*sent)
        return time.monotonic() - began
    finally:
        await producer.stop()


async def measure(bench: Bench) -> list[Figure]:
    """The `make bench` row: decisions/s against the bare producer's ceiling."""
    found = await dispatch_measurements(
        bench.work, bench.admin_dsn, bench.sizes.dispatch_customers, bench.bootstrap
    )
    return [
        Figure(
            "dispatch",
            f"dispatch of a {found.customers:,}-customer campaign, one worker",
            "20,000 decisions/s",
            unit="decisions/s",
            value=found.decisions_per_s,
            ceiling=found.ceiling_per_s,
            ceiling_name=f"a bare producer sending as many records ({found.records:,})",
            detail=" ".join(line.strip() for line in found.lines()[1:]),
            extra={"cpu_us_per_decision": found.cpu_us_per_decision},
        )
    ]


async def dispatch_measurements(
    work: Path, admin_dsn: str, customers: int = 100_000, bootstrap: str | None = None
) -> DispatchFigures:
    """Plan and decide a campaign over `customers` in one worker, on the broker at `bootstrap`
    (one of its own if None); the figures, also printed."""
    configure_tracing("campaigns-worker", None)  # as the worker's entrypoint does
    instrument_libraries()
    broker = None
    if bootstrap is None:
        port = free_port()
        broker = start_broker(port, work / "broker-dispatch.log")
        bootstrap = f"127.0.0.1:{port}"
    name = f"bench_dispatch_{uuid.uuid4().hex[:8]}"
    await ensure_database(admin_dsn, name)
    dsn = database_dsn(admin_dsn, name)
    await migrate(dsn, "campaigns")
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=4)
    publisher = KafkaPublisher(bootstrap, client_id="bench-dispatch")
    ends = KafkaTopicEnds(bootstrap)
    try:
        await ensure_topics(bootstrap, platform_topics(), partitions=6, replication=1)
        await publisher.start()
        keys = InMemoryKeyStore()
        tag = f"bench-{uuid.uuid4().hex[:6]}"
        await seed(pool, keys, customers, tag)
        settings = Settings(  # calls allowed around the clock: the figure is the decision path
            calling_hours_start=time_of_day(0),
            calling_hours_end=time_of_day(23, 59, 59),
            calling_weekdays=list(range(7)),
            holiday_country="",
        )
        relay = OutboxRelay(keys, batch=settings.dispatch_batch)
        barrier = ReadBarrier(ends, CONSENT_VIEW)
        planner = Planner(relay, barrier, batch=settings.plan_batch)
        policy = Policy(
            calling_hours=settings.calling_hours, consent_expiry=settings.consent_expiry
        )
        dispatcher = Dispatcher(
            barrier,
            relay,
            policy,
            settings.frequency_caps,
            default_zone=settings.default_time_zone,
            batch=settings.dispatch_batch,
        )
        watching = Watching(publisher)
        launched = time.monotonic()
        due = datetime.now(UTC)
        await launch(pool, "bench", tag, due)
        await planner.run(pool, watching)
        planned, cpu = time.monotonic(), time.process_time()
        watching.records, watching.sample = 0, []
        await dispatcher.run(pool, watching)
        done, cpu = time.monotonic(), time.process_time() - cpu
        peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        waits = sorted((d - due).total_seconds() for d in watching.decided)
        bare_s = await bare_producer_s(
            bootstrap, watching.sample, watching.records, 3 * settings.dispatch_batch
        )
        figures = DispatchFigures(
            customers=customers,
            decisions_per_s=len(waits) / (done - planned),
            launch_to_last_decision_s=done - launched,
            planning_s=planned - launched,
            p99_due_to_decided_s=waits[int(len(waits) * 0.99) - 1] if waits else 0.0,
            peak_rss_mb=peak_rss_mb,
            cpu_us_per_decision=cpu / max(len(waits), 1) * 1e6,
            authorized=watching.outcomes.get("OutreachAuthorized", 0),
            blocked=watching.outcomes.get("OutreachBlocked", 0),
            records=watching.records,
            ceiling_per_s=len(waits) / bare_s if watching.records else 0.0,
        )
        print(*figures.lines(), sep="\n")
        return figures
    finally:
        await ends.stop()
        await publisher.stop()
        await pool.close()
        if broker is not None:
            broker.stop()


async def _standalone(customers: int) -> None:
    import tempfile

    from devstack.postgres import start_postgres

    with tempfile.TemporaryDirectory(prefix="dialog-bench-dispatch-") as folder:
        work = Path(folder)
        port = free_port()
        server = start_postgres(work / "pg", port, work / "postgres.log")
        try:
            await dispatch_measurements(
                work, f"postgresql://postgres@127.0.0.1:{port}/postgres", customers
            )
        finally:
            server.stop()


if __name__ == "__main__":  # python -m bench.dispatch [customers]
    import sys

    asyncio.run(_standalone(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
