"""What every measurement shares: one database server, one broker, processes, sizes."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.table import Progress
from bench.tokens import AUTH, ENV
from devstack.broker import group_env
from devstack.processes import Child, free_port, spawn, wait_until
from devstack.stack import database_dsn, ready
from dialog_schemas import Envelope
from dialog_schemas.common import Channel, Direction, Purpose
from dialog_schemas.interactions import TouchpointRecorded
from dialogkit.db import ensure_database, migrate
from dialogkit.http_metrics import CLIENT_KEEPALIVE_S


@dataclass(frozen=True)
class Sizes:
    """How much each measurement does; `smoke` only checks that every figure is produced."""

    rebuild_events: int = 500_000
    rebuild_customers: int = 50_000
    live_events: int = 50_000
    freshness_rate: float = 200
    freshness_s: float = 15
    post_rate: float = 500
    post_s: float = 10
    rates: tuple[float, ...] = (25, 50, 100, 200, 400, 800, 1000, 1200, 1600)
    rate_step_s: float = 5
    eligibility_rate: float = 1000
    eligibility_s: float = 10
    eligibility_customers: int = 2000
    long_history: int = 3000
    batches: int = 30
    """Batches of `BATCH` eligibility questions sent one after another."""
    commands: int = 200
    startup_runs: int = 3
    trigger_rate: float = 20
    trigger_s: float = 10
    dispatch_customers: int = 100_000


SMOKE = Sizes(
    rebuild_events=3000,
    rebuild_customers=300,
    live_events=2000,
    freshness_rate=20,
    freshness_s=1.5,
    post_rate=20,
    post_s=1,
    rates=(20,),
    rate_step_s=1,
    eligibility_rate=20,
    eligibility_s=1,
    eligibility_customers=20,
    long_history=30,
    batches=2,
    commands=5,
    startup_runs=1,
    trigger_rate=5,
    trigger_s=1,
    dispatch_customers=300,
)


@dataclass
class Bench:
    work: Path
    admin_dsn: str
    bootstrap: str
    sizes: Sizes
    progress: Progress
    children: list[Child] = field(default_factory=list)
    contacts_url: str = ""

    async def database(self, package: str) -> str:
        """A fresh database with the package's migrations applied; returns its DSN."""
        name = f"bench_{package}_{uuid.uuid4().hex[:8]}"
        await ensure_database(self.admin_dsn, name)
        dsn = database_dsn(self.admin_dsn, name)
        await migrate(dsn, package)
        return dsn

    async def start(
        self,
        service: str,
        role: str,
        dsn: str,
        *,
        bootstrap: str | None = None,
        env: dict[str, str] | None = None,
        wait: bool = True,
    ) -> tuple[Child, str]:
        """`python -m <service> <role>` on free ports; waits until ready unless told not to."""
        prefix = service.upper()
        port = free_port()
        settings = {
            f"{prefix}_KAFKA_BOOTSTRAP": bootstrap or self.bootstrap,
            f"{prefix}_DATABASE_URL": dsn,
            f"{prefix}_HTTP_PORT": str(port if role == "api" else free_port()),
            f"{prefix}_WORKER_WEB_PORT": str(port if role == "worker" else free_port()),
            f"{prefix}_LOG_LEVEL": "WARNING",
            **group_env([f"{prefix}_"]),  # every measurement runs on the embedded broker
        }
        if self.contacts_url and service != "contacts":
            settings[f"{prefix}_CONTACTS_URL"] = self.contacts_url
        log = self.work / f"{service}-{role}-{port}.log"
        child = spawn(
            f"{service}-{role}",
            [sys.executable, "-m", service, role],
            log,
            env={**os.environ, **ENV, **settings, **(env or {})},
        )
        self.children.append(child)
        base = f"http://127.0.0.1:{port}"
        if wait:
            await asyncio.to_thread(
                wait_until,
                lambda: ready(f"{base}/readyz"),
                timeout=120,
                what=child.name,
                child=child,
            )
        return child, base

    async def key_service(self) -> str:
        """A contacts API keeping data keys; services started afterwards ask it for theirs."""
        if not self.contacts_url:
            _, self.contacts_url = await self.start(
                "contacts", "api", await self.database("contacts")
            )
        return self.contacts_url

    def stop_all(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.children.clear()


def touchpoints(count: int, customers: int, prefix: str = "c") -> list[Envelope]:
    """`count` touchpoints of `customers` customers, a month ago onwards, plain summaries."""
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
            subject=f"{prefix}{n % customers}",
            time=datetime.now(UTC),
        )
        for n in range(count)
    ]


IN_FLIGHT = 64
"""Requests a load generator has open at once; more wait in its own queue (a FIFO), since
httpx's connection pool slows down quadratically with thousands of waiting requests."""


class Requests:
    """An HTTP client for load: at most IN_FLIGHT requests open, the rest queued in order."""

    def __init__(self, base: str) -> None:
        limits = httpx.Limits(
            max_connections=IN_FLIGHT,
            max_keepalive_connections=IN_FLIGHT,
            keepalive_expiry=CLIENT_KEEPALIVE_S,  # the API closes idle connections later
        )
        self.client = httpx.AsyncClient(base_url=base, headers=AUTH, limits=limits, timeout=300)
        self.gate = asyncio.Semaphore(IN_FLIGHT)

    async def get(self, path: str, **options: Any) -> httpx.Response:
        async with self.gate:
            return await self.client.get(path, **options)

    async def post(self, path: str, **options: Any) -> httpx.Response:
        async with self.gate:
            return await self.client.post(path, **options)

    async def __aenter__(self) -> Requests:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.client.aclose()


async def open_loop(
    rate: float, seconds: float, one: Callable[[int, float], Awaitable[None]]
) -> None:
    """Start `one(n, scheduled)` at `scheduled` = every 1/rate s (perf_counter), however long
    earlier ones take, and wait for all; latencies count from `scheduled`, so time spent queued
    in the generator is counted, not hidden."""
    tasks = []
    start = time.perf_counter()
    for n in range(max(int(rate * seconds), 1)):
        scheduled = start + n / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n, scheduled)))
    await asyncio.gather(*tasks)


def percentile(values: list[float], share: float) -> float:
    """The `share` (0-1) percentile, nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


async def scrape(url: str) -> dict[str, float]:
    """A process's /metrics as {'name{labels}': value}."""
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(f"{url}/metrics", headers=AUTH)).text
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, number = line.rpartition(" ")
            found[name] = float(number)
    return found


def mean_seconds(before: dict[str, float], after: dict[str, float], prefix: str) -> float | None:
    """Mean of a summary's observations between two scrapes, over every label set it has."""
    total = sum(v - before.get(k, 0) for k, v in after.items() if k.startswith(prefix + "_sum"))
    count = sum(v - before.get(k, 0) for k, v in after.items() if k.startswith(prefix + "_count"))
    return total / count if count else None
