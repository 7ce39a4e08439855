"""Helpers shared by tests: polling with deadlines and service processes."""

from __future__ import annotations

import asyncio
import io
import logging
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

from devstack.auth import auth_env, development_token, ledger_key_file, local_key_file
from devstack.processes import Child, free_port, spawn, wait_until
from devstack.stack import ready
from dialog_schemas.catalog import CONSENT_EVENTS
from dialogkit.ledger import LedgerSigner, local_ledger_key

T = TypeVar("T")
KEY_FILE = local_key_file(Path(tempfile.mkdtemp(prefix="dialog-tests-")))
"""The signing key every service the tests start or build trusts (set in the environment)."""
os.environ.update(auth_env(KEY_FILE))
TOKEN = development_token(KEY_FILE, subject="test-suite")
"""A token with every scope of the platform."""
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LEDGER_KEY_FILE = ledger_key_file(KEY_FILE)
"""The local ledger key every service the tests start or build is given (set in the environment)."""
LEDGER_SIGNER = LedgerSigner(local_ledger_key(LEDGER_KEY_FILE))
"""Signs as the consent service does: the local ledger key the test processes are given."""
CONSENT_SIGNERS = {CONSENT_EVENTS.name: LEDGER_SIGNER}
"""For a publisher that writes consent events as the consent service would."""


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


class LogLines:
    """Every record handled, as the services' handler writes it (`dialogkit.logs.log_handler`)."""

    def __init__(self) -> None:
        from dialogkit.logs import log_handler

        self._stream = io.StringIO()
        self.handler = log_handler("test", self._stream)
        self.handler.setLevel(logging.DEBUG)

    @property
    def lines(self) -> list[str]:
        return self._stream.getvalue().splitlines()


@contextmanager
def every_log_record() -> Iterator[LogLines]:
    """Every logger of the process at DEBUG, into the yielded handler, until the block ends.
    (An API made inside the block configures the process's logs anew: make it before.)"""
    kept, root = LogLines(), logging.getLogger()
    loggers = [logging.getLogger(n) for n in list(logging.root.manager.loggerDict)]
    before = {lg.name: (lg.level, lg.disabled) for lg in loggers}
    root_level = root.level
    root.addHandler(kept.handler)
    root.setLevel(logging.DEBUG)
    for lg in loggers:
        lg.setLevel(logging.NOTSET)
        lg.disabled = False
    try:
        yield kept
    finally:
        root.removeHandler(kept.handler)
        root.setLevel(root_level)
        for lg in loggers:
            lg.setLevel(before[lg.name][0])
            lg.disabled = before[lg.name][1]
