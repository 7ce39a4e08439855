"""The port consent asks whether a granted contact point was erased: fake and HTTP adapter."""

from __future__ import annotations

import httpx
import pytest

from devstack.processes import free_port
from dialogkit.erasures import HttpErasedContactPoints, InMemoryErasedContactPoints
from dialogkit.problems import Problem

MATCH = {"contact_point_hash": "h1", "channels": ["phone", "sms"], "erased_at": "2026-11-01"}


async def test_the_fake_answers_what_it_holds_and_nothing_else() -> None:
    erased = InMemoryErasedContactPoints({"+4915177482508": [MATCH]})
    assert await erased.matches("+4915177482508") == [MATCH]
    assert await erased.matches("+4930123456") == []


async def test_contacts_that_cannot_be_asked_is_a_503_problem_naming_it() -> None:
    erased = HttpErasedContactPoints(f"http://127.0.0.1:{free_port()}", "token", timeout_s=2)
    with pytest.raises(Problem) as raised:
        await erased.matches("erika@example.org")
    assert raised.value.status == 503
    assert raised.value.title == "Contacts unavailable"


async def test_the_http_adapter_keeps_one_client_and_every_call_is_observed() -> None:
    from prometheus_client import REGISTRY

    asked: list[tuple[str, str | None, bytes]] = []

    def contacts(request: httpx.Request) -> httpx.Response:
        asked.append((request.url.path, request.headers.get("authorization"), request.content))
        found = [MATCH] if b"+4915177482508" in request.content else []
        return httpx.Response(200, json={"matches": found})

    labels = {"target": "contacts", "operation": "POST suppression", "outcome": "2xx"}
    before = REGISTRY.get_sample_value("dialog_service_call_duration_seconds_count", labels) or 0
    erased = HttpErasedContactPoints(
        "http://contacts", "t0ken", transport=httpx.MockTransport(contacts)
    )
    assert await erased.matches("+4915177482508") == [MATCH]
    assert await erased.matches("erika@example.org") == []
    client = erased.peer.client()
    assert erased.peer.client() is client, "one client, its connections reused"
    assert [(path, auth) for path, auth, _ in asked] == [
        ("/v1/contact-points/suppression", "Bearer t0ken")
    ] * 2
    assert b'"email_addresses"' in asked[1][2]
    after = REGISTRY.get_sample_value("dialog_service_call_duration_seconds_count", labels)
    assert after == before + 2
