"""How the data-subject export reads the other services: pages, absences and failures."""

from __future__ import annotations

import httpx
import pytest

from contacts.export import Peer
from dialogkit.problems import Problem


def peer(answer: httpx.MockTransport) -> Peer:
    return Peer("interactions", httpx.AsyncClient(base_url="http://peer", transport=answer))


async def test_a_listing_is_read_to_its_last_page() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url.params))
        if "cursor" not in request.url.params:
            return httpx.Response(200, json={"entries": [1, 2], "next_cursor": "c2"})
        return httpx.Response(200, json={"entries": [3], "next_cursor": None})

    assert await peer(httpx.MockTransport(answer)).pages("/timeline", "entries") == [1, 2, 3]
    assert seen == ["limit=500", "limit=500&cursor=c2"]


async def test_a_service_that_holds_nothing_gives_an_empty_part() -> None:
    nothing = httpx.MockTransport(lambda request: httpx.Response(404, json={}))
    assert await peer(nothing).get("/consents") is None
    assert await peer(nothing).pages("/timeline", "entries") == []


async def test_a_service_that_fails_fails_the_export_and_is_named() -> None:
    broken = httpx.MockTransport(lambda request: httpx.Response(500, json={}))
    with pytest.raises(Problem) as failed:
        await peer(broken).get("/timeline")
    assert (failed.value.status, failed.value.extensions) == (502, {"service": "interactions"})
    assert "answered 500 to /timeline" in failed.value.detail

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(Problem) as away:
        await peer(httpx.MockTransport(refuse)).get("/timeline")
    assert away.value.status == 503
    assert "interactions service could not be asked (ConnectError" in away.value.detail
