"""How a worker's agents handle their stream: in batches, each in two steps, overlapped.

Decoding a batch is work for the processor; applying it is mostly waiting for the database. A
worker that does one after the other leaves the processor idle during every commit; `overlapped`
decodes (prepares) batch n + 1 while batch n is being applied. Batches are still applied one at a
time and in order: batch n + 1 starts only once batch n is durable and `done` was told of it. An
application that fails ends the loop with its error as soon as it fails, not when the next batch
arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from faust.types import EventT, StreamT

from dialogkit import metrics
from dialogkit.batching import idle_batches
from dialogkit.config import ServiceSettings
from dialogkit.projection import BatchOutcome
from dialogkit.records import SourceRecord

T = TypeVar("T")
P = TypeVar("P")
BATCH_SECONDS = "dialog_batch_seconds"  # handing a batch to its handler until it is durable
BATCH_RECORDS = "dialog_batch_records_total"
Events = list[EventT[bytes]]


def source_record(event: EventT[bytes]) -> SourceRecord:
    """A faust event as the record the handlers read."""
    message = event.message
    headers = message.headers or ()
    items = headers.items() if isinstance(headers, Mapping) else headers
    return SourceRecord(
        message.topic,
        message.partition,
        message.offset,
        message.key,
        message.value,
        tuple((k, v if isinstance(v, bytes) else bytes(v)) for k, v in items),
    )


def source_records(events: Events) -> list[SourceRecord]:
    """`source_record` of each event, in order."""
    return [source_record(e) for e in events]


class BatchHandler(Protocol):
    async def handle(self, records: Sequence[SourceRecord]) -> BatchOutcome:
        """Process a batch; return only once its effects are durable."""


@dataclass(frozen=True)
class Steps:
    """How an agent handles a batch of faust events: `prepare` (synchronous: reading and
    decoding them), then `apply` (returns once the batch's effects are durable)."""

    prepare: Callable[[Events], Any]
    apply: Callable[[Any], Awaitable[object]]

    @classmethod
    def of(cls, handler: BatchHandler) -> Steps:
        """A handler that does both in one step: its records handed over as they are."""
        return cls(source_records, handler.handle)


def batch_agent(
    name: str, topic: str, settings: ServiceSettings, make: Callable[[], Steps]
) -> Callable[[StreamT[bytes]], Awaitable[None]]:
    """A faust agent function: batches by `idle_batches` (the settings' `batch_*`), `Steps`
    made by `make` at the first batch (once the worker's resources are up), the next batch
    prepared while one is applied (`overlapped`), each event acknowledged once its batch is
    durable. `name` labels the metrics (`consumer`), `topic` the consumed events."""

    async def process(stream: StreamT[bytes]) -> None:
        steps: Steps | None = None
        stream.enable_acks = False  # acknowledged below, once a batch is durable

        def prepare(events: Events) -> tuple[Steps, int, Any]:
            nonlocal steps
            steps = steps or make()
            metrics.EVENTS_CONSUMED.labels(consumer=name, topic=topic).inc(len(events))
            return steps, len(events), steps.prepare(events)

        async def apply(prepared: tuple[Steps, int, Any]) -> None:
            made, count, batch = prepared
            with metrics.timed(BATCH_SECONDS, consumer=name):
                await made.apply(batch)
            metrics.increment(BATCH_RECORDS, count, consumer=name)

        async def acknowledge(events: Events) -> None:
            for event in events:
                await stream.ack(event)

        free = asyncio.Event()  # no batch being applied: the next may close before it is full
        free.set()
        batches = idle_batches(
            stream.events(),
            max_items=settings.batch_max,
            idle_s=settings.batch_idle_s,
            within_s=settings.batch_within_s,
            ready=free,
        )
        await overlapped(batches, prepare, apply, acknowledge, free)

    return process


class _Applying(Generic[T]):
    """The batch being applied, and the task applying it."""

    def __init__(self, batch: list[T], task: asyncio.Task[None]) -> None:
        self.batch = batch
        self.task = task


async def overlapped(
    batches: AsyncIterable[list[T]],
    prepare: Callable[[list[T]], P],
    apply: Callable[[P], Awaitable[object]],
    done: Callable[[list[T]], Awaitable[None]],
    free: asyncio.Event | None = None,
) -> None:
    """Apply every batch of `batches` in order, preparing each while the one before is applied.

    `prepare` is synchronous (decoding); `apply` must return once the batch's effects are
    durable; `done` (acknowledging) runs after `apply` returned, before the next `apply` starts.
    `free`, if given, is set while no batch is being applied (`idle_batches`' `ready`).
    Raises what `apply` or `done` raised, once it did; on cancellation the batch being applied
    is cancelled with it.
    """
    loop_task = asyncio.current_task()
    failed: list[BaseException] = []

    def watch(task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        failed.append(task.exception())  # type: ignore[arg-type]
        if loop_task is not None:
            loop_task.cancel()  # stop waiting for the next batch: the stream must stop now

    async def apply_then_done(prepared: P, batch: list[T]) -> None:
        try:
            await apply(prepared)
            await done(batch)
        finally:
            if free is not None:
                free.set()

    applying: _Applying[T] | None = None
    try:
        async for batch in batches:
            prepared = prepare(batch)
            if applying is not None:
                await applying.task
            if free is not None:
                free.clear()
            task = asyncio.create_task(apply_then_done(prepared, batch))
            task.add_done_callback(watch)
            applying = _Applying(batch, task)
        if applying is not None:
            await applying.task
            applying = None
    except asyncio.CancelledError:
        if failed:
            if loop_task is not None:
                loop_task.uncancel()  # the cancellation was ours, to deliver the failure
            raise failed[0] from None
        raise
    finally:
        if applying is not None and not applying.task.done():
            applying.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await applying.task
