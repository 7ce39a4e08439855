"""Outages answer like outages: 503 problem+json with Retry-After while a dependency is away,
504 "outcome unknown" when the broker took a command's events without confirming them, and a
readiness answer within its deadline. Real servers throughout: a PostgreSQL that is stopped, a
broker process that is frozen (SIGSTOP: it accepts connections and never answers)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from devstack.broker import start_broker
from devstack.postgres import start_postgres
from devstack.processes import Child, free_port
from devstack.stack import database_dsn, definitions
from dialog_schemas.catalog import INTERACTIONS_EVENTS
from dialogkit.db import ensure_database, migrate
from dialogkit.http import create_api
from dialogkit.service import ServiceDefinition
from dialogkit.topics import ensure_topics, platform_topics
from tests.support import AUTH, eventually, read_topic, service_process

# One read and one command per service; each command reads its database first.
READS = {
    "consent": "/v1/customers/c-1/consents",
    "contacts": "/v1/customers/c-1",
    "interactions": "/v1/customers/c-1/timeline",
    "campaigns": "/v1/customers/c-1/outreach",
}
COMMANDS = {
    "consent": ("/v1/customers/c-1/objections", {"via_channel": "email"}),
    "contacts": ("/v1/customers/c-1", {"kind": "consumer", "name": "Kim Doe"}),
    "campaigns": ("/v1/campaigns/spring-1/pause", {}),
    "interactions": (  # it looks for the sale call the confirmation names
        "/v1/customers/c-1/contract-confirmations",
        {"touchpoint_id": "t-1", "sent_via": "email", "sent_at": "2026-11-20T10:05:00Z"},
    ),
}
TOUCHPOINT = {
    "channel": "phone",
    "direction": "inbound",
    "occurred_at": "2026-11-20T10:00:00Z",
    "summary": "tariff question",
}


def in_process_api(
    definition: ServiceDefinition, bootstrap: str, dsn: str, keys_env: dict[str, str], **extra: Any
) -> FastAPI:
    """The service's API as `python -m <service> api` builds it, with its real runtime."""
    overrides: dict[str, Any] = {"kafka_bootstrap": bootstrap, "database_url": dsn, **extra}
    if "contacts_url" in definition.settings.model_fields:
        overrides["contacts_url"] = keys_env["CONSENT_CONTACTS_URL"]  # the API keeping keys
    settings = definition.settings(**overrides)
    return create_api(definition.name, settings, definition.routers)


async def open_client(stack: AsyncExitStack, app: FastAPI) -> httpx.AsyncClient:
    await stack.enter_async_context(app.router.lifespan_context(app))
    transport = httpx.ASGITransport(app=app)
    return await stack.enter_async_context(
        httpx.AsyncClient(transport=transport, base_url="http://api", headers=AUTH)
    )


@dataclass
class WithoutDatabase:
    clients: dict[str, httpx.AsyncClient]
    contacts_process: str
    """Base URL of a contacts API process whose database was stopped."""


@pytest.fixture(scope="module")
async def database_stopped(
    tmp_path_factory: pytest.TempPathFactory,
    platform_topics_ready: str,
    data_keys_env: dict[str, str],
) -> AsyncIterator[WithoutDatabase]:
    """Every service's API started on a PostgreSQL of its own, which is then stopped."""
    folder = tmp_path_factory.mktemp("outage-postgres")
    port = free_port()
    server = start_postgres(folder / "data", port, folder / "postgres.log", durable=False)
    admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    try:
        async with AsyncExitStack() as stack:
            clients = {}
            for definition in definitions():
                dsn = database_dsn(admin, f"dialog_{definition.name}")
                await ensure_database(admin, f"dialog_{definition.name}")
                await migrate(dsn, definition.migrations_package)
                app = in_process_api(
                    definition, platform_topics_ready, dsn, data_keys_env, readiness_timeout_s=1
                )
                clients[definition.name] = await open_client(stack, app)
            _, contacts = stack.enter_context(
                service_process(
                    "contacts",
                    "api",
                    bootstrap=platform_topics_ready,
                    dsn=database_dsn(admin, "dialog_contacts"),
                    logs=folder / "contacts-api.log",
                    extra_env={"CONTACTS_READINESS_TIMEOUT_S": "1"},
                )
            )
            for client in clients.values():  # every pool holds a live connection when it stops
                assert (await client.get("/readyz")).status_code == 200
            server.stop()
            yield WithoutDatabase(clients, contacts)
    finally:
        server.stop()


def assert_unavailable(response: httpx.Response, dependency: str | None = "database") -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    problem = response.json()
    assert (problem["status"], problem["dependency"]) == (503, dependency)
    assert "retry after 5 s" in problem["detail"]


@pytest.mark.parametrize("service", sorted(READS))
async def test_with_the_database_stopped_reads_and_commands_answer_503_with_retry_after(
    database_stopped: WithoutDatabase, service: str
) -> None:
    client = database_stopped.clients[service]
    for _ in range(2):  # the broken pooled connection, then a refused new one
        assert_unavailable(await client.get(READS[service]))
    if service in COMMANDS:
        path, body = COMMANDS[service]
        assert_unavailable(await client.post(path, json=body, headers={"Idempotency-Key": "k-1"}))


@pytest.mark.parametrize("service", sorted(READS))
async def test_with_the_database_stopped_readiness_answers_503_naming_it_in_time(
    database_stopped: WithoutDatabase, service: str
) -> None:
    began = time.monotonic()
    response = await database_stopped.clients[service].get("/readyz")
    assert time.monotonic() - began < 3
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": False, "broker": True}
    assert set(response.json()["failing"]) == {"database"}


def test_a_database_outage_answer_keeps_the_connection_open(
    database_stopped: WithoutDatabase,
) -> None:
    url = httpx.URL(database_stopped.contacts_process)
    connection = http.client.HTTPConnection(url.host, url.port, timeout=10)
    try:
        answers, sockets = [], []
        for _ in range(3):  # one connection for all three: none may be dropped by the server
            connection.request("GET", READS["contacts"], headers=AUTH)
            response = connection.getresponse()
            answers.append((response.status, response.getheader("Retry-After"), response.read()))
            sockets.append(connection.sock)
    finally:
        connection.close()
    assert [(status, retry) for status, retry, _ in answers] == [(503, "5")] * 3
    assert sockets[0] is not None
    assert all(s is sockets[0] for s in sockets)
    assert json.loads(answers[-1][2])["dependency"] == "database"


@contextmanager
def frozen(broker: Child) -> Iterator[None]:
    """The broker process stopped by SIGSTOP: connections open, no answers, until the block ends."""
    os.kill(broker.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(broker.pid, signal.SIGCONT)


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[tuple[Child, str]]:
    """A broker only this test uses, and its address."""
    port = free_port()
    broker = start_broker(port, tmp_path / "broker.log")
    try:
        yield broker, f"127.0.0.1:{port}"
    finally:
        os.kill(broker.pid, signal.SIGCONT)
        broker.stop()


async def test_a_command_the_stalled_broker_does_not_confirm_answers_504_with_its_event_ids(
    own_broker: tuple[Child, str], new_database: Any, data_keys_env: dict[str, str]
) -> None:
    broker, bootstrap = own_broker
    await ensure_topics(bootstrap, platform_topics(), partitions=6, replication=1)
    [interactions] = [d for d in definitions() if d.name == "interactions"]
    dsn = await new_database("interactions")
    app = in_process_api(
        interactions, bootstrap, dsn, data_keys_env, publish_timeout_s=1, readiness_timeout_s=0.5
    )
    customer = f"cust-{uuid.uuid4().hex[:12]}"
    touchpoint = TOUCHPOINT | {"customer_id": customer}
    second = touchpoint | {"touchpoint_id": "t-1"}
    async with AsyncExitStack() as stack:
        client = await open_client(stack, app)
        warm = await client.post("/v1/touchpoints", json=touchpoint | {"touchpoint_id": "t-0"})
        assert warm.status_code == 202, warm.text
        with frozen(broker):
            began = time.monotonic()
            stalled = await client.post(
                "/v1/touchpoints", json=touchpoint | {"touchpoint_id": "t-1"}
            )
            took = time.monotonic() - began
            began = time.monotonic()
            readiness = await client.get("/readyz")
            readiness_took = time.monotonic() - began
        assert stalled.status_code == 504, stalled.text
        assert 1 <= took < 3
        assert stalled.headers["content-type"] == "application/problem+json"
        assert stalled.headers["retry-after"] == "5"
        problem = stalled.json()
        assert problem["title"] == "Outcome unknown"
        assert "retry with the same Idempotency-Key" in problem["detail"]
        assert (readiness.status_code, set(readiness.json()["failing"])) == (503, {"broker"})
        assert readiness_took < 2

        retried = await eventually(
            lambda: client.post("/v1/touchpoints", json=second),
            lambda response: response.status_code == 202,
            timeout=30,
        )
        assert retried.json()["event_ids"] == problem["event_ids"]
    records = await read_topic(bootstrap, INTERACTIONS_EVENTS.name)
    ids = {json.loads(r.value)["id"] for r in records if r.key == customer.encode()}
    assert ids == {*warm.json()["event_ids"], *problem["event_ids"]}  # once, however often sent


async def test_a_worker_with_a_stalled_broker_answers_not_ready_in_time_naming_it(
    own_broker: tuple[Child, str],
    new_database: Any,
    data_keys_env: dict[str, str],
    tmp_path: Path,
) -> None:
    broker, bootstrap = own_broker
    await ensure_topics(bootstrap, platform_topics(), partitions=6, replication=1)
    with service_process(
        "interactions",
        "worker",
        bootstrap=bootstrap,
        dsn=await new_database("interactions"),
        logs=tmp_path / "interactions-worker.log",
        extra_env={**data_keys_env, "INTERACTIONS_READINESS_TIMEOUT_S": "0.5"},
    ) as (_, worker):
        async with httpx.AsyncClient(base_url=worker, timeout=10) as client:
            with frozen(broker):
                began = time.monotonic()
                response = await client.get("/readyz")
                took = time.monotonic() - began
            assert (response.status_code, response.json()["failing"]) == (
                503,
                {"broker": "no answer within 0.5 s"},
            )
            assert response.json()["checks"]["database"] is True
            assert took < 2
            await eventually(
                lambda: client.get("/readyz"), lambda r: r.status_code == 200, timeout=60
            )
