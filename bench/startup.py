"""Worker start → first event applied, fresh and after a SIGKILL, against the broker's share."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid

import asyncpg
from aiokafka import AIOKafkaConsumer

from bench.stack import Bench, touchpoints
from bench.table import Figure
from devstack.broker import GROUP_SETTINGS, start_broker
from devstack.processes import Child, free_port
from dialog_schemas.catalog import INTERACTIONS_EVENTS
from dialogkit.publishing import KafkaPublisher
from dialogkit.topics import ensure_topics, platform_topics


async def applied(dsn: str, count: int, child: Child, began: float) -> float:
    """Seconds from `began` until the read model holds `count` timeline entries."""
    connection = await asyncpg.connect(dsn)
    try:
        while await connection.fetchval("SELECT count(*) FROM timeline_entries") < count:
            if not child.running() or time.monotonic() - began > 180:
                raise RuntimeError(f"the worker did not apply the event; read {child.log}")
            await asyncio.sleep(0.02)
        return time.monotonic() - began
    finally:
        await connection.close()


async def publish(bootstrap: str, customer: str) -> None:
    publisher = KafkaPublisher(bootstrap, client_id="bench")
    await publisher.start()
    try:
        await publisher.publish(INTERACTIONS_EVENTS.name, touchpoints(1, 1, customer))
    finally:
        await publisher.stop()


async def group_join_seconds(bootstrap: str) -> float:
    """A plain aiokafka consumer in a new group, with the workers' session timeout and heartbeat
    on this broker: start → first record (the broker's share)."""
    began = time.monotonic()
    consumer = AIOKafkaConsumer(
        INTERACTIONS_EVENTS.name,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        fetch_max_wait_ms=20,
        session_timeout_ms=int(GROUP_SETTINGS["consumer_session_timeout_s"] * 1000),
        heartbeat_interval_ms=int(GROUP_SETTINGS["consumer_heartbeat_interval_s"] * 1000),
    )
    await consumer.start()
    try:
        await consumer.getone()
        return time.monotonic() - began
    finally:
        await consumer.stop()


async def fresh_start(bench: Bench) -> tuple[float, float]:
    """On a broker of its own: (worker start → first event, plain group consumer's share)."""
    port = free_port()
    broker = start_broker(port, bench.work / f"startup-broker-{port}.log")
    bootstrap = f"127.0.0.1:{port}"
    try:
        await ensure_topics(bootstrap, platform_topics(), partitions=6, replication=1)
        await publish(bootstrap, "first")
        dsn = await bench.database("interactions")
        began = time.monotonic()
        worker, _ = await bench.start(
            "interactions", "worker", dsn, bootstrap=bootstrap, wait=False
        )
        seconds = await applied(dsn, 1, worker, began)
        worker.stop()
        return seconds, await group_join_seconds(bootstrap)
    finally:
        broker.stop()


async def restart_after_kill(bench: Bench) -> float:
    """A worker killed with SIGKILL, a new event, the worker started again: start → applied."""
    port = free_port()
    broker = start_broker(port, bench.work / f"restart-broker-{port}.log")
    bootstrap = f"127.0.0.1:{port}"
    try:
        await ensure_topics(bootstrap, platform_topics(), partitions=6, replication=1)
        dsn = await bench.database("interactions")
        worker, _ = await bench.start("interactions", "worker", dsn, bootstrap=bootstrap)
        await publish(bootstrap, "before-kill")
        await applied(dsn, 1, worker, time.monotonic())
        worker.process.kill()
        worker.process.wait(10)
        await publish(bootstrap, "after-kill")
        began = time.monotonic()
        again, _ = await bench.start("interactions", "worker", dsn, bootstrap=bootstrap, wait=False)
        seconds = await applied(dsn, 2, again, began)
        again.stop()
        return seconds
    finally:
        broker.stop()


async def measure(bench: Bench) -> list[Figure]:
    runs = [await fresh_start(bench) for _ in range(bench.sizes.startup_runs)]
    worker = statistics.median(r[0] for r in runs)
    join = statistics.median(r[1] for r in runs)
    bench.progress.say("restart after SIGKILL")
    restart = await restart_after_kill(bench)
    return [
        Figure(
            "worker_start",
            f"worker start → first event applied (median of {len(runs)}, fresh broker each)",
            "< 3 s, or the broker's share proven and documented",
            unit="s",
            value=worker,
            ceiling=join,
            ceiling_name=(
                "plain aiokafka consumer, new group, the workers' session"
                f" ({GROUP_SETTINGS['consumer_session_timeout_s']:g} s): start → first record"
            ),
            higher_is_better=False,
            detail=", ".join(f"{w:.2f} s (group join {j:.2f} s)" for w, j in runs),
        ),
        Figure(
            "worker_restart",
            "worker restarted after SIGKILL → first new event applied",
            "< 5 s",
            unit="s",
            value=restart,
            ceiling=worker,
            ceiling_name="fresh worker start, same run",
            higher_is_better=False,
        ),
    ]
