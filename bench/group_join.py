"""The embedded broker's share of a worker's start: a plain aiokafka consumer joining a new group.

`python -m bench.group_join` starts a broker of its own, puts one record on a topic, and for
each session timeout, without and with a static member id (`group.instance.id`), measures a new
consumer in a new group from start to that record. docs/benchmarks.md has the results.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from devstack.broker import start_broker
from devstack.processes import free_port

TOPIC = "group-join"
SESSIONS_S = (10.0, 6.0, 2.0, 1.0)


async def first_record_seconds(bootstrap: str, session_s: float, instance: str | None) -> float:
    """Seconds from a new consumer's start to the first record, in a new group."""
    began = time.monotonic()
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        group_id=f"join-{uuid.uuid4().hex[:8]}",
        group_instance_id=instance,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=20,
        session_timeout_ms=int(session_s * 1000),
        heartbeat_interval_ms=int(session_s * 1000 / 4),
    )
    await consumer.start()
    try:
        await consumer.getone()
        return time.monotonic() - began
    finally:
        await consumer.stop()


async def measure() -> None:
    port = free_port()
    broker = start_broker(port, Path(tempfile.mkdtemp(prefix="group-join-")) / "broker.log")
    bootstrap = f"127.0.0.1:{port}"
    try:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(TOPIC, b"first")
        finally:
            await producer.stop()
        print("| session | start → first record | the same, static member |")
        print("|---|---|---|")
        for session in SESSIONS_S:
            dynamic = await first_record_seconds(bootstrap, session, None)
            static = await first_record_seconds(bootstrap, session, f"static-{uuid.uuid4().hex}")
            print(f"| {session:g} s | {dynamic:.2f} s | {static:.2f} s |")
    finally:
        broker.stop()


if __name__ == "__main__":
    asyncio.run(measure())
