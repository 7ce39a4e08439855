"""A faust agent that does nothing with its records: the live projection's ceiling.

`python -m bench.noop_agent BOOTSTRAP TOPIC COUNT OUTFILE` reads TOPIC from the beginning in a
group of its own, with the worker's faust settings, transport and agent loop (batching,
overlapping, acknowledgement: `dialogkit.agent_loop.batch_agent`) and process settings (asyncio's
loop, the tuned collector: `dialogkit.service.run_worker`), acknowledging each batch
without looking at it; after COUNT records it writes `records/s` (first batch to last) and the
process's CPU microseconds per record after the first batch to OUTFILE. The bench stops it.
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

import faust

from devstack.broker import GROUP_SETTINGS
from devstack.processes import free_port
from dialogkit import faust_transport, heap
from dialogkit.agent_loop import Steps, batch_agent
from dialogkit.config import ServiceSettings
from dialogkit.worker import faust_settings


def main(bootstrap: str, topic_name: str, count: int, out: Path) -> None:
    settings = ServiceSettings(
        kafka_bootstrap=bootstrap, worker_web_port=free_port(), **GROUP_SETTINGS
    )
    options = faust_settings("bench", settings) | {"id": f"bench-noop-{uuid.uuid4().hex[:8]}"}
    app = faust_transport.App(**options)
    topic = app.topic(
        topic_name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )

    seen, first, cpu, counted = 0, 0.0, 0.0, 0

    async def note(events: int) -> None:
        nonlocal seen, first, cpu, counted
        if not first:  # the clocks start once the first batch is in
            first, cpu, counted = time.perf_counter(), time.process_time(), events
        seen += events
        if seen >= count:
            elapsed = max(time.perf_counter() - first, 1e-6)
            cpu_us = (time.process_time() - cpu) / max(seen - counted, 1) * 1e6
            out.write_text(f"{seen / elapsed:.1f} {cpu_us:.1f}\n")  # noqa: ASYNC240 - once, at the end

    noop = batch_agent("bench.noop", topic_name, settings, lambda: Steps(len, note))
    app.agent(topic, name="bench.noop")(noop)
    sys.argv = sys.argv[:1]
    heap.tune_for_service()
    faust.Worker(
        app, loglevel="warning", override_logging=False, quiet=True
    ).execute_from_commandline()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))
