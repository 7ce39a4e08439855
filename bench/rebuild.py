"""Bulk rebuild (`python -m interactions rebuild`) against a bare consumer of the same topic."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psutil
from aiokafka import AIOKafkaProducer

from bench.stack import Bench, touchpoints
from bench.table import Figure
from bench.tokens import ENV
from dialog_schemas.catalog import INTERACTIONS_EVENTS
from dialog_schemas.envelope import CONTENT_TYPE
from dialogkit.codec import encode
from dialogkit.replay import read_topic_in_batches

APPLIED = re.compile(r"interactions\.timeline: applied (\d+)")
TOPIC_READ = re.compile(r"interactions\.events\.v1: ([\d,]+) of")
TOPIC_RATE = re.compile(r"interactions\.events\.v1: .* events applied.*?, ([\d,]+) events/s")


def raw_touchpoints(
    count: int, customers: int, prefix: str, first: int = 0
) -> list[tuple[bytes, bytes]]:
    """(key, structured-mode value) of `count` touchpoints, from one template: building half a
    million envelopes through pydantic would take longer than rebuilding them."""
    template = orjson.loads(encode(touchpoints(1, 1)[0]))
    start = datetime.now(UTC) - timedelta(days=30)
    records = []
    for n in range(first, first + count):
        customer = f"{prefix}{n % customers}"
        document = template | {"id": str(uuid.uuid4()), "subject": customer}
        document["data"] = template["data"] | {
            "touchpoint_id": f"tp-{n}",
            "occurred_at": (start + timedelta(milliseconds=n)).isoformat(),
        }
        records.append((customer.encode(), orjson.dumps(document)))
    return records


async def publish_raw(bootstrap: str, topic: str, count: int, customers: int, prefix: str) -> float:
    """Produce `count` touchpoints (acks=all), made and sent 10,000 at a time; records/s."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    await producer.start()
    headers = [("content-type", CONTENT_TYPE.encode())]
    began = time.perf_counter()
    try:
        for start in range(0, count, 10_000):
            chunk = raw_touchpoints(min(10_000, count - start), customers, prefix, start)
            futures = [
                await producer.send(topic, value, key=key, headers=headers) for key, value in chunk
            ]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return count / (time.perf_counter() - began)


async def bare_consumer(bootstrap: str, topic: str) -> tuple[int, float, float]:
    """getmany + JSON decode of the whole topic: (records, records per second, CPU µs per
    record of this process)."""
    began, cpu, seen = time.perf_counter(), time.process_time(), 0
    async for records in read_topic_in_batches(bootstrap, topic, {}, 5000):
        seen += sum(1 for r in records if orjson.loads(r.value or b"{}"))
    cpu_us = (time.process_time() - cpu) / max(seen, 1) * 1e6
    return seen, seen / (time.perf_counter() - began), cpu_us


@dataclass
class CpuWatch:
    """The rebuild's CPU time from its first progress report (the first batch applied, start-up
    behind it) to its last sample, and the events read by then."""

    first_read: int = 0
    first_cpu: float | None = None
    last_cpu: float = 0.0

    def sample(self, cpu: float, log: Path) -> None:
        self.last_cpu = cpu
        if self.first_cpu is None and (read := TOPIC_READ.search(log.read_text(errors="replace"))):
            self.first_read, self.first_cpu = int(read.group(1).replace(",", "")), cpu

    def per_event_us(self, events: int) -> float:
        spent = self.last_cpu - (self.first_cpu or 0.0)
        return spent / max(events - self.first_read, 1) * 1e6


def run_rebuild(bench: Bench, dsn: str, profile: bool) -> tuple[float, int, CpuWatch, str]:
    """`python -m interactions rebuild` as its own process: (seconds, peak RSS in kB, its CPU
    time, output)."""
    env = {
        **os.environ,
        **ENV,
        "INTERACTIONS_KAFKA_BOOTSTRAP": bench.bootstrap,
        "INTERACTIONS_DATABASE_URL": dsn,
        "INTERACTIONS_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "interactions", "rebuild"]
    if profile:
        report = bench.work / "rebuild-profile.txt"
        command = [sys.executable, "-m", "pyinstrument", "-o", str(report), *command[1:]]
    log = bench.work / "rebuild.log"
    began = time.perf_counter()
    peak, cpu = 0, CpuWatch()
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        watched = psutil.Process(process.pid)
        while process.poll() is None:  # RSS of the process itself (ru_maxrss of a child
            # counts the parent's pages it had before exec); CPU until 0.1 s before its end
            with contextlib.suppress(psutil.Error):
                peak = max(peak, watched.memory_info().rss)
                cpu.sample(sum(watched.cpu_times()[:2]), log)
            time.sleep(0.1)
    seconds = time.perf_counter() - began
    text = log.read_text(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"rebuild failed ({process.returncode}):\n{text[-3000:]}")
    return seconds, peak // 1024, cpu, text


async def measure(bench: Bench, *, profile: bool = False) -> list[Figure]:
    sizes = bench.sizes
    bench.progress.say(
        f"publishing {sizes.rebuild_events:,} touchpoints of {sizes.rebuild_customers:,} customers"
    )
    produced = await publish_raw(
        bench.bootstrap,
        INTERACTIONS_EVENTS.name,
        sizes.rebuild_events,
        sizes.rebuild_customers,
        "r",
    )
    bench.progress.say("bare consumer reading the topic")
    seen, bare, bare_cpu_us = await bare_consumer(bench.bootstrap, INTERACTIONS_EVENTS.name)
    bench.progress.say(f"python -m interactions rebuild of {seen:,} events")
    dsn = await bench.database("interactions")
    seconds, peak_kb, cpu, output = await asyncio.to_thread(run_rebuild, bench, dsn, profile)
    match = APPLIED.search(output)
    applied = int(match.group(1)) if match else seen
    rates = TOPIC_RATE.findall(output)  # its own progress: reading and applying, no start-up
    rate = float(rates[-1].replace(",", "")) if rates else applied / seconds
    figure = Figure(
        "rebuild",
        f"bulk rebuild, {applied:,} events of {sizes.rebuild_customers:,} customers"
        " (python -m interactions rebuild, every projection)",
        "≥ 60 % of the bare consumer, peak memory reported",
        unit="events/s",
        value=rate,
        ceiling=bare,
        ceiling_name="bare consumer: getmany + JSON decode",
        detail=(
            f"peak memory {peak_kb / 1024:,.0f} MB; the rate is the rebuild's own progress report"
            f" for the topic; the whole process took {seconds:.1f} s"
            f" ({applied / seconds:,.0f} events/s with start-up and the other, empty topics);"
            f" topic produced at {produced:,.0f} events/s; CPU per event: rebuild process"
            f" {cpu.per_event_us(applied):,.0f} µs after its first batch, bare consumer"
            f" {bare_cpu_us:,.0f} µs"
        ),
        extra={
            "peak_rss_kb": peak_kb,
            "seconds": seconds,
            "produced_per_s": produced,
            "cpu_us": cpu.per_event_us(applied),
            "bare_cpu_us": bare_cpu_us,
        },
    )
    return [figure]
