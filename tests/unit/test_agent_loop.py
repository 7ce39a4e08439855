"""Batches decoded while the last one is applied: in order, one at a time, failures at once."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator

import pytest

from dialogkit.agent_loop import overlapped
from dialogkit.projection import collector_paused


async def listed(batches: list[list[int]], then_wait: bool = False) -> AsyncIterator[list[int]]:
    for batch in batches:
        await asyncio.sleep(0)
        yield batch
    if then_wait:  # a stream that goes quiet without ending
        await asyncio.Event().wait()


async def test_the_next_batch_is_prepared_while_the_last_is_applied_and_applied_after_it() -> None:
    log: list[str] = []
    applying = asyncio.Event()

    def prepare(batch: list[int]) -> list[int]:
        log.append(f"prepare {batch[0]}")
        return batch

    async def apply(batch: list[int]) -> None:
        log.append(f"apply {batch[0]}")
        applying.set()
        await asyncio.sleep(0.01)  # the database's round trip
        log.append(f"applied {batch[0]}")

    async def done(batch: list[int]) -> None:
        log.append(f"done {batch[0]}")

    await overlapped(listed([[1], [2], [3]]), prepare, apply, done)

    assert log == [
        "prepare 1",
        "apply 1",
        "prepare 2",  # while batch 1 is in the database
        "applied 1",
        "done 1",
        "apply 2",
        "prepare 3",
        "applied 2",
        "done 2",
        "apply 3",
        "applied 3",
        "done 3",
    ]


async def test_a_failed_application_ends_the_loop_at_once_though_no_batch_follows() -> None:
    async def apply(batch: list[int]) -> None:
        raise ConnectionError("database gone")

    async def done(batch: list[int]) -> None:
        raise AssertionError("a failed batch must not be acknowledged")

    loop = asyncio.create_task(overlapped(listed([[1]], then_wait=True), list, apply, done))
    with pytest.raises(ConnectionError, match="database gone"):
        await asyncio.wait_for(loop, 5)


async def test_stopping_the_loop_cancels_the_batch_being_applied_unacknowledged() -> None:
    started, acknowledged = asyncio.Event(), []
    cancelled = asyncio.Event()

    async def apply(batch: list[int]) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def done(batch: list[int]) -> None:
        acknowledged.append(batch)

    loop = asyncio.create_task(overlapped(listed([[1]], then_wait=True), list, apply, done))
    await started.wait()
    loop.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop
    assert cancelled.is_set()
    assert acknowledged == []


def test_the_collector_is_paused_for_a_step_and_left_as_it_was() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # someone else turned it off: it stays off
    finally:
        gc.enable()
