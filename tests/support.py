"""Helpers shared by tests: polling with deadlines and service processes."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.structs import TopicPartition

from devstack.auth import auth_env, development_token, ledger_key_file, local_key_file
from devstack.processes import (
    Child,
    StartError,
    free_port,
    keep_bytecode_for_children,
    spawn,
)
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


BYTECODE_CACHE = keep_bytecode_for_children()
"""The processes the tests start compile each module once for the whole run."""


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


@dataclass(frozen=True)
class Service:
    """One process of a service to start: `python -m <service> <role>`, on a free port unless
    `port` is given, its output in the file `logs`."""

    service: str
    role: str
    dsn: str
    logs: Path
    extra_env: Mapping[str, str] = field(default_factory=dict)
    port: int | None = None

    def start(self, bootstrap: str) -> tuple[Child, str]:
        """Start the process without waiting for it; the child and its base URL."""
        prefix = self.service.upper()
        port = self.port or free_port()
        env = {
            **os.environ,
            f"{prefix}_KAFKA_BOOTSTRAP": bootstrap,
            f"{prefix}_DATABASE_URL": self.dsn,
            f"{prefix}_HTTP_PORT": str(port if self.role == "api" else free_port()),
            f"{prefix}_WORKER_WEB_PORT": str(port if self.role == "worker" else free_port()),
            f"{prefix}_WORKER_DATA_DIR": str(self.logs.parent / f"{self.service}-{self.role}-data"),
            **self.extra_env,
        }
        name = f"{self.service}-{self.role}"
        command = [sys.executable, "-m", self.service, self.role]
        return spawn(name, command, self.logs, env=env), f"http://127.0.0.1:{port}"


def wait_ready(started: list[tuple[Child, str]], *, timeout: float = 90) -> None:
    """Wait until every started process answers on `/readyz`, all at once.

    Raises StartError as soon as one exits, or naming those not ready at the deadline."""
    waiting = list(started)
    deadline = time.monotonic() + timeout
    while waiting:
        for child, base in list(waiting):
            if ready(f"{base}/readyz"):
                waiting.remove((child, base))
            elif not child.running():
                raise StartError(
                    f"{child.name}: process exited with code {child.process.returncode}; "
                    f"read {child.log}\n{child.tail()}"
                )
        if waiting and time.monotonic() > deadline:
            child = waiting[0][0]
            names = ", ".join(c.name for c, _ in waiting)
            raise StartError(
                f"{names}: not ready within {timeout:.0f} s; read {child.log}\n{child.tail()}"
            )
        if waiting:
            time.sleep(0.1)


def stop_all(children: list[Child], timeout: float = 10.0) -> None:
    """Ask every child to stop at once, then wait for each; kill those that do not in time."""
    for child in children:
        if child.running():
            child.process.send_signal(child.stop_signal)
    deadline = time.monotonic() + timeout
    for child in children:
        try:
            child.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait(5)


@contextmanager
def service_processes(
    bootstrap: str, *services: Service, timeout: float = 90
) -> Iterator[list[str]]:
    """Start the services' processes side by side, wait until all are ready, and stop them all
    when the block ends; yields their base URLs in the order given."""
    started: list[tuple[Child, str]] = []
    try:
        for service in services:
            started.append(service.start(bootstrap))
        wait_ready(started, timeout=timeout)
        yield [base for _, base in started]
    finally:
        stop_all([child for child, _ in started])


def wait_caught_up(worker: str, topics: Sequence[str], timeout: float = 120) -> None:
    """Wait until the worker at base URL `worker` has applied everything on `topics`: every
    `dialog_projection_lag_records` sample of them is 0 (the worker refreshes the gauge before
    each scrape of its /metrics). A worker started late in a test session first replays the
    shared topics; a command sent before that is done may rightly answer 202 (not yet applied)."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    def lags() -> list[float]:
        page = httpx.get(f"{worker}/metrics", timeout=10).text
        return [
            sample.value
            for family in text_string_to_metric_families(page)
            if family.name == "dialog_projection_lag_records"
            for sample in family.samples
            if sample.labels.get("topic") in topics
        ]

    deadline = time.monotonic() + timeout
    found = lags()
    while not (found and all(value == 0 for value in found)):
        if time.monotonic() > deadline:
            raise AssertionError(f"{worker} not caught up on {list(topics)} within {timeout} s")
        time.sleep(0.2)
        found = lags()


PLATFORM = ("contacts", "consent", "interactions", "campaigns")
"""Every service of the platform, contacts first (the others ask it for data keys)."""


@contextmanager
def whole_platform(
    bootstrap: str, databases: Mapping[str, str], logs: Path, env: Mapping[str, str]
) -> Iterator[tuple[dict[str, str], list[str]]]:
    """API and worker of every service side by side, each API told where the others are, with
    `env` added to every process's settings; yields the APIs' URLs by service and the base URLs
    of all processes in the order (service, role) of PLATFORM, each service api then worker."""
    ports = {service: free_port() for service in PLATFORM}
    urls = {service: f"http://127.0.0.1:{port}" for service, port in ports.items()}
    peers = {
        f"{service.upper()}_{peer.upper()}_URL": url
        for service in PLATFORM
        for peer, url in urls.items()
        if peer != service
    }
    processes = [
        Service(
            service,
            role,
            databases[service],
            logs / f"{service}-{role}.log",
            peers | dict(env),
            ports[service] if role == "api" else None,
        )
        for service in PLATFORM
        for role in ("api", "worker")
    ]
    with service_processes(bootstrap, *processes) as bases:
        yield urls, bases


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
    child, base = Service(service, role, dsn, logs, extra_env or {}, port).start(bootstrap)
    try:
        wait_ready([(child, base)], timeout=timeout)
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
