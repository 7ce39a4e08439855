"""Batches that close when the stream goes quiet, fill up under a backlog, and lose nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from dialogkit.batching import idle_batches


async def steady(count: int, gap_s: float) -> AsyncIterator[int]:
    for n in range(count):
        if gap_s:
            await asyncio.sleep(gap_s)
        else:
            await asyncio.sleep(0)
        yield n


async def collect(source: AsyncIterator[int], **options: float) -> list[list[int]]:
    settings = {"max_items": 100, "idle_s": 0.02, "within_s": 5.0} | options
    return [
        batch
        async for batch in idle_batches(
            source,
            max_items=int(settings["max_items"]),
            idle_s=settings["idle_s"],
            within_s=settings["within_s"],
        )
    ]


async def test_a_backlog_fills_batches_to_the_maximum() -> None:
    batches = await collect(steady(1000, 0), max_items=100)
    assert [len(b) for b in batches] == [100] * 10
    assert [n for b in batches for n in b] == list(range(1000))


async def test_records_apart_by_more_than_the_idle_time_are_handed_over_alone() -> None:
    batches = await collect(steady(5, 0.1), idle_s=0.02)
    assert batches == [[0], [1], [2], [3], [4]]


async def test_a_batch_closes_at_its_window_even_while_records_keep_coming() -> None:
    batches = await collect(steady(40, 0.01), idle_s=0.05, within_s=0.1, max_items=1000)
    assert len(batches) > 1
    assert [n for b in batches for n in b] == list(range(40))


async def test_a_failing_source_hands_over_what_it_read_then_raises() -> None:
    async def failing() -> AsyncIterator[int]:
        yield 1
        yield 2
        raise ConnectionError("broker gone")

    seen: list[list[int]] = []

    async def read_all() -> None:
        async for batch in idle_batches(failing(), max_items=10, idle_s=0.01, within_s=1):
            seen.append(batch)

    with pytest.raises(ConnectionError, match="broker gone"):
        await read_all()
    assert seen == [[1, 2]]


async def test_the_worker_consumer_waits_for_records_as_long_as_its_setting_says() -> None:
    from dialogkit.worker import StreamWorker
    from interactions.config import Settings

    worker = StreamWorker("interactions", Settings(consumer_fetch_max_wait_ms=35), [])
    consumer = worker.app.consumer._thread._create_worker_consumer(worker.app.transport)
    try:
        assert consumer._fetch_max_wait_ms == 35
    finally:
        await consumer.stop()


async def test_while_the_reader_is_busy_a_batch_is_handed_over_only_when_full_or_it_is_free() -> (
    None
):
    async def five_then_quiet() -> AsyncIterator[int]:
        async for n in steady(5, 0):
            yield n
        await asyncio.Event().wait()

    ready = asyncio.Event()  # the reader is applying the batch before
    batches = idle_batches(
        five_then_quiet(), max_items=100, idle_s=0.01, within_s=0.02, ready=ready
    ).__aiter__()
    waiting = asyncio.ensure_future(batches.__anext__())
    await asyncio.sleep(0.1)  # well past the batch's window
    assert not waiting.done()
    ready.set()
    assert await asyncio.wait_for(waiting, 5) == [0, 1, 2, 3, 4]
    await batches.aclose()
    full = idle_batches(steady(10, 0), max_items=4, idle_s=1, within_s=5, ready=asyncio.Event())
    assert [b async for b in full][:2] == [[0, 1, 2, 3], [4, 5, 6, 7]]
