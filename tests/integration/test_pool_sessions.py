"""Pooled connections released without asyncpg's reset query (`create_pool(keep_session=True)`)
are reused as they are; what a transaction set ends with it all the same."""

from __future__ import annotations

import asyncpg

from dialogkit.db import create_pool


async def backend_and_name(pool: asyncpg.Pool) -> tuple[int, str]:
    async with pool.acquire() as connection:
        row = await connection.fetchrow(
            "SELECT pg_backend_pid() AS pid, current_setting('application_name') AS name"
        )
        return row["pid"], row["name"]


async def test_a_released_connection_is_reused_without_the_reset(new_database) -> None:
    pool = await create_pool(await new_database(), max_size=1)
    try:
        async with pool.acquire() as connection:
            pid = await connection.fetchval("SELECT pg_backend_pid()")
            await connection.execute("SET application_name = 'left behind'")
        assert await backend_and_name(pool) == (pid, "left behind"), "no reset query ran"
        async with pool.acquire() as connection:
            assert await connection.fetchval("SELECT $1::int + 1", 41) == 42
    finally:
        await pool.close()


async def test_a_pool_that_resets_sessions_still_can(new_database) -> None:
    pool = await create_pool(await new_database(), max_size=1, keep_session=False)
    try:
        async with pool.acquire() as connection:
            pid = await connection.fetchval("SELECT pg_backend_pid()")
            await connection.execute("SET application_name = 'left behind'")
        assert await backend_and_name(pool) == (pid, "")
    finally:
        await pool.close()


async def test_what_a_transaction_sets_does_not_outlive_it(new_database) -> None:
    pool = await create_pool(await new_database(), max_size=1)
    try:
        async with pool.acquire() as connection, connection.transaction():
            await connection.execute("SET LOCAL application_name = 'in a transaction'")
            await connection.execute("SELECT pg_advisory_xact_lock(7)")
            await connection.execute("CREATE TEMP TABLE scratch (x int) ON COMMIT DROP")
        async with pool.acquire() as connection:  # and one left open at release
            await connection.execute("CREATE TABLE kept (x int)")
            await connection.transaction().start()
            await connection.execute("INSERT INTO kept VALUES (1)")
            await connection.execute("SET LOCAL application_name = 'never committed'")
        async with pool.acquire() as connection:
            assert not connection.is_in_transaction(), "an open transaction is rolled back"
            assert await connection.fetchval("SELECT count(*) FROM kept") == 0
            assert await connection.fetchval("SELECT current_setting('application_name')") == ""
            locks = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = $1"
            assert (
                await connection.fetchval(
                    locks, await connection.fetchval("SELECT pg_backend_pid()")
                )
                == 0
            )
            assert await connection.fetchval("SELECT to_regclass('pg_temp.scratch')") is None
    finally:
        await pool.close()
