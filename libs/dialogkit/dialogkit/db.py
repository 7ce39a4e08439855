"""PostgreSQL access: pools and ordered, once-only SQL migrations."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

import asyncpg

MIGRATION_LOCK = 7_310_001  # advisory lock id: one migrator at a time
CONNECT_TIMEOUT_S = 10.0


class DatabaseUnavailable(ConnectionError):
    """A new connection to the database was refused or not answered in time: an outage."""


async def _connect(*args: Any, **kwargs: Any) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(*args, **kwargs)
    except (OSError, TimeoutError) as error:
        raise DatabaseUnavailable(f"cannot connect to the database: {error!r}") from error


async def create_pool(dsn: str, *, max_size: int = 10, keep_session: bool = True) -> asyncpg.Pool:
    """A connection pool; fails fast when the database cannot be reached.

    A connection the pool cannot open raises DatabaseUnavailable (after at most
    CONNECT_TIMEOUT_S), so callers can tell a database outage from other network errors.

    With `keep_session` (the platform's pools) a released connection is not reset: asyncpg's
    reset costs a round trip per release (`pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL`) and the platform leaves no session state behind (no session-level SET, LISTEN,
    session advisory lock or WITH HOLD cursor; tests/unit/test_session_state.py scans for
    them). A transaction still open at release is rolled back either way. Pass
    `keep_session=False` for code that does leave session state.
    """
    return await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=max_size,
        command_timeout=30,
        timeout=CONNECT_TIMEOUT_S,
        connect=_connect,
        reset=_keep_session if keep_session else None,
    )


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Release without a reset query (asyncpg still rolls back an open transaction first)."""


def migration_files(package: str) -> list[tuple[str, str]]:
    """The `NNN_name.sql` files of a package's `migrations` folder, in order."""
    folder: Traversable = files(package).joinpath("migrations")
    if not folder.is_dir():
        return []
    scripts = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f"{package}/{f.name}", f.read_text()) for f in scripts]


def with_requirements(packages: Sequence[str]) -> list[str]:
    """The packages in migration order: each after those its `migrations/requires.txt` names."""
    ordered: list[str] = []

    def visit(package: str) -> None:
        if package in ordered:
            return
        requires = files(package).joinpath("migrations", "requires.txt")
        if requires.is_file():
            for line in requires.read_text().split():
                visit(line)
        ordered.append(package)

    for package in ("dialogkit", *packages):
        visit(package)
    return ordered


async def migrate(dsn: str, *packages: str) -> list[str]:
    """Apply the migrations of the given packages (and those they require) not applied yet."""
    connection = await asyncpg.connect(dsn)
    applied: list[str] = []
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["name"] for r in await connection.fetch("SELECT name FROM schema_migrations")}
        for package in with_requirements(packages):
            for name, sql in migration_files(package):
                if name in done:
                    continue
                async with connection.transaction():
                    await connection.execute(sql)
                    await connection.execute(
                        "INSERT INTO schema_migrations (name) VALUES ($1)", name
                    )
                applied.append(name)
    finally:
        await connection.close()
    return applied


async def ensure_database(admin_dsn: str, name: str) -> bool:
    """Create a database if it does not exist; True when it was created."""
    connection = await asyncpg.connect(admin_dsn)
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return False
        await connection.execute(f'CREATE DATABASE "{name}"')
        return True
    finally:
        await connection.close()
