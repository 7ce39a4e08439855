"""Personal data in events, encrypted per customer: a data key each, AES-GCM, crypto-shredding.

Every field the schemas mark `Personal` is replaced on the wire by
`pii:v1:<key id>:<base64url(nonce | ciphertext)>`, the AES-256-GCM encryption of the field's JSON
value under the customer's data key, with customer id and field path as associated data (a value
cannot be moved to another customer or field). Destroying the key (erasure) makes every such
value in every stored event unreadable at once.

Keys are kept behind the `KeyStore` port: the contacts service keeps them in its database
(`PostgresKeyStore`); the other services ask it for them over HTTP (`HttpKeyStore`); a
KMS-backed store can replace either without touching the cipher.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Protocol

import asyncpg
import httpx
import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dialog_schemas import Envelope, Event, personal_fields
from dialog_schemas.catalog import event_types
from dialogkit import metrics
from dialogkit.http_metrics import TimedTransport
from dialogkit.rules import RuleViolation
from dialogkit.tokens import BearerAuth, StaticToken, TokenSource

PREFIX = "pii:v1:"
KEY_REQUEST_SECONDS = "dialog_data_key_request_seconds"  # asking the key service, by purpose
NONCE_BYTES = 12


@dataclass(frozen=True)
class DataKey:
    key_id: str
    secret: bytes = field(repr=False)


class KeyStore(Protocol):
    async def key_for(self, customer_id: str, *, create: bool = False) -> DataKey | None:
        """The customer's data key; a new one when `create` and none exists; None once destroyed."""

    async def destroy(self, customer_id: str) -> bool:
        """Destroy the customer's key for good; True if there was one to destroy."""


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


class _OncePerCall:
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
        self._transport = transport
        self._base_url = base_url.rstrip("/")
        self._auth = BearerAuth(StaticToken(token) if isinstance(token, str) else token)
        self._timeout_s = timeout_s
        self._cache_s = cache_s
        self._cached: dict[str, tuple[float, DataKey | None]] = {}
        self._client: httpx.AsyncClient | None = None

    def _connection(self) -> httpx.AsyncClient:
        """One client for the store's life: its connections are kept and reused."""
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self._base_url,
                auth=self._auth,
                timeout=self._timeout_s,
                transport=TimedTransport(
                    self._transport or httpx.AsyncHTTPTransport(), "contacts", "data-key"
                ),
            )
        return self._client

    async def key_for(self, customer_id: str, *, create: bool = False) -> DataKey | None:
        hit = self._cached.get(customer_id)
        if hit is not None and not create and time.monotonic() - hit[0] < self._cache_s:
            return hit[1]
        path = f"/v1/data-keys/{customer_id}"
        client = self._connection()
        try:
            with metrics.timed(KEY_REQUEST_SECONDS, purpose="seal" if create else "open"):
                response = await (client.post(path) if create else client.get(path))
        except httpx.HTTPError as error:
            raise KeyServiceUnavailable(f"data key service: {type(error).__name__}") from error
        if response.status_code == 404:
            return None  # none yet: nothing was ever sealed for this customer
        if response.status_code == 410:
            key = None
        elif response.status_code == 200:
            body = response.json()
            key = DataKey(body["key_id"], base64.b64decode(body["secret"]))
        else:
            raise KeyServiceUnavailable(f"data key service answered {response.status_code}")
        self._cached[customer_id] = (time.monotonic(), key)
        return key

    async def destroy(self, customer_id: str) -> bool:
        raise PermissionError("data keys are destroyed by an erasure in the contacts service")


@cache
def event_class(name: str) -> type[Event]:
    return event_types()[name]


def new_key() -> DataKey:
    return DataKey(secrets.token_urlsafe(12), AESGCM.generate_key(bit_length=256))


class PersonalDataCipher:
    """Seals and opens the personal fields of event data with the subject's data key."""

    def __init__(self, keys: KeyStore) -> None:
        self._keys = keys

    async def seal(self, customer_id: str, event: Event) -> dict[str, Any]:
        """The event's data as it goes on the wire: personal fields encrypted."""
        return await self.seal_data(customer_id, type(event), event.model_dump(mode="json"))

    async def seal_envelopes(self, envelopes: Sequence[Envelope]) -> list[Envelope]:
        """Envelopes with their personal fields sealed for their subject; each subject's key is
        asked for once per call."""
        batch = self.batch()
        sealed = []
        for envelope in envelopes:
            kind = event_class(envelope.type)
            data = await batch.seal_data(envelope.subject, kind, dict(envelope.data))
            sealed.append(envelope.model_copy(update={"data": data}))
        return sealed

    def batch(self) -> PersonalDataCipher:
        """A cipher for one batch: it asks for each customer's key once."""
        return PersonalDataCipher(_OncePerCall(self._keys))

    async def warm(self, customer_ids: Iterable[str], *, parallel: int = 8) -> None:
        """Ask for these customers' keys at once, `parallel` at a time, before opening a batch."""
        gate = asyncio.Semaphore(parallel)

        async def ask(customer_id: str) -> None:
            async with gate:
                await self._keys.key_for(customer_id)

        await asyncio.gather(*(ask(c) for c in set(customer_ids)))

    async def seal_data(
        self, customer_id: str, kind: type[Event], data: dict[str, Any]
    ) -> dict[str, Any]:
        """The data with each personal field of `kind` sealed; a value that already looks sealed
        must open with this customer's key, else RuleViolation naming the field."""
        present = [p for p in personal_fields(kind) if _get(data, p) is not None]
        if not present:
            return data
        key = await self._keys.key_for(customer_id, create=True)
        if key is None:
            raise KeyDestroyed(f"customer {customer_id} was erased; no personal data is recorded")
        for path in present:
            value = _get(data, path)
            if not str(value).startswith(PREFIX):
                _set(data, path, encrypt(key, customer_id, path, value))
            elif not opens(key, customer_id, path, value):
                raise RuleViolation(
                    path,
                    f"looks sealed ({PREFIX}...) but was not sealed for this customer;"
                    " send the plain value",
                )
        return data

    async def open(
        self, customer_id: str, data: Mapping[str, Any], kind: type[Event] | None = None
    ) -> dict[str, Any]:
        """Event data with its sealed personal fields decrypted (those `kind` declares; every
        sealed-looking value when no kind is given); KeyDestroyed after erasure."""
        opened: dict[str, Any] = orjson.loads(orjson.dumps(data))
        sealed = list(_sealed_paths(opened))
        if kind is not None:
            declared = set(personal_fields(kind))
            sealed = [p for p in sealed if p in declared]
        if not sealed:
            return opened
        key = await self._keys.key_for(customer_id)
        if key is None:
            raise KeyDestroyed(f"the data key of customer {customer_id} was destroyed")
        for path in sealed:
            _set(opened, path, decrypt(key, customer_id, path, _get(opened, path)))
        return opened


def is_sealed(event: Event) -> bool:
    """Whether any personal field of the event holds a sealed value (read from the model's
    attributes: dumping every event to find out cost a rebuild a tenth of its time)."""
    for path in _split_personal_fields(type(event)):
        value: Any = event
        for part in path:
            value = value.get(part) if isinstance(value, dict) else getattr(value, part, None)
            if value is None:
                break
        if isinstance(value, str) and value.startswith(PREFIX):
            return True
    return False


@cache
def _split_personal_fields(kind: type[Event]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(path.split(".")) for path in personal_fields(kind))


async def readable(cipher: PersonalDataCipher, customer_id: str, event: Event) -> Event:
    """The event with its personal fields opened; once the key is destroyed, blanked."""
    data = event.model_dump(mode="json")
    kind = type(event)
    declared = set(personal_fields(kind))
    sealed = [p for p in _sealed_paths(data) if p in declared]
    if not sealed:
        return event
    try:
        opened = await cipher.open(customer_id, data, kind)
    except KeyDestroyed:
        opened = data
        for path in sealed:
            field = kind.model_fields.get(path)
            _set(opened, path, field.default if field is not None else None)
    return kind.model_validate(opened)


def encrypt(key: DataKey, customer_id: str, path: str, value: Any) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key.secret).encrypt(nonce, orjson.dumps(value), _aad(customer_id, path))
    return f"{PREFIX}{key.key_id}:{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"


def decrypt(key: DataKey, customer_id: str, path: str, value: str) -> Any:
    key_id, _, body = value.removeprefix(PREFIX).partition(":")
    if key_id != key.key_id:
        raise KeyDestroyed(f"value sealed with key {key_id}, which this customer no longer has")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    try:
        plain = AESGCM(key.secret).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(customer_id, path)
        )
    except InvalidTag:
        raise ValueError(
            f"{path} does not belong to customer {customer_id} or was altered"
        ) from None
    return orjson.loads(plain)


def opens(key: DataKey, customer_id: str, path: str, value: str) -> bool:
    """Whether a sealed-looking value is one this customer's key sealed for this field."""
    try:
        decrypt(key, customer_id, path, value)
    except (KeyDestroyed, ValueError, binascii.Error):
        return False
    return True


def _aad(customer_id: str, path: str) -> bytes:
    return f"{customer_id}|{path}".encode()


def _get(data: Mapping[str, Any], path: str) -> Any:
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    target = data
    for part in parents:
        target = target[part]
    target[last] = value


def _sealed_paths(data: Any, prefix: str = "") -> Any:
    if isinstance(data, dict):
        for name, value in data.items():
            path = f"{prefix}{name}"
            if isinstance(value, str) and value.startswith(PREFIX):
                yield path
            elif isinstance(value, dict):
                yield from _sealed_paths(value, f"{path}.")
