"""`make run`: broker, database, topics, migrations and every service's API and worker."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psutil
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from devstack.auth import auth_env, local_key_file
from devstack.broker import group_env, start_broker
from devstack.postgres import start_postgres
from devstack.processes import Child, StartError, port_in_use, spawn, wait_until
from devstack.supervisor import Supervisor
from dialogkit.config import Port, ServiceSettings
from dialogkit.db import ensure_database, migrate
from dialogkit.service import ServiceDefinition, load_settings
from dialogkit.topics import SERVICES, ensure_topics, platform_topics


class StackSettings(BaseSettings):
    """How `make run` starts the platform; `DIALOG_*` variables."""

    model_config = SettingsConfigDict(env_prefix="DIALOG_", extra="ignore", frozen=True)

    kafka_bootstrap: str | None = None  # an existing Kafka instead of the embedded broker
    database_url: str | None = None  # an existing PostgreSQL (admin DSN) instead of embedded
    broker_port: Port = 9092
    postgres_port: Port = 5432
    state_dir: Path = Path(".run")
    ready_timeout_s: float = Field(default=90, gt=0)


def definitions() -> list[ServiceDefinition[Any]]:
    from campaigns.bootstrap import DEFINITION as campaigns
    from consent.bootstrap import DEFINITION as consent
    from contacts.bootstrap import DEFINITION as contacts
    from interactions.bootstrap import DEFINITION as interactions

    found = {d.name: d for d in (consent, contacts, interactions, campaigns)}
    return [found[name] for name in SERVICES]


def database_dsn(admin_dsn: str, database: str) -> str:
    """The admin DSN pointed at another database on the same server."""
    base, _, query = admin_dsn.partition("?")
    scheme, _, rest = base.partition("://")
    authority = rest.split("/", 1)[0]
    return f"{scheme}://{authority}/{database}" + (f"?{query}" if query else "")


def service_env(
    definition: ServiceDefinition,
    bootstrap: str,
    dsn: str,
    state_dir: Path,
    *,
    embedded_broker: bool = False,
) -> dict[str, str]:
    """A service's environment: its broker and database, peers, the local signing key, and its
    worker's data folder under the run's state folder (so two platforms never share one); on
    the embedded broker also the worker's group settings for it (`devstack.broker.group_env`)."""
    prefix = definition.settings.model_config.get("env_prefix", "")
    return {
        **peer_urls(definition),  # where the other services run, unless set otherwise
        **auth_env(local_key_file(state_dir)),  # the local signing key, unless set otherwise
        **(group_env([prefix]) if embedded_broker else {}),  # unless set otherwise
        f"{prefix}WORKER_DATA_DIR": str((state_dir / "faust" / definition.name).absolute()),
        **os.environ,
        f"{prefix}KAFKA_BOOTSTRAP": bootstrap,
        f"{prefix}DATABASE_URL": dsn,
        "PYTHONUNBUFFERED": "1",
    }


def peer_urls(definition: ServiceDefinition) -> dict[str, str]:
    """`<PREFIX>_<PEER>_URL` for each other service's API this one calls, where that API runs."""
    prefix = definition.settings.model_config.get("env_prefix", "")
    apis = {}
    for other in definitions():
        settings = load_settings(other)
        apis[other.name] = f"http://{settings.http_host}:{settings.http_port}"
    return {
        f"{prefix}{name.upper()}": apis[name.removesuffix("_url")]
        for name in definition.settings.model_fields
        if name.endswith("_url") and name.removesuffix("_url") in apis
    }


def ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class Stack:
    """The processes of a running platform, stopped in reverse order of start."""

    settings: StackSettings
    children: list[Child] = field(default_factory=list)
    restarts: dict[str, Callable[[], Child]] = field(default_factory=dict)
    """How to start each service process again; the broker and the database have none."""

    @property
    def logs(self) -> Path:
        return self.settings.state_dir / "logs"

    def start(self) -> list[tuple[ServiceDefinition, ServiceSettings]]:
        embedded = self.settings.kafka_bootstrap is None
        bootstrap = self.settings.kafka_bootstrap or self._start_broker()
        admin_dsn = self.settings.database_url or self._start_postgres()
        if embedded:
            print("embedded broker keeps events in memory only: the platform starts empty,")
            print("and its database was reset with it")
        asyncio.run(ensure_topics(bootstrap, platform_topics(), partitions=6, replication=1))
        started = []
        for definition in definitions():
            dsn = database_dsn(admin_dsn, f"dialog_{definition.name}")
            asyncio.run(_prepare(admin_dsn, dsn, definition))
            env = service_env(
                definition, bootstrap, dsn, self.settings.state_dir, embedded_broker=embedded
            )
            settings = load_settings(definition, kafka_bootstrap=bootstrap, database_url=dsn)
            started.append((definition, settings))
            self._start_service(definition, settings, env)
        for definition, settings in started:
            for role, port in (("api", settings.http_port), ("worker", settings.worker_web_port)):
                child = self._child(f"{definition.name}-{role}")
                url = f"http://{settings.http_host}:{port}/readyz"
                wait_until(
                    lambda url=url: ready(url),  # type: ignore[misc]
                    timeout=self.settings.ready_timeout_s,
                    what=f"{definition.name} {role} ({url})",
                    child=child,
                    interval=0.25,
                )
        return started

    def _start_broker(self) -> str:
        port = self.settings.broker_port
        self.children.append(start_broker(port, self.logs / "broker.log"))
        return f"127.0.0.1:{port}"

    def _start_postgres(self) -> str:
        port = self.settings.postgres_port
        self.children.append(
            start_postgres(self.settings.state_dir / "postgres", port, self.logs / "postgres.log")
        )
        return f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def _start_service(
        self, definition: ServiceDefinition, settings: ServiceSettings, env: dict[str, str]
    ) -> None:
        for role, port in (("api", settings.http_port), ("worker", settings.worker_web_port)):
            name = f"{definition.name}-{role}"
            if port_in_use(settings.http_host, port):
                prefix = definition.settings.model_config.get("env_prefix", "")
                variable = "HTTP_PORT" if role == "api" else "WORKER_WEB_PORT"
                raise StartError(
                    f"{name}: port {settings.http_host}:{port} is already in use; "
                    f"choose another with {prefix}{variable}"
                )
            command = [sys.executable, "-m", definition.name, role]
            self.restarts[name] = partial(spawn, name, command, self.logs / f"{name}.log", env=env)
            self.children.append(self.restarts[name]())

    def _child(self, name: str) -> Child:
        return next(c for c in self.children if c.name == name)

    def stop(self) -> None:
        services = [c for c in self.children if "-" in c.name]
        infrastructure = [c for c in self.children if "-" not in c.name]
        threads = [threading.Thread(target=c.stop) for c in services]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for child in reversed(infrastructure):
            child.stop()
        self.children.clear()


async def _prepare(admin_dsn: str, dsn: str, definition: ServiceDefinition) -> None:
    await ensure_database(admin_dsn, dsn.rsplit("/", 1)[1].split("?")[0])
    await migrate(dsn, definition.migrations_package)


@contextmanager
def pid_file(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        other = int(path.read_text() or 0)
        if other and _alive(other):
            raise StartError(f"the platform already runs (pid {other}); stop it with `make stop`")
    path.write_text(str(os.getpid()))
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def run(settings: StackSettings) -> int:
    """Start everything, print where it is, restart crashed services, and stop it all on Ctrl-C,
    SIGTERM, or when the broker or the database dies."""
    stack = Stack(settings)
    stopping = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stopping.set())
    began = time.monotonic()
    with pid_file(settings.state_dir / "stack.pid"):
        try:
            started = stack.start()
        except StartError as error:
            print(f"start failed: {error}", file=sys.stderr)
            stack.stop()
            return 1
        print(f"\nplatform ready in {time.monotonic() - began:.1f} s; logs in {stack.logs}/")
        for definition, s in started:
            base = f"http://{s.http_host}:{s.http_port}"
            print(f"  {definition.name:<13} {base}  docs {base}/docs")
        print('tokens: make token SCOPES="consent:read consent:write" (all scopes without SCOPES)')
        print("Ctrl-C or `make stop` stops everything")
        return supervise(stack, stopping, Supervisor(stack.children, stack.restarts))


def supervise(stack: Stack, stopping: threading.Event, supervisor: Supervisor) -> int:
    """Restart crashed services until asked to stop (0) or the broker or database dies (1);
    then stop everything."""
    reason = supervisor.watch(stopping)
    print("stopping ...", file=sys.stderr if reason else sys.stdout)
    stack.stop()
    return 0 if reason is None else 1


def stop(settings: StackSettings, timeout: float = 60) -> int:
    """Ask a running `make run` to stop, and wait until it has."""
    path = settings.state_dir / "stack.pid"
    if not path.exists():
        print("the platform is not running")
        return 0
    pid = int(path.read_text() or 0)
    if not pid or not _alive(pid):
        path.unlink(missing_ok=True)
        print("the platform is not running")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid):
        print(f"platform (pid {pid}) did not stop within {timeout:.0f} s", file=sys.stderr)
        return 1
    print("stopped")
    return 0
