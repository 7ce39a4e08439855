"""The eligibility routes under pyinstrument, in process: where a request's time goes.

`python -m bench.profile_eligibility [requests]` starts an embedded PostgreSQL, seeds customers
as the eligibility figure does (and one with 3,000 events), runs the consent API in this
process on it (no broker: the routes publish nothing) and, for single questions about the
customers of 13 events and about the one of 3,000 (`requests` one after another, through HTTP
in process), for batches of 1,000 through the batch route and for the same batches decided in
process (`consentledger.decisions.decide`, one connection, `requests // 50` of each):

- first unprofiled: the process CPU time (`time.process_time`) per request or per decision,
  which a shared machine's load does not inflate as it does the wall clock. It counts the
  in-process client's share too (`GET /healthz`, measured the same way, shows the floor of the
  client and the middleware), not PostgreSQL's, which runs in its own process;
- then under pyinstrument: the wall clock per request (decisions per second for batches) and
  pyinstrument's report.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
from pyinstrument import Profiler

from bench.eligibility import BATCH, EXPIRY, history, questions, seed
from bench.tokens import AUTH, ENV
from consent.bootstrap import DEFINITION
from consentledger.decisions import Question, decide
from devstack.postgres import start_postgres
from devstack.processes import free_port
from devstack.stack import database_dsn
from dialog_schemas.common import Channel, Purpose
from dialogkit.config import ServiceSettings
from dialogkit.db import ensure_database, migrate
from dialogkit.http import ApiRuntime, Probe, create_api
from dialogkit.publishing import FakePublisher

Step = Callable[[int], Awaitable[None]]
"""One request (or batch) of a measurement, given its number."""


async def measured(name: str, step: Step, times: int, unit: int = 1) -> None:
    """`times` steps unprofiled (CPU per step / `unit`), then profiled (wall clock, report)."""
    began = time.process_time()
    for n in range(times):
        await step(n)
    cpu = (time.process_time() - began) / (times * unit) * 1e6
    profiler = Profiler(interval=0.0005, async_mode="enabled")
    began = time.perf_counter()
    with profiler:
        for n in range(times):
            await step(n)
    wall = time.perf_counter() - began
    per = f"{times * unit / wall:,.0f} per second" if unit > 1 else f"{wall / times * 1e3:.2f} ms"
    print(f"== {name}: {times} x {unit}, CPU {cpu:.1f} us each (unprofiled), {per} (profiled)")
    print(profiler.output_text(unicode=False, color=False, show_all=False))


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

            async def healthz(_: int) -> None:
                (await c.get("/healthz")).raise_for_status()

            def single(asked: list[str]) -> Step:
                async def ask(_: int) -> None:
                    path = f"/v1/customers/{random.choice(asked)}/eligibility"
                    params = {"channel": "email", "purpose": "marketing"}
                    (await c.get(path, params=params)).raise_for_status()

                return ask

            bodies = [{"questions": questions(customers, BATCH)} for _ in range(requests // 50)]
            now = datetime.now(UTC)
            asked = [
                [
                    Question(q["customer_id"], Channel(q["channel"]), Purpose(q["purpose"]), now)
                    for q in body["questions"]
                ]
                for body in bodies
            ]

            async def batch(n: int) -> None:
                (await c.post("/v1/eligibility/batch", json=bodies[n])).raise_for_status()

            async def in_process(n: int) -> None:
                await decide(pool, asked[n], EXPIRY)

            for name in customers[:100]:  # warm-up
                await single([name])(0)
            await single(["long"])(0)
            await batch(0)
            await measured("GET /healthz", healthz, requests)
            await measured("single, 13 events", single(customers), requests)
            await measured("single, 3,000 events", single(["long"]), requests)
            await measured("batch route, per decision", batch, len(bodies), BATCH)
            await measured("in process (decide), per decision", in_process, len(bodies), BATCH)
        await pool.close()
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(profile(int(sys.argv[1]) if len(sys.argv) > 1 else 1000))
