"""One contract, run against the in-memory and the PostgreSQL key store."""

from __future__ import annotations

import pytest

from dialogkit.keys import InMemoryKeyStore, KeyStore, PostgresKeyStore


@pytest.fixture(params=["memory", "postgres"])
async def key_store(request, new_database, pool_for) -> KeyStore:  # type: ignore[no-untyped-def]
    if request.param == "memory":
        return InMemoryKeyStore()
    return PostgresKeyStore(await pool_for(await new_database("contacts")))


async def test_a_key_is_made_once_and_kept(key_store: KeyStore) -> None:
    assert await key_store.key_for("c-1") is None
    made = await key_store.key_for("c-1", create=True)
    assert made is not None
    assert len(made.secret) == 32
    assert await key_store.key_for("c-1", create=True) == made
    assert await key_store.key_for("c-1") == made


async def test_a_destroyed_key_is_gone_for_good(key_store: KeyStore) -> None:
    await key_store.key_for("c-1", create=True)
    assert await key_store.destroy("c-1") is True
    assert await key_store.key_for("c-1") is None
    assert await key_store.key_for("c-1", create=True) is None, "erasure is not undone"
    assert await key_store.destroy("c-1") is False


async def test_erasing_a_customer_without_a_key_prevents_one(key_store: KeyStore) -> None:
    assert await key_store.destroy("c-9") is False
    assert await key_store.key_for("c-9", create=True) is None


async def test_a_service_token_without_the_data_key_scope_reads_no_key(
    data_keys_env: dict[str, str],
) -> None:
    """Against a running contacts API: only a token with `data-keys` gets a customer's key."""
    from dialogkit.pii import HttpKeyStore, KeyServiceUnavailable
    from tests.support import TOKEN, token

    contacts = data_keys_env["CONSENT_CONTACTS_URL"]
    reader = token("contacts:read", "contacts:read-personal", subject="service:consent")
    refused = HttpKeyStore(contacts, reader["Authorization"].removeprefix("Bearer "), cache_s=0)
    with pytest.raises(KeyServiceUnavailable, match="403"):
        await refused.key_for("c-keys-1", create=True)
    with pytest.raises(KeyServiceUnavailable, match="403"):
        await refused.key_for("c-keys-1")
    allowed = HttpKeyStore(contacts, TOKEN, cache_s=0)
    made = await allowed.key_for("c-keys-1", create=True)
    assert made is not None
    assert await allowed.key_for("c-keys-1") == made
    many = await HttpKeyStore(contacts, TOKEN, cache_s=0).keys_for(
        ["c-keys-1", "c-keys-2"], create=True
    )
    assert many["c-keys-1"] == made
    assert many["c-keys-2"] is not None
    with pytest.raises(KeyServiceUnavailable, match="403"):
        await refused.keys_for(["c-keys-1"], create=True)


async def test_keys_of_many_customers_are_made_and_read_in_one_go(key_store: KeyStore) -> None:
    await key_store.key_for("c-2", create=True)
    await key_store.destroy("c-3")
    assert await key_store.keys_for(["c-1", "c-2", "c-3"]) == {
        "c-1": None,
        "c-2": await key_store.key_for("c-2"),
        "c-3": None,
    }
    made = await key_store.keys_for(["c-1", "c-2", "c-3", "c-1"], create=True)
    assert made["c-1"] is not None
    assert made["c-1"] == await key_store.key_for("c-1")
    assert made["c-2"] == await key_store.key_for("c-2"), "an existing key is kept"
    assert made["c-3"] is None, "erasure is not undone"
    assert await key_store.keys_for([]) == {}


async def test_concurrent_asks_for_keys_go_to_contacts_in_rounds(
    data_keys_env: dict[str, str],
) -> None:
    """Against a running contacts API: 200 POSTs sealing at once cost one request, and each
    gets the key contacts keeps for its own customer."""
    import asyncio

    import httpx

    from dialogkit.pii import HttpKeyStore
    from tests.support import TOKEN

    sent: list[str] = []

    class Counting(httpx.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            sent.append(f"{request.method} {request.url.path}")
            return await super().handle_async_request(request)

    contacts = data_keys_env["CONSENT_CONTACTS_URL"]
    store = HttpKeyStore(contacts, TOKEN, cache_s=0, transport=Counting())
    customers = [f"c-rounds-{n}" for n in range(200)]
    sealing = await asyncio.gather(*(store.key_for(c, create=True) for c in customers))
    assert sent == ["POST /v1/data-keys"]
    assert None not in sealing
    assert len({k.key_id for k in sealing if k}) == 200, "a key of its own for each customer"
    opening = await HttpKeyStore(contacts, TOKEN, cache_s=0).keys_for(customers)
    assert [opening[c] for c in customers] == sealing
