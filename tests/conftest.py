"""Broker and database for every test tier.

In order of preference: the ones named by TEST_KAFKA_BOOTSTRAP / TEST_DATABASE_URL; else
testcontainers where a Docker engine answers; else the embedded broker and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest

from devstack.broker import group_env, start_broker
from devstack.postgres import POSTGRES_MAJOR, start_postgres
from devstack.processes import free_port
from dialogkit.db import ensure_database, migrate
from dialogkit.publishing import KafkaPublisher
from dialogkit.topics import SERVICES, ensure_topics, platform_topics
from tests import support  # (trust the tests' signing key before settings are read)


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
    except Exception:
        return False
    return True


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = Path(str(item.fspath)).parent.name
        if tier in ("unit", "integration", "e2e"):
            item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("TEST_KAFKA_BOOTSTRAP")
    if given:
        yield given
    elif _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer() as kafka:
            yield kafka.get_bootstrap_server()
    else:
        port = free_port()
        log = tmp_path_factory.mktemp("broker") / "broker.log"
        broker = start_broker(port, log)
        try:
            with pytest.MonkeyPatch.context() as env:  # workers use the broker's group settings
                for name, value in group_env(f"{s.upper()}_" for s in SERVICES).items():
                    env.setenv(name, os.environ.get(name, value))  # unless set otherwise
                yield f"127.0.0.1:{port}"
        finally:
            broker.stop()


@pytest.fixture(scope="session")
def postgres_admin_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        yield given
    elif _docker_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer(f"postgres:{POSTGRES_MAJOR}", driver=None) as postgres:
            yield postgres.get_connection_url()
    else:
        port = free_port()
        folder = tmp_path_factory.mktemp("postgres")
        server = start_postgres(folder / "data", port, folder / "postgres.log", durable=False)
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            server.stop()


@pytest.fixture(scope="session")
async def platform_topics_ready(kafka_bootstrap: str) -> str:
    await ensure_topics(kafka_bootstrap, platform_topics(), partitions=6, replication=1)
    return kafka_bootstrap


def dsn_for(admin_dsn: str, database: str) -> str:
    from devstack.stack import database_dsn

    return database_dsn(admin_dsn, database)


@pytest.fixture
def new_database(postgres_admin_dsn: str) -> Callable[..., Awaitable[str]]:
    """Create an empty database with the given packages' migrations applied; returns its DSN."""

    async def create(*packages: str) -> str:
        name = f"test_{uuid.uuid4().hex[:12]}"
        await ensure_database(postgres_admin_dsn, name)
        dsn = dsn_for(postgres_admin_dsn, name)
        await migrate(dsn, *packages)
        return dsn

    return create


@pytest.fixture
def new_databases(
    new_database: Callable[..., Awaitable[str]],
) -> Callable[..., Awaitable[dict[str, str]]]:
    """Create one database per package at once, each with that package's migrations applied;
    returns their DSNs by package."""

    async def create(*packages: str) -> dict[str, str]:
        dsns = await asyncio.gather(*(new_database(p) for p in packages))
        return dict(zip(packages, dsns, strict=True))

    return create


@pytest.fixture
async def pool_for() -> AsyncIterator[Callable[[str], Awaitable[asyncpg.Pool]]]:
    pools: list[asyncpg.Pool] = []

    async def open_pool(dsn: str) -> asyncpg.Pool:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
        pools.append(pool)
        return pool

    yield open_pool
    await asyncio.gather(*(p.close() for p in pools))


@pytest.fixture
def customer_id() -> str:
    """A customer no other test writes about, so tests can share topics."""
    return f"cust-{uuid.uuid4().hex[:16]}"


@pytest.fixture
async def publisher(platform_topics_ready: str) -> AsyncIterator[KafkaPublisher]:
    """A started producer on the test broker; it signs consent events as the consent service."""
    started = KafkaPublisher(
        platform_topics_ready, client_id="test", signers=support.CONSENT_SIGNERS
    )
    await started.start()
    yield started
    await started.stop()


@pytest.fixture(scope="session")
async def data_keys_env(
    platform_topics_ready: str, postgres_admin_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, str]]:
    """A contacts API keeping data keys, and the settings that point consent and interactions
    processes at it: they seal and open personal data with keys only contacts keeps."""
    from tests.support import service_process

    name = f"keys_{uuid.uuid4().hex[:12]}"
    await ensure_database(postgres_admin_dsn, name)
    dsn = dsn_for(postgres_admin_dsn, name)
    await migrate(dsn, "contacts")
    logs = tmp_path_factory.mktemp("data-keys") / "contacts-api.log"
    with service_process(
        "contacts", "api", bootstrap=platform_topics_ready, dsn=dsn, logs=logs
    ) as (_, api):
        yield {"CONSENT_CONTACTS_URL": api, "INTERACTIONS_CONTACTS_URL": api}
