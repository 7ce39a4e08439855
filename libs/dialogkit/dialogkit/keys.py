"""Data keys: one per customer, kept behind the `KeyStore` port (crypto-shredding).

The contacts service keeps them in its database (`PostgresKeyStore`); the other services ask
it for them over HTTP (`HttpKeyStore`); a KMS-backed store can replace either.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import asyncpg
import httpx
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import TypeAdapter

from dialog_schemas import CustomerId
from dialogkit import metrics
from dialogkit.http_metrics import PeerClient
from dialogkit.rounds import Rounds
from dialogkit.tokens import TokenSource

KEY_REQUEST_SECONDS = "dialog_data_key_request_seconds"  # asking the key service, by purpose


@dataclass(frozen=True)
class DataKey:
    key_id: str
    secret: bytes = field(repr=False)


class KeyStore(Protocol):
    async def key_for(self, customer_id: str, *, create: bool = False) -> DataKey | None:
        """The customer's data key; a new one when `create` and none exists; None once destroyed."""

    async def keys_for(
        self, customer_ids: Sequence[str], *, create: bool = False
    ) -> dict[str, DataKey | None]:
        """Each customer's data key, as `key_for` answers it, asked for in one go."""

    async def destroy(self, customer_id: str) -> bool:
        """Destroy the customer's key for good; True if there was one to destroy."""


BATCH_LIMIT = 1000
"""Customers per request for keys (the key service's limit)."""
_CUSTOMER_ID = TypeAdapter(CustomerId)


class KeyDestroyed(LookupError):
    """The customer's data key was destroyed (erasure): their personal data cannot be read."""


class InMemoryKeyStore:
    """A KeyStore for unit tests."""

    def __init__(self) -> None:
        self._keys: dict[str, DataKey | None] = {}

    async def key_for(self, customer_id: str, *, create: bool = False) -> DataKey | None:
        if customer_id not in self._keys and create:
            self._keys[customer_id] = new_key()
        return self._keys.get(customer_id)

    async def keys_for(
        self, customer_ids: Sequence[str], *, create: bool = False
    ) -> dict[str, DataKey | None]:
        return {c: await self.key_for(c, create=create) for c in customer_ids}

    async def destroy(self, customer_id: str) -> bool:
        existed = self._keys.get(customer_id) is not None
        self._keys[customer_id] = None
        return existed


class PostgresKeyStore:
    """Data keys in the owning service's database; a destroyed key leaves only its tombstone."""

    def __init__(self, pool: asyncpg.Pool | asyncpg.Connection) -> None:
        self._pool = pool

    async def key_for(self, customer_id: str, *, create: bool = False) -> DataKey | None:
        if create:
            fresh = new_key()
            await self._pool.execute(
                "INSERT INTO data_keys (customer_id, key_id, secret) VALUES ($1, $2, $3)"
                " ON CONFLICT (customer_id) DO NOTHING",
                customer_id,
                fresh.key_id,
                fresh.secret,
            )
        row = await self._pool.fetchrow(
            "SELECT key_id, secret FROM data_keys WHERE customer_id = $1", customer_id
        )
        if row is None or row["secret"] is None:
            return None
        return DataKey(row["key_id"], bytes(row["secret"]))

    async def keys_for(
        self, customer_ids: Sequence[str], *, create: bool = False
    ) -> dict[str, DataKey | None]:
        """One statement to make the missing keys (with `create`), one to read them all."""
        ids = list(dict.fromkeys(customer_ids))
        if create and ids:
            fresh = [new_key() for _ in ids]
            await self._pool.execute(
                "INSERT INTO data_keys (customer_id, key_id, secret)"
                " SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[])"
                " ON CONFLICT (customer_id) DO NOTHING",
                ids,
                [k.key_id for k in fresh],
                [k.secret for k in fresh],
            )
        rows = await self._pool.fetch(
            "SELECT customer_id, key_id, secret FROM data_keys WHERE customer_id = ANY($1::text[])",
            ids,
        )
        found = {
            r["customer_id"]: DataKey(r["key_id"], bytes(r["secret"]))
            for r in rows
            if r["secret"] is not None
        }
        return {c: found.get(c) for c in ids}

    async def destroy(self, customer_id: str) -> bool:
        result: str = await self._pool.execute(
            "UPDATE data_keys SET secret = NULL, destroyed_at = now()"
            " WHERE customer_id = $1 AND secret IS NOT NULL",
            customer_id,
        )
        if result.endswith(" 0"):  # never had one: leave a tombstone so none is made later
            await self._pool.execute(
                "INSERT INTO data_keys (customer_id, key_id, secret, destroyed_at)"
                " VALUES ($1, $2, NULL, now()) ON CONFLICT (customer_id) DO NOTHING",
                customer_id,
                new_key().key_id,
            )
            return False
        return True


class OncePerCall:
    """A key store's answers remembered for one call of the cipher."""

    def __init__(self, keys: KeyStore) -> None:
        self._keys = keys
        self._answers: dict[tuple[str, bool], DataKey | None] = {}

    async def key_for(self, customer_id: str, *, create: bool = False) -> DataKey | None:
        if (customer_id, create) not in self._answers:
            self._answers[customer_id, create] = await self._keys.key_for(
                customer_id, create=create
            )
        return self._answers[customer_id, create]

    async def keys_for(
        self, customer_ids: Sequence[str], *, create: bool = False
    ) -> dict[str, DataKey | None]:
        missing = [c for c in dict.fromkeys(customer_ids) if (c, create) not in self._answers]
        if missing:
            for customer_id, key in (await self._keys.keys_for(missing, create=create)).items():
                self._answers[customer_id, create] = key
        return {c: self._answers[c, create] for c in customer_ids}

    async def destroy(self, customer_id: str) -> bool:
        return await self._keys.destroy(customer_id)


class KeyServiceUnavailable(ConnectionError):
    """The service that keeps the data keys did not answer: an outage, retried like one."""


class HttpKeyStore:
    """Data keys asked of the contacts service, which keeps them; kept here for `cache_s`.

    Only found keys and destroyed answers are cached, and a key asked for in order to seal is
    always asked for afresh, so nothing new is sealed with a key destroyed meanwhile. Readers
    may open values with a cached key for up to `cache_s` after an erasure; the erasure event
    makes every read model drop the customer's personal data regardless.

    Concurrent `key_for` calls go in rounds (`dialogkit.rounds`), one `POST /v1/data-keys` per
    round for sealing and one for opening: calls made while a round is in flight wait for the
    next, which starts when it ends. A round answers only calls made before it began.
    """

    def __init__(
        self,
        base_url: str,
        token: TokenSource | str,
        *,
        cache_s: float = 30.0,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.peer = PeerClient(
            base_url,
            token,
            target="contacts",
            operation="data-key",
            timeout_s=timeout_s,
            transport=transport,
        )
        self._cache_s = cache_s
        self._cached: dict[str, tuple[float, DataKey | None]] = {}
        self._rounds = {
            create: Rounds[str, DataKey | None](
                partial(self._ask_chunk, create=create), max_keys=BATCH_LIMIT
            )
            for create in (False, True)
        }

    async def key_for(self, customer_id: str, *, create: bool = False) -> DataKey | None:
        """The customer's key (None if none was made, or once destroyed), from the next round
        to begin. Raises KeyServiceUnavailable; ValueError (pydantic's ValidationError) for an
        id that is not a customer id, without asking."""
        hit = self._cached.get(customer_id)
        if hit is not None and not create and time.monotonic() - hit[0] < self._cache_s:
            return hit[1]
        _CUSTOMER_ID.validate_python(customer_id)  # a malformed one would fail its whole round
        with metrics.timed(KEY_REQUEST_SECONDS, purpose="seal" if create else "open"):
            return await self._rounds[create].get(customer_id)

    async def keys_for(
        self, customer_ids: Sequence[str], *, create: bool = False
    ) -> dict[str, DataKey | None]:
        """Keys found in the cache (not when sealing), the rest asked in the same rounds as
        `key_for` (up to `BATCH_LIMIT` customers per `POST /v1/data-keys`), so concurrent
        callers of either share requests. Raises KeyServiceUnavailable; ValueError for an id
        that is not a customer id, without asking."""
        now, answers = time.monotonic(), dict[str, DataKey | None]()
        for customer_id in dict.fromkeys(customer_ids):
            hit = self._cached.get(customer_id)
            if hit is not None and not create and now - hit[0] < self._cache_s:
                answers[customer_id] = hit[1]
        asked = [c for c in dict.fromkeys(customer_ids) if c not in answers]
        for customer_id in asked:
            _CUSTOMER_ID.validate_python(customer_id)  # a malformed one would fail its round
        if asked:
            rounds = self._rounds[create]
            with metrics.timed(KEY_REQUEST_SECONDS, purpose="seal" if create else "open"):
                found = await rounds.get_many(asked)
            answers.update(zip(asked, found, strict=True))
        return {c: answers.get(c) for c in customer_ids}

    async def _ask_chunk(self, chunk: list[str], create: bool) -> dict[str, DataKey | None]:
        """Each customer's key (None if erased, or none was made), kept in the cache."""
        body = await self._ask("/v1/data-keys", {"customer_ids": chunk, "create": create})
        stamp, answers = time.monotonic(), dict[str, DataKey | None]()
        for found in body["keys"]:
            key = DataKey(found["key_id"], base64.b64decode(found["secret"]))
            self._cached[found["customer_id"]] = (stamp, key)
            answers[found["customer_id"]] = key
        for erased in body["erased"]:
            self._cached[erased] = (stamp, None)
            answers[erased] = None
        for missing in body["missing"]:
            answers[missing] = None  # none yet: nothing was ever sealed for this customer
        return answers

    async def _ask(self, path: str, body: dict[str, object]) -> dict[str, Any]:
        client = self.peer.client()
        try:
            response = await client.post(path, json=body)
        except httpx.HTTPError as error:
            raise KeyServiceUnavailable(f"data key service: {type(error).__name__}") from error
        if response.status_code != 200:
            raise KeyServiceUnavailable(f"data key service answered {response.status_code}")
        answer: dict[str, Any] = response.json()
        return answer

    async def destroy(self, customer_id: str) -> bool:
        raise PermissionError("data keys are destroyed by an erasure in the contacts service")


def new_key() -> DataKey:
    return DataKey(secrets.token_urlsafe(12), AESGCM.generate_key(bit_length=256))
