"""Timeline projection throughput (live worker, bulk rebuild, bare consumer) and freshness."""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import orjson

from bench.tokens import AUTH
from devstack.broker import start_broker
from devstack.processes import free_port, spawn, wait_until
from devstack.stack import database_dsn, ready
from dialog_schemas import Envelope
from dialog_schemas.catalog import INTERACTIONS_EVENTS
from dialog_schemas.common import Channel, Direction, Purpose
from dialog_schemas.interactions import TouchpointRecorded
from dialogkit.db import ensure_database, migrate
from dialogkit.deadletters import DeadLetters
from dialogkit.publishing import FakePublisher, KafkaPublisher
from dialogkit.replay import read_topic_in_batches, replay
from dialogkit.topics import ensure_topics, platform_topics
from interactions.projections import TimelineProjection

TOKEN = AUTH


def touchpoints(count: int) -> list[Envelope]:
    start = datetime.now(UTC) - timedelta(days=30)
    channels = list(Channel)
    return [
        Envelope.wrap(
            TouchpointRecorded(
                touchpoint_id=f"tp-{n}",
                channel=channels[n % 5],
                direction=Direction.OUTBOUND if n % 3 else Direction.INBOUND,
                occurred_at=start + timedelta(seconds=n),
                purpose=Purpose.SERVICE,
                summary="asked about the invoice of last month",
                reported_by="bench",
            ),
            id=uuid.uuid4(),
            source="/bench",
            subject=f"c{n % 2000}",
            time=datetime.now(UTC),
        )
        for n in range(count)
    ]


async def fresh_database(admin_dsn: str, package: str = "interactions") -> str:
    name = f"bench_{package}_{uuid.uuid4().hex[:8]}"
    await ensure_database(admin_dsn, name)
    dsn = database_dsn(admin_dsn, name)
    await migrate(dsn, package)
    return dsn


async def count_entries(dsn: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        count: int = await connection.fetchval("SELECT count(*) FROM timeline_entries")
        return count
    finally:
        await connection.close()


async def timeline_measurements(work: Path, admin_dsn: str, events: int, rate: float) -> None:
    port = free_port()
    broker = start_broker(port, work / "timeline-broker.log")
    bootstrap = f"127.0.0.1:{port}"
    children = []
    try:
        await ensure_topics(bootstrap, platform_topics(), partitions=6, replication=1)
        publisher = KafkaPublisher(bootstrap, client_id="bench")
        await publisher.start()
        batch = touchpoints(events)
        for start in range(0, events, 5000):
            await publisher.publish(INTERACTIONS_EVENTS.name, batch[start : start + 5000])

        began, seen = time.perf_counter(), 0
        async for records in read_topic_in_batches(bootstrap, INTERACTIONS_EVENTS.name, {}, 5000):
            seen += sum(1 for r in records if orjson.loads(r.value or b"{}"))
        bare = seen / (time.perf_counter() - began)
        print(f"bare consumer (getmany + JSON decode), {seen} events: {bare:,.0f} events/s")

        dsn = await fresh_database(admin_dsn)
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
        projection = TimelineProjection(INTERACTIONS_EVENTS, "interactions.timeline")
        began = time.perf_counter()
        await replay(pool, [projection], DeadLetters(FakePublisher(), "dl", "b"), bootstrap)
        rebuilt = events / (time.perf_counter() - began)
        await pool.close()
        print(
            f"timeline rebuild from offset 0 (bulk replay), {events} events:"
            f" {rebuilt:,.0f} events/s"
        )

        dsn = await fresh_database(admin_dsn)
        contacts_port = free_port()
        contacts = spawn(
            "contacts-api",
            [sys.executable, "-m", "contacts", "api"],
            work / "timeline-contacts-api.log",
            env={
                **os.environ,
                "CONTACTS_KAFKA_BOOTSTRAP": bootstrap,
                "CONTACTS_DATABASE_URL": await fresh_database(admin_dsn, "contacts"),
                "CONTACTS_HTTP_PORT": str(contacts_port),
                "CONTACTS_LOG_LEVEL": "WARNING",
            },
        )
        children.append(contacts)
        contacts_url = f"http://127.0.0.1:{contacts_port}"
        wait_until(
            lambda: ready(f"{contacts_url}/readyz"), timeout=60, what="contacts", child=contacts
        )
        env = {
            **os.environ,
            "INTERACTIONS_CONTACTS_URL": contacts_url,
            "INTERACTIONS_KAFKA_BOOTSTRAP": bootstrap,
            "INTERACTIONS_DATABASE_URL": dsn,
            "INTERACTIONS_LOG_LEVEL": "WARNING",
            "INTERACTIONS_HTTP_PORT": str(free_port()),
            "INTERACTIONS_WORKER_WEB_PORT": str(free_port()),
        }
        command = [sys.executable, "-m", "interactions"]
        worker = spawn("worker", [*command, "worker"], work / "timeline-worker.log", env=env)
        children.append(worker)
        while await count_entries(dsn) == 0:  # noqa: ASYNC110 - polling another process
            await asyncio.sleep(0.02)
        first, first_count = time.perf_counter(), await count_entries(dsn)
        while (done := await count_entries(dsn)) < events:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        live = (done - first_count) / (time.perf_counter() - first)
        print(
            f"timeline projection live (worker, faust agent, batches of 2000), {events} events:"
            f" {live:,.0f} events/s"
        )

        api = spawn("api", [*command, "api"], work / "timeline-api.log", env=env)
        children.append(api)
        base = f"http://127.0.0.1:{env['INTERACTIONS_HTTP_PORT']}"
        wait_until(lambda: ready(f"{base}/readyz"), timeout=60, what="api", child=api)
        latencies = await freshness(base, rate, seconds=15)
        cuts = statistics.quantiles(latencies, n=100)
        print(
            f"freshness POST accepted -> visible in the timeline API, {rate:.0f} touchpoints/s"
            f" for 15 s ({len(latencies)}): p50 {cuts[49] * 1000:.0f} ms,"
            f" p99 {cuts[98] * 1000:.0f} ms"
        )
        await publisher.stop()
    finally:
        for child in children:
            child.stop()
        broker.stop()


async def freshness(base: str, rate: float, seconds: float) -> list[float]:
    """Post touchpoints at a steady rate; for each, the time from 202 until the API shows it."""
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=base, headers=TOKEN, timeout=30) as client:

        async def one(n: int) -> None:
            customer = f"fresh-{uuid.uuid4().hex[:8]}"
            body = {
                "customer_id": customer,
                "touchpoint_id": f"tp-{n}",
                "channel": "email",
                "direction": "outbound",
                "occurred_at": datetime.now(UTC).isoformat(),
                "purpose": "service",
                "details": {"kind": "email", "message_id": f"m-{n}", "status": "sent"},
            }
            response = await client.post("/v1/touchpoints", json=body)
            response.raise_for_status()
            accepted = time.perf_counter()
            while True:
                page = await client.get(f"/v1/customers/{customer}/timeline", params={"limit": 1})
                if page.json()["entries"]:
                    latencies.append(time.perf_counter() - accepted)
                    return
                await asyncio.sleep(0.01)

        tasks = []
        start = time.perf_counter()
        for n in range(int(rate * seconds)):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(n)))
        await asyncio.gather(*tasks)
    return latencies
