"""What every measurement shares: one database server, one broker, processes, sizes."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from bench.cpu import CLIENT, CpuMeter, CpuSource, child_serving, process_cpu, tree_cpu
from bench.table import Progress
from bench.tokens import ENV
from devstack.broker import group_env
from devstack.processes import Child, free_port, spawn, wait_until
from devstack.stack import database_dsn, ready
from dialog_schemas import Envelope
from dialog_schemas.common import Channel, Direction, Purpose
from dialog_schemas.interactions import TouchpointRecorded
from dialogkit.db import ensure_database, migrate


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
    contacts: Child | None = None

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
            self.contacts, self.contacts_url = await self.start(
                "contacts", "api", await self.database("contacts")
            )
        return self.contacts_url

    def meter(self, processes: dict[str, Child]) -> CpuMeter:
        """A CPU meter on these processes (Python, one core each), the contacts API if it runs,
        PostgreSQL with its backends, the broker, and this process (the load generator, CLIENT)."""
        sources: dict[str, CpuSource] = {n: process_cpu(c.pid) for n, c in processes.items()}
        if self.contacts is not None:
            sources["contacts API"] = process_cpu(self.contacts.pid)
        port = urlsplit(self.admin_dsn).port or 5432
        sources["PostgreSQL"] = tree_cpu(child_serving(port))
        sources["broker"] = process_cpu(child_serving(int(self.bootstrap.rpartition(":")[2])))
        sources[CLIENT] = process_cpu(os.getpid())
        return CpuMeter(sources, one_core={*processes, "contacts API"})

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
