"""Rounds: concurrent asks for values by key, answered by one batch request per round.

While a round is in flight, new asks wait and go together in the next round, which starts as
soon as a round ends (no timer: a lone ask is sent at once). A round answers only the asks made
before it began, so nothing is answered from an earlier request: there is no caching across
time, only sharing among asks that waited together.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Ask = Callable[[list[K]], Awaitable[Mapping[K, V | BaseException]]]
"""The batch request: distinct keys in, an answer (or an exception) per key out."""


class Unanswered(LookupError):
    """The round's answer named no outcome for this key."""


class Rounds(Generic[K, V]):
    """Coalesces `get(key)` calls into rounds of one `ask(keys)` each.

    At most `in_flight` rounds run at once; a round takes at most `max_keys` keys (the rest
    wait for the next). Each caller gets its key's answer or exception; an exception raised by
    `ask` fails that round's callers only; a cancelled caller leaves the others and the round
    untouched (its key is left out if no one else still waits for it).
    """

    def __init__(self, ask: Ask[K, V], *, in_flight: int = 1, max_keys: int = 1000) -> None:
        if in_flight < 1 or max_keys < 1:
            raise ValueError("in_flight and max_keys must be at least 1")
        self._ask = ask
        self._in_flight = in_flight
        self._max_keys = max_keys
        self._waiting: dict[K, list[asyncio.Future[V]]] = {}
        self._running: set[asyncio.Task[None]] = set()

    async def get(self, key: K) -> V:
        """The answer for `key` from the next round to begin; raises what the round gave it."""
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(future)
        self._start()
        return await future

    async def get_many(self, keys: Sequence[K]) -> list[V]:
        """The answers for `keys`, in order, from the rounds to begin (a round takes at most
        `max_keys` of them; the rest go in the next). Raises the first exception a round gave
        one of them. Cheaper than one `get` per key: one future each, no task."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[V]] = []
        for key in keys:
            future: asyncio.Future[V] = loop.create_future()
            self._waiting.setdefault(key, []).append(future)
            futures.append(future)
        self._start()
        # gather over futures makes no tasks; cancelled, it cancels each of them
        return list(await asyncio.gather(*futures))

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        # a round of an event loop that is gone will never end: do not wait for it
        self._running = {t for t in self._running if not t.done() and t.get_loop() is loop}
        if self._waiting and len(self._running) < self._in_flight:
            # the round takes the keys waiting when it begins, not those waiting now
            self._running.add(loop.create_task(self._round()))

    def _take(self) -> dict[K, list[asyncio.Future[V]]]:
        taken: dict[K, list[asyncio.Future[V]]] = {}
        for key in list(self._waiting):
            if len(taken) == self._max_keys:
                break
            live = [f for f in self._waiting.pop(key) if not f.done()]
            if live:
                taken[key] = live
        return taken

    async def _round(self) -> None:
        taken = self._take()
        self._start()  # with room for another round, the keys left over go at once
        try:
            if taken:
                answers = await self._ask(list(taken))
                for key, futures in taken.items():
                    answer = answers[key] if key in answers else Unanswered(repr(key))
                    for future in futures:
                        if future.done():
                            continue
                        if isinstance(answer, BaseException):
                            future.set_exception(answer)
                        else:
                            future.set_result(answer)
        except Exception as error:
            for futures in taken.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(error)
        finally:
            for futures in taken.values():
                for future in futures:
                    future.cancel()  # a no-op unless the round itself was stopped midway
            self._running.discard(asyncio.current_task())
            self._start()
