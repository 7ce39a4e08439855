"""One contract, run against the in-memory and the PostgreSQL stores of the command path."""

from __future__ import annotations

from uuid import uuid4

import pytest

from dialogkit.applied import AppliedPositions, InMemoryAppliedPositions, PostgresAppliedPositions
from dialogkit.idempotency import (
    IdempotencyStore,
    InMemoryIdempotencyStore,
    PostgresIdempotencyStore,
    Recorded,
)
from dialogkit.publishing import Position


@pytest.fixture(params=["memory", "postgres"])
async def store(request, new_database, pool_for) -> IdempotencyStore:  # type: ignore[no-untyped-def]
    if request.param == "memory":
        return InMemoryIdempotencyStore()
    return PostgresIdempotencyStore(await pool_for(await new_database()))


async def test_a_new_key_is_claimed_once_and_then_holds_its_request(
    store: IdempotencyStore,
) -> None:
    assert await store.claim("Grant", "c-1", "k", "print-1") is None
    assert await store.claim("Grant", "c-1", "k", "print-2") == Recorded("print-1")


async def test_an_answered_key_gives_back_its_events_and_answer(store: IdempotencyStore) -> None:
    ids = [uuid4(), uuid4()]
    await store.claim("Grant", "c-1", "k", "print-1")
    await store.complete("Grant", "c-1", "k", ids, {"applied": True, "answer": {"n": 1}})
    assert await store.claim("Grant", "c-1", "k", "print-1") == Recorded(
        "print-1", ids, {"applied": True, "answer": {"n": 1}}
    )


async def test_keys_are_per_command_and_subject(store: IdempotencyStore) -> None:
    await store.claim("Grant", "c-1", "k", "print-1")
    assert await store.claim("Grant", "c-2", "k", "print-1") is None
    assert await store.claim("Withdraw", "c-1", "k", "print-1") is None


async def test_a_released_claim_frees_the_key_but_an_answer_stays(
    store: IdempotencyStore,
) -> None:
    await store.claim("Grant", "c-1", "k", "print-1")
    await store.release("Grant", "c-1", "k")
    assert await store.claim("Grant", "c-1", "k", "print-2") is None
    await store.complete("Grant", "c-1", "k", [], {"applied": False, "answer": {}})
    await store.release("Grant", "c-1", "k")
    assert (await store.claim("Grant", "c-1", "k", "print-2")) is not None


@pytest.fixture(params=["memory", "postgres"])
async def applied(request, new_database, pool_for) -> AppliedPositions:  # type: ignore[no-untyped-def]
    if request.param == "memory":
        fake = InMemoryAppliedPositions()
        fake.advance("p", Position("t", 0, 9))
        return fake
    pool = await pool_for(await new_database())
    await pool.execute(
        "INSERT INTO projection_positions (projection, topic, partition, next_offset)"
        " VALUES ('p', 't', 0, 10)"
    )
    return PostgresAppliedPositions(pool)


async def test_positions_are_passed_once_the_projection_read_beyond_them(
    applied: AppliedPositions,
) -> None:
    assert await applied.passed("p", [Position("t", 0, 9), Position("t", 0, 3)])
    assert not await applied.passed("p", [Position("t", 0, 10)])
    assert not await applied.passed("p", [Position("t", 1, 0)]), "another partition"
    assert not await applied.passed("other", [Position("t", 0, 0)])
