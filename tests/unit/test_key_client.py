"""The HTTP key client: concurrent asks for keys go in rounds of one batch request each."""

from __future__ import annotations

import asyncio
from base64 import b64encode
from typing import Any

import httpx
import orjson
import pytest

from dialogkit.keys import DataKey, HttpKeyStore, KeyServiceUnavailable, new_key
from dialogkit.retry import TRANSIENT_ERRORS


class Contacts:
    """The batch key route of the contacts service, as a mock transport: made keys, erasures,
    and the requests it was sent."""

    def __init__(self) -> None:
        self.keys: dict[str, DataKey] = {}
        self.erased: set[str] = set()
        self.requests: list[str] = []
        self.bodies: list[dict[str, Any]] = []
        self.status = 200

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.answer)

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(
            f"{request.method} {request.url.path} {request.headers['authorization']}"
        )
        body = orjson.loads(request.content)
        self.bodies.append(body)
        if self.status != 200:
            return httpx.Response(self.status)
        answer: dict[str, list[Any]] = {"keys": [], "erased": [], "missing": []}
        for customer_id in body["customer_ids"]:
            if customer_id in self.erased:
                answer["erased"].append(customer_id)
                continue
            if body["create"] and customer_id not in self.keys:
                self.keys[customer_id] = new_key()
            key = self.keys.get(customer_id)
            if key is None:
                answer["missing"].append(customer_id)
            else:
                secret = b64encode(key.secret).decode()
                found = {"customer_id": customer_id, "key_id": key.key_id, "secret": secret}
                answer["keys"].append(found)
        return httpx.Response(200, json=answer)


async def test_concurrent_asks_for_keys_cost_one_request_per_round() -> None:
    contacts = Contacts()
    store = HttpKeyStore("http://contacts/", "t0ken", transport=contacts.transport())
    customers = [f"c-{n}" for n in range(200)]
    sealing = await asyncio.gather(*(store.key_for(c, create=True) for c in customers))
    assert sealing == [contacts.keys[c] for c in customers], "each caller gets its own key"
    assert contacts.requests == ["POST /v1/data-keys Bearer t0ken"]
    assert contacts.bodies[0] == {"customer_ids": customers, "create": True}


async def test_sealing_always_asks_and_readers_keep_found_keys_briefly() -> None:
    contacts = Contacts()
    contacts.keys["c-1"] = key = new_key()
    store = HttpKeyStore("http://contacts", "t", transport=contacts.transport())
    assert await store.key_for("c-1") == key
    assert await store.key_for("c-1") == key  # from the cache
    assert len(contacts.requests) == 1
    assert await store.key_for("c-1", create=True) == key
    assert await store.key_for("c-1", create=True) == key
    assert [b["create"] for b in contacts.bodies] == [False, True, True], "sealing always asks"


async def test_a_key_destroyed_after_a_sealing_round_is_not_used_by_the_next() -> None:
    contacts = Contacts()
    store = HttpKeyStore("http://contacts", "t", transport=contacts.transport())
    assert await store.key_for("c-1", create=True) is not None
    contacts.erased.add("c-1")
    assert await store.key_for("c-1", create=True) is None, "the erasure wins at once"


async def test_each_caller_of_a_round_gets_its_own_answer() -> None:
    contacts = Contacts()
    contacts.keys["found"] = key = new_key()
    contacts.erased.add("erased")
    store = HttpKeyStore("http://contacts", "t", cache_s=0, transport=contacts.transport())
    answers = await asyncio.gather(
        store.key_for("found"),
        store.key_for("erased"),
        store.key_for("never-sealed"),
        store.key_for("not a customer id"),
        return_exceptions=True,
    )
    assert answers[:3] == [key, None, None]
    assert isinstance(answers[3], ValueError), "a malformed id fails its own caller"
    assert contacts.bodies == [
        {"customer_ids": ["found", "erased", "never-sealed"], "create": False}
    ], "and is never sent, so it cannot fail the round"


async def test_an_unavailable_key_service_fails_that_rounds_callers_only() -> None:
    contacts = Contacts()
    store = HttpKeyStore("http://contacts", "t", cache_s=0, transport=contacts.transport())
    contacts.status = 500
    failed = await asyncio.gather(
        store.key_for("c-1", create=True), store.key_for("c-2", create=True), return_exceptions=True
    )
    assert [str(e) for e in failed] == ["data key service answered 500"] * 2
    assert all(isinstance(e, KeyServiceUnavailable) for e in failed)
    assert issubclass(KeyServiceUnavailable, TRANSIENT_ERRORS), "an outage is retried, not skipped"
    contacts.status = 200
    assert await store.key_for("c-1", create=True) == contacts.keys["c-1"]


async def test_an_unreachable_key_service_is_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    store = HttpKeyStore("http://contacts", "t", transport=httpx.MockTransport(refuse))
    with pytest.raises(KeyServiceUnavailable, match="ConnectError"):
        await store.key_for("c-1", create=True)
    with pytest.raises(PermissionError, match="erasure in the contacts service"):
        await store.destroy("c-1")


async def test_concurrent_batch_asks_share_rounds_with_single_asks() -> None:
    """`keys_for` (what sealing a command's events uses) goes in the same rounds as `key_for`:
    200 commands sealing at once cost one request, not 200."""
    contacts = Contacts()
    store = HttpKeyStore("http://contacts/", "t0ken", transport=contacts.transport())
    customers = [f"c-{n}" for n in range(200)]
    found = await asyncio.gather(
        *(store.keys_for([c], create=True) for c in customers[:150]),
        *(store.key_for(c, create=True) for c in customers[150:]),
    )
    assert found[:150] == [{c: contacts.keys[c]} for c in customers[:150]]
    assert found[150:] == [contacts.keys[c] for c in customers[150:]]
    assert len(contacts.requests) == 1
    assert sorted(contacts.bodies[0]["customer_ids"]) == sorted(customers)


async def test_a_batch_larger_than_a_request_goes_in_several_rounds() -> None:
    from dialogkit.keys import BATCH_LIMIT

    contacts = Contacts()
    store = HttpKeyStore("http://contacts/", "t0ken", transport=contacts.transport())
    customers = [f"c-{n}" for n in range(BATCH_LIMIT * 2 + 1)]
    found = await store.keys_for(customers + customers[:3], create=True)
    assert found == {c: contacts.keys[c] for c in customers}
    assert [len(body["customer_ids"]) for body in contacts.bodies] == [BATCH_LIMIT, BATCH_LIMIT, 1]


async def test_a_malformed_customer_id_in_a_batch_is_refused_without_asking() -> None:
    contacts = Contacts()
    store = HttpKeyStore("http://contacts/", "t0ken", transport=contacts.transport())
    with pytest.raises(ValueError, match="validation error"):
        await store.keys_for(["c-1", "not/an id"], create=True)
    assert contacts.requests == []


async def test_peer_requests_find_their_async_library_without_searching_for_modules() -> None:
    """httpcore asks sniffio which async library runs each request; without sniffio installed
    that is a failing import, a search of every path entry, on every request to a peer."""
    import sys
    from importlib.abc import MetaPathFinder

    from httpcore._synchronization import current_async_library

    searched: list[str] = []

    class Recorder(MetaPathFinder):
        def find_spec(self, name: str, *_: object) -> None:
            searched.append(name)

    sys.meta_path.insert(0, Recorder())
    try:
        assert all(current_async_library() == "asyncio" for _ in range(100))
    finally:
        del sys.meta_path[0]
    assert searched == []
