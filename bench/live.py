"""The live timeline projection (the worker, with writes) against a no-op faust agent."""

from __future__ import annotations

import asyncio
import sys
import time

import asyncpg
import psutil

from bench.rebuild import publish_raw
from bench.stack import Bench
from bench.table import Figure
from devstack.processes import spawn
from dialog_schemas.catalog import INTERACTIONS_EVENTS


async def noop_agent_rate(bench: Bench, count: int) -> tuple[float, float]:
    """records/s of a faust agent that acknowledges batches without looking at them, and its
    CPU microseconds per record."""
    out = bench.work / "noop-rate.txt"
    out.unlink(missing_ok=True)
    command = [sys.executable, "-m", "bench.noop_agent", bench.bootstrap]
    agent = spawn(
        "noop-agent",
        [*command, INTERACTIONS_EVENTS.name, str(count), str(out)],
        bench.work / "noop.log",
    )
    bench.children.append(agent)
    began = time.monotonic()
    while not out.exists() or not out.read_text().strip():
        if not agent.running() or time.monotonic() - began > 600:
            raise RuntimeError(f"the no-op agent did not finish; read {agent.log}")
        await asyncio.sleep(0.1)
    agent.stop()
    rate, cpu_us = out.read_text().split()
    return float(rate), float(cpu_us)


async def worker_rate(bench: Bench, count: int) -> tuple[float, float]:
    """events/s of the interactions worker from its first timeline entry to the last, and the
    CPU microseconds per event its process spent meanwhile."""
    dsn = await bench.database("interactions")
    worker, _ = await bench.start("interactions", "worker", dsn, wait=False)
    connection = await asyncpg.connect(dsn)
    query = "SELECT count(*) FROM timeline_entries"
    try:
        began = time.monotonic()
        while not (first_count := await connection.fetchval(query)):
            if not worker.running() or time.monotonic() - began > 300:
                raise RuntimeError(f"the worker projected nothing; read {worker.log}")
            await asyncio.sleep(0.02)
        first = time.perf_counter()
        process = psutil.Process(worker.pid)
        cpu = sum(process.cpu_times()[:2])
        while (done := await connection.fetchval(query)) < count:
            if not worker.running() or time.monotonic() - began > 900:
                raise RuntimeError(f"the worker stopped at {done}; read {worker.log}")
            await asyncio.sleep(0.1)
        cpu_us = (sum(process.cpu_times()[:2]) - cpu) / max(done - first_count, 1) * 1e6
        return (done - first_count) / max(time.perf_counter() - first, 1e-6), cpu_us
    finally:
        await connection.close()
        worker.stop()


async def measure(bench: Bench) -> list[Figure]:
    count = bench.sizes.live_events
    bench.progress.say(f"publishing {count:,} touchpoints")
    await publish_raw(bench.bootstrap, INTERACTIONS_EVENTS.name, count, 2000, "l")
    bench.progress.say("no-op faust agent")
    noop, noop_cpu = await noop_agent_rate(bench, count)
    bench.progress.say("interactions worker")
    live, live_cpu = await worker_rate(bench, count)
    return [
        Figure(
            "live_projection",
            f"live timeline projection (worker, with writes), {count:,} events",
            "≥ 70 % of the no-op agent",
            unit="events/s",
            value=live,
            ceiling=noop,
            ceiling_name="no-op faust agent, same topic, batching and acks",
            detail=(
                f"CPU per event: worker {live_cpu:,.0f} µs, no-op agent {noop_cpu:,.0f} µs"
                " (process CPU time over the measured stretch, the machine's load aside)"
            ),
            extra={"worker_cpu_us": live_cpu, "noop_cpu_us": noop_cpu},
        )
    ]
