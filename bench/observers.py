"""Observers of one touchpoint's way: a plain consumer on the topic, a read-model watcher."""

from __future__ import annotations

import asyncio
import contextlib
import time
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition


class Tap:
    """A plain aiokafka consumer (fetch wait 5 ms) noting when each event id reaches it."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.seen: dict[str, float] = {}
        self._waiting: dict[str, asyncio.Event] = {}
        self._task: asyncio.Task[None] | None = None

    def expect(self, event_id: str) -> asyncio.Event:
        """Set once the event id has reached the tap (at once if it has already)."""
        arrived = self._waiting.setdefault(event_id, asyncio.Event())
        if event_id in self.seen:
            arrived.set()
        return arrived

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=None, fetch_max_wait_ms=5
        )
        await consumer.start()
        await consumer.topics()
        partitions = [
            TopicPartition(self.topic, p) for p in consumer.partitions_for_topic(self.topic) or ()
        ]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for tp in partitions:
            await consumer.position(tp)
        self._task = asyncio.create_task(self._run(consumer))

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        try:
            while True:
                fetched = await consumer.getmany(timeout_ms=100)
                now = time.perf_counter()
                for records in fetched.values():
                    for record in records:
                        for name, value in record.headers:
                            if name == "ce_id":
                                self.seen.setdefault(value.decode(), now)
                                if (arrived := self._waiting.get(value.decode())) is not None:
                                    arrived.set()
        finally:
            await consumer.stop()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class Watcher:
    """Polls the read model every `interval_s` for the timeline entries still awaited."""

    def __init__(self, dsn: str, interval_s: float = 0.002) -> None:
        self.dsn = dsn
        self.interval_s = interval_s
        self.found: dict[UUID, float] = {}
        self._awaited: dict[UUID, asyncio.Event] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._connection = await asyncpg.connect(self.dsn)
        self._task = asyncio.create_task(self._run())

    def expect(self, entry_id: UUID) -> asyncio.Event:
        return self._awaited.setdefault(entry_id, asyncio.Event())

    async def _run(self) -> None:
        while True:
            waiting = [i for i, e in self._awaited.items() if not e.is_set()]
            if waiting:
                rows = await self._connection.fetch(
                    "SELECT entry_id FROM timeline_entries WHERE entry_id = ANY($1)", waiting
                )
                now = time.perf_counter()
                for row in rows:
                    self.found[row["entry_id"]] = now
                    self._awaited[row["entry_id"]].set()
            await asyncio.sleep(self.interval_s)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._connection.close()
