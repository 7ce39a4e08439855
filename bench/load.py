"""Load generation: an HTTP client cheap enough per request that the figures measure the
server, an open loop that keeps its schedule, and the arithmetic of latencies and metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from bench.tokens import AUTH
from dialogkit.http_metrics import CLIENT_KEEPALIVE_S

IN_FLIGHT = 64
"""Requests a load generator has open at once, each on a kept-alive connection of its own; more
wait in its own queue (a FIFO), so a request's time in the generator counts in its latency."""

TIMEOUT_S = 300
"""A request's whole time, queue included: long enough that a saturated API is measured as
slow, not as failing."""


class ResponseError(Exception):
    """A response with a status of 400 or more where the caller wanted success."""


@dataclass(frozen=True)
class Response:
    """A read response: status and body bytes (the connection is back in the pool)."""

    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode()

    def json(self) -> Any:
        """The body as JSON; raises orjson.JSONDecodeError if it is not."""
        return orjson.loads(self.content)

    def raise_for_status(self) -> None:
        """Raises ResponseError for a status of 400 or more."""
        if self.status_code >= 400:
            raise ResponseError(f"{self.status_code}: {self.text[:200]}")


Params = Mapping[str, str | int]


class Requests:
    """An HTTP client for load on one base URL (with the bench's token): at most `in_flight`
    requests open, the rest queued in arrival order (asyncio's semaphore wakes its waiters
    first in, first out). Idle connections are dropped after CLIENT_KEEPALIVE_S, well before
    the APIs close them (SERVER_KEEPALIVE_S), so no request goes out on a closing connection.
    Build it inside a running event loop."""

    def __init__(self, base: str, in_flight: int = IN_FLIGHT) -> None:
        self.base = base.rstrip("/")
        self.gate = asyncio.Semaphore(in_flight)
        self.session = aiohttp.ClientSession(
            headers=AUTH,
            connector=aiohttp.TCPConnector(
                limit=in_flight, limit_per_host=in_flight, keepalive_timeout=CLIENT_KEEPALIVE_S
            ),
            timeout=aiohttp.ClientTimeout(total=TIMEOUT_S),
            json_serialize=lambda value: orjson.dumps(value).decode(),
        )

    async def get(self, path: str, *, params: Params | None = None) -> Response:
        """GET base+path; raises aiohttp.ClientError on a transport failure."""
        return await self.request("GET", path, params=params)

    async def post(self, path: str, *, json: Any = None, params: Params | None = None) -> Response:
        """POST a JSON body to base+path; raises aiohttp.ClientError on a transport failure."""
        return await self.request("POST", path, json=json, params=params)

    async def request(
        self, method: str, path: str, *, json: Any = None, params: Params | None = None
    ) -> Response:
        """Waits its turn in the FIFO, then sends; the body is read before the turn ends."""
        async with self.gate:
            return await self.send(method, path, json, params)

    async def send(self, method: str, path: str, json: Any, params: Params | None) -> Response:
        url = self.base + path
        async with self.session.request(method, url, json=json, params=params) as response:
            return Response(response.status, await response.read())

    async def __aenter__(self) -> Requests:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.session.close()


async def open_loop(
    rate: float, seconds: float, one: Callable[[int, float], Coroutine[Any, Any, None]]
) -> None:
    """Start `one(n, scheduled)` at `scheduled` = every 1/rate s (perf_counter), however long
    earlier ones take, and wait for all; latencies count from `scheduled`, so time spent queued
    in the generator is counted, not hidden."""
    tasks: list[asyncio.Task[None]] = []
    start = time.perf_counter()
    for n in range(max(int(rate * seconds), 1)):
        scheduled = start + n / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n, scheduled)))
    await asyncio.gather(*tasks)


def percentile(values: list[float], share: float) -> float:
    """The `share` (0-1) percentile, nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text exposition as {'name{labels}': value}; comments skipped."""
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, number = line.rpartition(" ")
            found[name] = float(number)
    return found


async def scrape(url: str) -> dict[str, float]:
    """A process's /metrics as {'name{labels}': value}."""
    async with Requests(url, in_flight=1) as client:
        return parse_metrics((await client.get("/metrics")).text)


def mean_seconds(before: dict[str, float], after: dict[str, float], prefix: str) -> float | None:
    """Mean of a summary's observations between two scrapes, over every label set it has."""
    total = sum(v - before.get(k, 0) for k, v in after.items() if k.startswith(prefix + "_sum"))
    count = sum(v - before.get(k, 0) for k, v in after.items() if k.startswith(prefix + "_count"))
    return total / count if count else None
