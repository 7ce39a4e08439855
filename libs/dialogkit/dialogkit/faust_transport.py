"""faust's Kafka transport, with the worker consumer's fetch wait taken from the settings.

faust-streaming 0.15.3 builds its worker consumer with a fixed `fetch_max_wait_ms=1500`: a fetch
that finds no new records waits up to that long at the broker, so a fresh event waits about
0.4 s (p50) to 0.75 s (p99) before an agent sees it. faust has no setting for it. It does find
its transports by URL scheme through the `faust.transports` entry point group, its documented
extension point: this package registers the scheme `dialogkafka` there (see
libs/dialogkit/pyproject.toml), and the worker names it in its broker URL. The transport is
faust's own aiokafka transport; only the fetch wait of the consumer it builds differs.

faust's table manager also waits a fixed second when it starts, for tables defined after the app
started, and the consumer subscribes only after it: a second of every worker start. A worker
defines all its tables before it starts, so its table manager (the `TableManager` setting) goes
on at once.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import faust
from faust.tables import manager as faust_tables
from faust.transport.drivers import aiokafka as faust_aiokafka

SCHEME = "dialogkafka"
DEFAULT_FETCH_MAX_WAIT_MS = 1500


class App(faust.App):
    """A faust app that carries the consumer fetch wait its transport applies."""

    def __init__(self, *args: Any, fetch_max_wait_ms: int, **kwargs: Any) -> None:
        self.fetch_max_wait_ms = fetch_max_wait_ms
        super().__init__(*args, **kwargs)


def fetch_max_wait_ms(app: Any) -> int:
    """The fetch wait for an app's worker consumer, in milliseconds (faust's 1500 elsewhere)."""
    wait = getattr(app, "fetch_max_wait_ms", DEFAULT_FETCH_MAX_WAIT_MS)
    return int(wait)


class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka hands this attribute to its fetcher when the consumer starts
        consumer._fetch_max_wait_ms = fetch_max_wait_ms(self.app)
        return consumer


class Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> ConsumerThread:
        loop: asyncio.AbstractEventLoop = self.loop
        return ConsumerThread(self, loop=loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    Consumer: ClassVar[type[Consumer]] = Consumer


class TableManager(faust_tables.TableManager):
    """faust's table manager without its fixed wait of a second before the consumer subscribes."""

    async def on_start(self) -> None:
        # faust's own on_start, less its `await self.sleep(1.0)`: every table of a worker is
        # defined before the app starts (a later one is refused: "Too late to add tables")
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()
