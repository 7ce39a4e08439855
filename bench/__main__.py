"""`make bench`: every figure of the platform's goals, each against a ceiling measured in the
same run, printed as one table and written to bench/results/<date>.json.

`--smoke` runs every measurement at a tiny size (the test suite does, to see each figure
produced); its numbers mean nothing. `--only` picks measurements; `--profile` runs the rebuild
under pyinstrument and says where its report is.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import uvloop

from bench import commands, dispatch, eligibility, freshness, live, rebuild, startup, triggers
from bench.stack import SMOKE, Bench, Sizes
from bench.table import (
    Figure,
    Progress,
    machine,
    machine_line,
    markdown,
    update_readme,
    write_results,
)
from devstack.broker import start_broker
from devstack.postgres import start_postgres
from devstack.processes import free_port, keep_bytecode_for_children
from dialogkit import heap
from dialogkit.topics import ensure_topics, platform_topics

RESULTS = Path(__file__).parent / "results"
README = Path(__file__).parent.parent / "README.md"

Measurement = Callable[[Bench], Awaitable[list[Figure]]]
MEASUREMENTS: dict[str, tuple[str, Measurement]] = {
    "startup": ("worker start and restart after SIGKILL", startup.measure),
    "rebuild": ("bulk rebuild against the bare consumer", rebuild.measure),
    "live": ("live timeline projection against a no-op faust agent", live.measure),
    "freshness": ("freshness, its breakdown, POST latency, highest rates", freshness.measure),
    "commands": ("consent grant that waits for its read model", commands.measure),
    "eligibility": ("eligibility: latency, cost of history, batch", eligibility.measure),
    "triggers": ("cancellation to retention call decision", triggers.measure),
    "dispatch": ("dispatch of a campaign in one worker", dispatch.measure),
}


async def run(
    sizes: Sizes, only: list[str], work: Path, profile: bool, together: bool
) -> list[Figure]:
    """Each measurement on a broker of its own (workers replay whatever a topic holds); one
    after another, or all at once when `together` (a smoke run: numbers that mean nothing)."""
    progress = Progress(len(only))
    port = free_port()
    progress.say("starting PostgreSQL")
    server = start_postgres(work / "pg", port, work / "postgres.log")
    admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    async def one(name: str) -> list[Figure]:
        what, measure = MEASUREMENTS[name]
        progress.next(what)
        began = time.monotonic()
        broker_port = free_port()
        broker = start_broker(broker_port, work / f"broker-{name}.log")
        bootstrap = f"127.0.0.1:{broker_port}"
        bench = Bench(work, admin, bootstrap, sizes, progress)
        try:
            await ensure_topics(bootstrap, platform_topics(), partitions=6, replication=1)
            if name == "rebuild":
                found = await rebuild.measure(bench, profile=profile)
            else:
                found = await measure(bench)
        finally:
            await asyncio.to_thread(bench.stop_all)
            broker.stop()
        for figure in found:
            progress.say(f"  {figure.name}: {' | '.join(figure.row()[1:4])}")
        progress.say(f"  {what}: {time.monotonic() - began:.0f} s")
        return found

    try:
        if together:
            found = await asyncio.gather(*(one(name) for name in only))
        else:
            found = [await one(name) for name in only]
        if profile:
            progress.say(f"rebuild profile: {work / 'rebuild-profile.txt'}")
    finally:
        server.stop()
    return [figure for figures in found for figure in figures]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: every figure, quickly")
    parser.add_argument("--only", nargs="*", choices=list(MEASUREMENTS), default=list(MEASUREMENTS))
    parser.add_argument("--profile", action="store_true", help="profile the rebuild")
    parser.add_argument("--keep", action="store_true", help="keep the logs' folder")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder for the JSON")
    parser.add_argument("--events", type=int, help="events of the rebuild (500,000)")
    parser.add_argument("--customers", type=int, help="customers of the rebuild (50,000)")
    parser.add_argument("--readme", action="store_true", help="put the table into README.md")
    arguments = parser.parse_args()
    sizes = SMOKE if arguments.smoke else Sizes()
    if arguments.events:
        sizes = replace(sizes, rebuild_events=arguments.events)
    if arguments.customers:
        sizes = replace(sizes, rebuild_customers=arguments.customers)
    started = time.monotonic()
    folder = tempfile.mkdtemp(prefix="dialog-bench-")
    # the platform's process settings: a ceiling measured here (the bare consumer, the load
    # generator) must not be slower than the platform's own processes
    heap.tune_for_service()
    # the processes measured keep their compiled modules, as a deployed image ships them
    # (Dockerfile: UV_COMPILE_BYTECODE); the first start compiles, the median of three skips it
    keep_bytecode_for_children()
    figures = uvloop.run(
        run(sizes, arguments.only, Path(folder), arguments.profile, together=arguments.smoke)
    )
    info = machine()
    print(f"\n{machine_line(info)}\n")
    print(markdown(figures))
    path = write_results(
        figures, arguments.results, "smoke" if arguments.smoke else "full", started
    )
    print(f"\nwritten to {path}; logs in {folder}", file=sys.stderr)
    if arguments.readme and not arguments.smoke:
        update_readme(README, figures, info)


if __name__ == "__main__":
    main()
