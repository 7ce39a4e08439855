"""The single eligibility route under pyinstrument, in process: where one request's time goes.

`python -m bench.profile_eligibility [requests]` starts an embedded PostgreSQL, seeds customers
as the eligibility figure does (and one with 3,000 events), runs the consent API in this
process on it (no broker: the route publishes nothing) and asks `requests` questions one after
another through HTTP in process, then batches of 1,000 through the batch route; prints the
mean per request (decisions per second for the batches) and pyinstrument's reports.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
from pyinstrument import Profiler

from bench.eligibility import BATCH, history, questions, seed
from bench.tokens import AUTH, ENV
from consent.bootstrap import DEFINITION
from devstack.postgres import start_postgres
from devstack.processes import free_port
from devstack.stack import database_dsn
from dialogkit.config import ServiceSettings
from dialogkit.db import ensure_database, migrate
from dialogkit.http import ApiRuntime, Probe, create_api
from dialogkit.publishing import FakePublisher


async def profile(requests: int) -> None:
    os.environ.update(ENV)  # the API built below trusts the bench's key
    work = Path(tempfile.mkdtemp(prefix="eligibility-profile-"))
    port = free_port()
    server = start_postgres(work / "pg", port, work / "postgres.log")
    try:
        admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        await ensure_database(admin, "profile")
        dsn = database_dsn(admin, "profile")
        await migrate(dsn, "consent")
        customers = [f"c{n}" for n in range(200)]
        await seed(dsn, {c: history(c) for c in customers} | {"long": history("long", 2997)})
        pool = await asyncpg.create_pool(dsn, min_size=2, max_size=4)

        @asynccontextmanager
        async def on_pool(
            service: str, settings: ServiceSettings
        ) -> AsyncIterator[tuple[ApiRuntime, dict[str, Probe]]]:
            yield ApiRuntime(service, settings, pool, FakePublisher()), {}

        app = create_api(
            DEFINITION.name,
            DEFINITION.settings(log_level="WARNING"),
            DEFINITION.routers,
            runtime_factory=on_pool,
        )
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://consent", headers=AUTH) as c,
        ):
            for name, asked in (("13 events", customers), ("3,000 events", ["long"])):
                paths = [f"/v1/customers/{random.choice(asked)}/eligibility" for _ in range(100)]
                for path in paths:  # warm-up
                    (await c.get(path, params={"channel": "email", "purpose": "marketing"}))
                profiler = Profiler(interval=0.0005, async_mode="enabled")
                began = time.perf_counter()
                with profiler:
                    for _ in range(requests):
                        path = f"/v1/customers/{random.choice(asked)}/eligibility"
                        response = await c.get(
                            path, params={"channel": "email", "purpose": "marketing"}
                        )
                        response.raise_for_status()
                mean = (time.perf_counter() - began) / requests * 1000
                print(f"== {name}: {requests} requests, {mean:.2f} ms each (profiled)")
                print(profiler.output_text(unicode=False, color=False, show_all=False))
            bodies = [{"questions": questions(customers, BATCH)} for _ in range(requests // 50)]
            await c.post("/v1/eligibility/batch", json=bodies[0])  # warm-up
            profiler = Profiler(interval=0.0005, async_mode="enabled")
            began = time.perf_counter()
            with profiler:
                for body in bodies:
                    (await c.post("/v1/eligibility/batch", json=body)).raise_for_status()
            rate = len(bodies) * BATCH / (time.perf_counter() - began)
            print(f"== batch: {len(bodies)} batches of {BATCH}, {rate:,.0f} decisions/s (profiled)")
            print(profiler.output_text(unicode=False, color=False, show_all=False))
        await pool.close()
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(profile(int(sys.argv[1]) if len(sys.argv) > 1 else 1000))
