"""A faust agent that does nothing with its records: the live projection's ceiling.

`python -m bench.noop_agent BOOTSTRAP TOPIC COUNT OUTFILE` reads TOPIC from the beginning in a
group of its own, with the worker's faust settings, transport and batching, acknowledging each
batch without looking at it; after COUNT records it writes `records/s` (first record to last) to
OUTFILE. The bench stops it.
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

import faust
from faust.types import StreamT

from devstack.broker import GROUP_SETTINGS
from devstack.processes import free_port
from dialogkit import faust_transport
from dialogkit.batching import idle_batches
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

    async def noop(stream: StreamT[bytes]) -> None:
        stream.enable_acks = False
        seen, first = 0, 0.0
        batches = idle_batches(
            stream.events(),
            max_items=settings.batch_max,
            idle_s=settings.batch_idle_s,
            within_s=settings.batch_within_s,
        )
        async for events in batches:
            first = first or time.perf_counter()
            seen += len(events)
            for event in events:
                await stream.ack(event)
            if seen >= count:
                elapsed = max(time.perf_counter() - first, 1e-6)
                out.write_text(f"{seen / elapsed:.1f}\n")  # noqa: ASYNC240 - once, at the end

    app.agent(topic, name="bench.noop")(noop)
    sys.argv = sys.argv[:1]
    faust.Worker(
        app, loglevel="warning", override_logging=False, quiet=True
    ).execute_from_commandline()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))
