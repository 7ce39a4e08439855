"""Measurements of the platform's building blocks on this machine (`make bench`).

Each figure is printed with what was measured; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from bench.eligibility import eligibility_latency
from bench.timeline import timeline_measurements
from bench.tokens import TOKEN
from devstack.broker import start_broker
from devstack.postgres import start_postgres
from devstack.processes import free_port, spawn, wait_until
from devstack.stack import database_dsn, ready
from dialog_schemas import Envelope
from dialog_schemas.catalog import INTERACTIONS_EVENTS
from dialog_schemas.interactions import Channel, Direction, TouchpointRecorded
from dialogkit.codec import encode
from dialogkit.db import ensure_database, migrate
from dialogkit.deadletters import DeadLetters
from dialogkit.keys import HttpKeyStore, InMemoryKeyStore, KeyStore
from dialogkit.pii import PersonalDataCipher
from dialogkit.projection import ProjectionRunner
from dialogkit.publishing import FakePublisher, KafkaPublisher
from dialogkit.records import SourceRecord
from dialogkit.topics import ensure_topics, platform_topics
from interactions.projections import TimelineProjection

SUITES = ["worker", "runner", "sealed", "eligibility", "timeline"]


def envelope(customer: str, number: int) -> Envelope:
    event = TouchpointRecorded(
        touchpoint_id=f"tp-{number}",
        channel=Channel.EMAIL,
        direction=Direction.OUTBOUND,
        occurred_at=datetime.now(UTC),
        summary="newsletter November, variant B",
        reported_by="bench",
    )
    return Envelope.wrap(
        event, id=uuid.uuid4(), source="/bench", subject=customer, time=datetime.now(UTC)
    )


async def fresh_database(admin_dsn: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    await ensure_database(admin_dsn, name)
    dsn = database_dsn(admin_dsn, name)
    await migrate(dsn, "interactions")
    return dsn


async def first_event_seconds(work: Path, admin_dsn: str) -> float:
    """Worker process start -> its first event is in the read model (fresh broker and group)."""
    port = free_port()
    broker = start_broker(port, work / f"broker-{port}.log")
    bootstrap = f"127.0.0.1:{port}"
    try:
        await ensure_topics(bootstrap, platform_topics(), partitions=6, replication=1)
        dsn = await fresh_database(admin_dsn)
        publisher = KafkaPublisher(bootstrap, client_id="bench")
        await publisher.start()
        await publisher.publish(INTERACTIONS_EVENTS.name, [envelope("first", 1)])
        await publisher.stop()
        env = {
            "INTERACTIONS_KAFKA_BOOTSTRAP": bootstrap,
            "INTERACTIONS_DATABASE_URL": dsn,
            "INTERACTIONS_WORKER_WEB_PORT": str(free_port()),
            "INTERACTIONS_LOG_LEVEL": "WARNING",
        }
        import os

        began = time.monotonic()
        worker = spawn(
            "worker",
            [sys.executable, "-m", "interactions", "worker"],
            work / f"worker-{port}.log",
            env={**os.environ, **env},
        )
        connection = await asyncpg.connect(dsn)
        try:
            while not await connection.fetchval("SELECT count(*) FROM timeline_entries"):
                if not worker.running() or time.monotonic() - began > 120:
                    raise RuntimeError(f"worker did not project; read {worker.log}")
                await asyncio.sleep(0.05)
            return time.monotonic() - began
        finally:
            await connection.close()
            worker.stop()
    finally:
        broker.stop()


async def runner_throughput(
    admin_dsn: str,
    events: int,
    batch: int,
    keys: KeyStore | None = None,
) -> float:
    """ProjectionRunner alone: decode + insert + position, `batch` records per transaction.

    With `keys`, the touchpoint summaries are sealed; the projection keeps them sealed (the
    API opens them when it shows a timeline)."""
    dsn = await fresh_database(admin_dsn)
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    envelopes = [envelope(f"c{n % 997}", n) for n in range(events)]
    if keys is not None:
        envelopes = await PersonalDataCipher(keys).seal_envelopes(envelopes)
    records = [
        SourceRecord(INTERACTIONS_EVENTS.name, n % 6, n // 6, b"k", encode(e))
        for n, e in enumerate(envelopes)
    ]
    runner = ProjectionRunner(
        pool,
        TimelineProjection(INTERACTIONS_EVENTS, "interactions.timeline"),
        DeadLetters(FakePublisher(), "dl", "b"),
    )
    began = time.perf_counter()
    for start in range(0, events, batch):
        await runner.handle(records[start : start + batch])
    elapsed = time.perf_counter() - began
    await pool.close()
    return events / elapsed


async def sealing_cost(work: Path, admin_dsn: str, events: int) -> None:
    """What personal-data sealing costs: AES-GCM per event, and the timeline opening each one."""
    cipher = PersonalDataCipher(InMemoryKeyStore())
    touchpoints = [envelope(f"c{n % 997}", n) for n in range(events)]
    began = time.perf_counter()
    sealed = await cipher.seal_envelopes(touchpoints)
    sealing = time.perf_counter() - began
    began = time.perf_counter()
    for e in sealed:
        await cipher.open(e.subject, e.data)
    opening = time.perf_counter() - began
    print(
        f"sealing {events} touchpoints (summary): {events / sealing:,.0f} events/s; "
        f"opening them: {events / opening:,.0f} events/s (in-memory keys)"
    )
    for keys in (None, InMemoryKeyStore()):
        rate = await runner_throughput(admin_dsn, events, 2000, keys)
        what = "sealed summaries, kept sealed" if keys else "plain summaries"
        print(f"timeline projection runner, {events} events, {what}: {rate:,.0f} events/s")
    await keys_over_http(work, admin_dsn, events)


async def keys_over_http(work: Path, admin_dsn: str, events: int) -> None:
    """Sealing and opening with keys asked of a contacts API process, as other services do."""
    import os

    port = free_port()
    broker = start_broker(port, work / f"broker-{port}.log")
    contacts = database_dsn(admin_dsn, f"bench_keys_{uuid.uuid4().hex[:8]}")
    await ensure_database(admin_dsn, contacts.rsplit("/", 1)[1])
    await migrate(contacts, "contacts")
    api_port = free_port()
    env = {
        "CONTACTS_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}",
        "CONTACTS_DATABASE_URL": contacts,
        "CONTACTS_HTTP_PORT": str(api_port),
        "CONTACTS_LOG_LEVEL": "WARNING",
    }
    api = spawn(
        "contacts-api",
        [sys.executable, "-m", "contacts", "api"],
        work / "contacts-api.log",
        env={**os.environ, **env},
    )
    url = f"http://127.0.0.1:{api_port}"
    try:
        wait_until(lambda: ready(f"{url}/readyz"), timeout=60, what="contacts api", child=api)
        touchpoints = [envelope(f"c{n % 997}", n) for n in range(events)]
        keys = HttpKeyStore(url, TOKEN)
        began = time.perf_counter()
        sealed = await PersonalDataCipher(keys).seal_envelopes(touchpoints)
        sealing = time.perf_counter() - began
        cold = HttpKeyStore(url, TOKEN)  # every key asked for once while opening
        began = time.perf_counter()
        opener = PersonalDataCipher(cold).batch()
        for e in sealed:
            await opener.open(e.subject, e.data)
        opening = time.perf_counter() - began
        print(
            f"keys over HTTP, {events} touchpoints of 997 customers: sealing "
            f"{events / sealing:,.0f} events/s; opening them {events / opening:,.0f} events/s"
        )
    finally:
        api.stop()
        broker.stop()


async def main(runs: int, events: int, suites: set[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="dialog-bench-") as folder:
        work = Path(folder)
        port = free_port()
        server = start_postgres(work / "pg", port, work / "postgres.log")
        admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        try:
            if "worker" in suites:
                firsts = [await first_event_seconds(work, admin) for _ in range(runs)]
                print(
                    f"worker start -> first event projected ({runs} runs, fresh broker each): "
                    f"min {min(firsts):.2f} s, median {statistics.median(firsts):.2f} s, "
                    f"max {max(firsts):.2f} s"
                )
            if "runner" in suites:
                for batch in (1, 2000):
                    count = min(events, 3000) if batch == 1 else events
                    rate = await runner_throughput(admin, count, batch)
                    print(
                        f"timeline projection runner, {count} events, batches of {batch}: "
                        f"{rate:,.0f} events/s"
                    )
            if "sealed" in suites:
                await sealing_cost(work, admin, events)
            if "eligibility" in suites:
                await eligibility_latency(work, admin, 2000, [50, 100, 150], 20)
            if "timeline" in suites:
                await timeline_measurements(work, admin, events=50_000, rate=20)
        finally:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument(
        "--only", nargs="*", choices=SUITES, default=SUITES, help="run only these measurements"
    )
    arguments = parser.parse_args()
    asyncio.run(main(arguments.runs, arguments.events, set(arguments.only)))
