"""The bench's load generator: a bounded number of requests in flight, the rest served first in,
first out; an open loop that keeps its schedule; latencies' percentiles; metrics arithmetic."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from bench.load import (
    Requests,
    Response,
    ResponseError,
    mean_seconds,
    open_loop,
    parse_metrics,
    percentile,
)


class HeldRequests(Requests):
    """Requests whose sending waits until the test lets each one finish (no sockets)."""

    def __init__(self, in_flight: int) -> None:
        super().__init__("http://127.0.0.1:9", in_flight=in_flight)
        self.open = 0
        self.most_open = 0
        self.sent: list[str] = []
        self.release: dict[str, asyncio.Event] = {}

    async def send(self, method: str, path: str, json: Any, params: Any) -> Response:
        self.sent.append(path)
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        await self.release.setdefault(path, asyncio.Event()).wait()
        self.open -= 1
        return Response(200, b"{}")


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_at_most_in_flight_requests_are_open_and_the_rest_go_out_in_arrival_order() -> None:
    async with HeldRequests(in_flight=3) as client:
        paths = [f"/r{n}" for n in range(10)]
        tasks = [asyncio.create_task(client.get(p)) for p in paths]
        await settle()
        assert client.sent == paths[:3]
        for finished in [paths[1], paths[0], paths[2], *paths[3:]]:  # out of order at first
            client.release.setdefault(finished, asyncio.Event()).set()
            await settle()
            assert client.open <= 3
        responses = await asyncio.gather(*tasks)
    assert client.sent == paths
    assert client.most_open == 3
    assert [r.status_code for r in responses] == [200] * 10


async def test_a_post_waits_in_the_same_queue_as_a_get() -> None:
    async with HeldRequests(in_flight=1) as client:
        first = asyncio.create_task(client.get("/a"))
        second = asyncio.create_task(client.post("/b", json={"x": 1}))
        await settle()
        assert client.sent == ["/a"]
        client.release["/a"].set()
        client.release["/b"] = asyncio.Event()
        client.release["/b"].set()
        await asyncio.gather(first, second)
    assert client.sent == ["/a", "/b"]


def test_a_response_gives_its_body_as_text_and_json_and_raises_on_an_error_status() -> None:
    ok = Response(202, b'{"event_id": "e"}')
    assert ok.json() == {"event_id": "e"}
    assert ok.text == '{"event_id": "e"}'
    ok.raise_for_status()
    with pytest.raises(ResponseError, match="503"):
        Response(503, b"unavailable").raise_for_status()


async def test_the_open_loop_starts_each_call_at_its_own_time_in_order() -> None:
    started: list[tuple[int, float]] = []

    async def one(n: int, scheduled: float) -> None:
        started.append((n, scheduled))

    await open_loop(1000, 0.01, one)
    assert [n for n, _ in started] == list(range(10))
    gaps = [later - earlier for (_, earlier), (_, later) in itertools.pairwise(started)]
    assert gaps == pytest.approx([0.001] * 9)


async def test_the_open_loop_runs_one_call_even_below_one_per_run() -> None:
    calls: list[int] = []

    async def one(n: int, _: float) -> None:
        calls.append(n)

    await open_loop(1, 0.1, one)
    assert calls == [0]


def test_percentiles_are_the_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile(values, 1.0) == 100
    assert percentile(values, 0.0) == 1
    assert percentile([7.0], 0.99) == 7
    assert percentile([], 0.99) == 0


def test_metrics_are_parsed_and_a_summarys_mean_is_taken_between_two_scrapes() -> None:
    before = parse_metrics(
        "# HELP x_seconds a summary\n"
        'x_seconds_sum{route="a"} 1.0\nx_seconds_count{route="a"} 10\n'
        'x_seconds_sum{route="b"} 0.5\nx_seconds_count{route="b"} 5\n'
    )
    after = parse_metrics(
        'x_seconds_sum{route="a"} 2.0\nx_seconds_count{route="a"} 20\n'
        'x_seconds_sum{route="b"} 3.5\nx_seconds_count{route="b"} 15\n'
        'x_seconds_sum{route="c"} 0.5\nx_seconds_count{route="c"} 10\n'
    )
    assert before['x_seconds_count{route="a"}'] == 10
    assert mean_seconds(before, after, "x_seconds") == pytest.approx(4.5 / 30)
    assert mean_seconds(after, after, "x_seconds") is None
