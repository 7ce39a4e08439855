"""Helpers shared by tests: polling with deadlines and service processes."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.structs import TopicPartition

from devstack.auth import auth_env, development_token, local_key_file
from devstack.processes import Child, free_port, spawn, wait_until
from devstack.stack import ready

T = TypeVar("T")
KEY_FILE = local_key_file(Path(tempfile.mkdtemp(prefix="dialog-tests-")))
"""The signing key every service the tests start or build trusts (set in the environment)."""
os.environ.update(auth_env(KEY_FILE))
TOKEN = development_token(KEY_FILE, subject="test-suite")
"""A token with every scope of the platform."""
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def token(*scopes: str, subject: str = "test-suite") -> dict[str, str]:
    """Authorization headers with a token of exactly these scopes."""
    return {"Authorization": f"Bearer {development_token(KEY_FILE, scopes, subject=subject)}"}


async def eventually(
    probe: Callable[[], Awaitable[T]],
    accept: Callable[[T], bool],
    *,
    timeout: float = 120,
    interval: float = 0.1,
) -> T:
    """Poll `probe` until its result is accepted; fail with the last result at the deadline.

    The deadline is generous because a worker started late in a test session first replays
    every shared topic from offset 0; a passing probe returns as soon as it is accepted.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if accept(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s; last result: {result!r}")
        await asyncio.sleep(interval)


@contextmanager
def service_process(
    service: str,
    role: str,
    *,
    bootstrap: str,
    dsn: str,
    logs: Path,
    extra_env: dict[str, str] | None = None,
    timeout: float = 90,
    port: int | None = None,
) -> Iterator[tuple[Child, str]]:
    """Run `python -m <service> <role>` on free ports until the block ends; yields its base URL."""
    prefix = service.upper()
    port = port or free_port()
    env = {
        **os.environ,
        f"{prefix}_KAFKA_BOOTSTRAP": bootstrap,
        f"{prefix}_DATABASE_URL": dsn,
        f"{prefix}_HTTP_PORT": str(port if role == "api" else free_port()),
        f"{prefix}_WORKER_WEB_PORT": str(port if role == "worker" else free_port()),
        f"{prefix}_WORKER_DATA_DIR": str(logs.parent / f"{service}-{role}-data"),
        **(extra_env or {}),
    }
    child = spawn(f"{service}-{role}", [sys.executable, "-m", service, role], logs, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: ready(f"{base}/readyz"), timeout=timeout, what=child.name, child=child)
        yield child, base
    finally:
        child.stop()


def service_port_env() -> dict[str, str]:
    """Free ports for every service's API and worker, as their settings variables."""
    from dialogkit.topics import SERVICES

    env = {}
    for service in SERVICES:
        env[f"{service.upper()}_HTTP_PORT"] = str(free_port())
        env[f"{service.upper()}_WORKER_WEB_PORT"] = str(free_port())
    return env


async def read_topic(bootstrap: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record a topic holds now, read from the beginning of each partition."""
    reader = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await reader.start()
    try:
        partitions = await eventually(
            lambda: _assignment(reader), lambda found: bool(found), timeout=30
        )
        ends = await reader.end_offsets(list(partitions))
        records: list[ConsumerRecord[bytes, bytes]] = []
        while True:  # past the reported ends and nothing more: the embedded broker reports the
            # start of a partition's last batch as its end offset, so the ends alone stop short
            batches = await reader.getmany(timeout_ms=300)
            records += [r for batch in batches.values() for r in batch]
            if not batches and all([await reader.position(tp) >= ends[tp] for tp in partitions]):
                return records
    finally:
        await reader.stop()


async def _assignment(reader: AIOKafkaConsumer) -> set[TopicPartition]:
    assigned: set[TopicPartition] = reader.assignment()
    return assigned
