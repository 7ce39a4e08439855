"""Where a worker's start goes: process start → first event applied, step by step.

`python -m bench.start_steps` starts PostgreSQL and a broker of its own, publishes one event,
starts the interactions worker with INFO logs, waits until the event is in its read model, and
prints when each step began and how long it took, from the times of faust's and aiokafka's log
lines against the moment the process was spawned. docs/benchmarks.md has the results.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bench import startup
from bench.stack import Bench, Sizes
from bench.table import Progress
from devstack.broker import start_broker
from devstack.postgres import start_postgres
from devstack.processes import free_port, keep_bytecode_for_children
from dialogkit.topics import ensure_topics, platform_topics

STEPS = (  # (the step that ends with the first log line containing the marker, marker)
    ("Python start, imports, building the app and its agents", "[^Worker]: Starting..."),
    ("faust's services start, until the consumer subscribes", "Subscribed to topic(s)"),
    ("finding the group's coordinator", "(Re-)joining group"),
    ("JoinGroup (the broker holds it)", "Joined group"),
    ("SyncGroup, assignment", "Setting newly assigned partitions"),
    ("seek to the group's offsets, then to the stored positions", "Worker ready"),
)


def marks(log: Path, spawned: float) -> dict[str, float]:
    """Seconds after `spawned` of the first log line containing each step's marker."""
    found: dict[str, float] = {}
    for line in log.read_text(errors="replace").splitlines():
        if "{" not in line:
            continue
        try:
            entry = json.loads(line[line.index("{") :])
        except ValueError:
            continue
        for _, marker in STEPS:
            if marker not in found and marker in str(entry.get("message", "")):
                found[marker] = datetime.fromisoformat(entry["time"]).timestamp() - spawned
    return found


async def measure(work: Path) -> None:
    pg_port, port = free_port(), free_port()
    server = start_postgres(work / "pg", pg_port, work / "postgres.log")
    broker = start_broker(port, work / "broker.log")
    bootstrap = f"127.0.0.1:{port}"
    admin = f"postgresql://postgres@127.0.0.1:{pg_port}/postgres"
    bench = Bench(work, admin, bootstrap, Sizes(), Progress(1))
    try:
        await ensure_topics(bootstrap, platform_topics(), partitions=6, replication=1)
        await startup.publish(bootstrap, "first")
        dsn = await bench.database("interactions")
        began, spawned = time.monotonic(), time.time()
        worker, _ = await bench.start(
            "interactions", "worker", dsn, wait=False, env={"INTERACTIONS_LOG_LEVEL": "INFO"}
        )
        applied = await startup.applied(dsn, 1, worker, began)
        worker.stop()
        found = marks(worker.log, spawned)
    finally:
        bench.stop_all()
        broker.stop()
        server.stop()
    print("| step | from | took |\n|---|---|---|")
    previous = 0.0
    for name, marker in STEPS:
        at = found.get(marker)
        if at is None:
            print(f"| {name} | - | not in the log |")
            continue
        print(f"| {name} | {previous:.2f} s | {at - previous:.2f} s |")
        previous = at
    print(
        f"| first fetch → the event in the read model (polled every 20 ms) | {previous:.2f} s"
        f" | {applied - previous:.2f} s |"
    )
    print(f"| **process start → first event applied** | | **{applied:.2f} s** |")


if __name__ == "__main__":
    keep_bytecode_for_children()  # as `python -m bench` measures: compiled modules kept
    asyncio.run(measure(Path(tempfile.mkdtemp(prefix="start-steps-"))))
