"""Batches of stream records that close as soon as the stream goes quiet.

A projection commits a batch in one transaction, so under load it wants large batches; a lone
record, though, should not wait for a window to fill. `idle_batches` reads the source in a
background task while the previous batch is being applied and hands over what has gathered when
`max_items` are in, when no record arrived for `idle_s`, or `within_s` after the batch's first
record, whichever comes first. Under a backlog records arrive faster than `idle_s`, so batches
grow to `max_items`; a record that arrives alone is handed over after `idle_s`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from typing import Generic, TypeVar

T = TypeVar("T")


class _Gatherer(Generic[T]):
    """Reads the source into a list of at most `max_items`, pausing while it is full."""

    def __init__(self, max_items: int) -> None:
        self.max_items = max_items
        self.items: list[T] = []
        self.arrived = asyncio.Event()
        self.full = asyncio.Event()
        self.room = asyncio.Event()
        self.room.set()
        self.ended = False
        self.failure: Exception | None = None

    async def fill(self, source: AsyncIterable[T]) -> None:
        try:
            async for item in source:
                self.items.append(item)
                self.arrived.set()
                if len(self.items) >= self.max_items:
                    self.full.set()
                    self.room.clear()
                    await self.room.wait()
        except Exception as error:
            self.failure = error
        finally:
            self.ended = True
            self.arrived.set()
            self.full.set()

    def take(self) -> list[T]:
        taken, self.items = self.items, []
        self.full.clear()
        self.room.set()
        return taken


async def idle_batches(
    source: AsyncIterable[T],
    *,
    max_items: int,
    idle_s: float,
    within_s: float,
    ready: asyncio.Event | None = None,
) -> AsyncIterator[list[T]]:
    """Lists of at most `max_items` items of `source`, in order; seconds as floats.

    The gathering of a batch wakes once per `idle_s`, not once per item. While `ready` is
    given and not set (the reader is still busy with the batch before), a batch is handed over
    only once it is full: closing it early would make batches smaller without applying anything
    sooner. Raises whatever reading `source` raised, after handing over the items read before it.
    """
    gatherer: _Gatherer[T] = _Gatherer(max_items)
    filler = asyncio.create_task(gatherer.fill(source))
    loop = asyncio.get_running_loop()
    try:
        while True:
            while not gatherer.items and not gatherer.ended:
                gatherer.arrived.clear()
                await gatherer.arrived.wait()
            deadline = loop.time() + within_s
            if ready is not None and not ready.is_set():
                await _first(gatherer.full, ready)
            while not gatherer.full.is_set():
                seen = len(gatherer.items)
                wait = min(idle_s, deadline - loop.time())
                if wait <= 0:
                    break
                try:
                    await asyncio.wait_for(gatherer.full.wait(), wait)
                except TimeoutError:
                    if len(gatherer.items) == seen:
                        break  # nothing arrived for idle_s: the stream is quiet
            if gatherer.items:
                yield gatherer.take()
            if gatherer.ended and not gatherer.items:
                if gatherer.failure is not None:
                    raise gatherer.failure
                return
    finally:
        filler.cancel()
        await asyncio.gather(filler, return_exceptions=True)


async def _first(*events: asyncio.Event) -> None:
    """Wait until one of `events` is set."""
    waits = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
