"""Idempotency keys: a retried command repeats its first answer (IETF Idempotency-Key draft).

A key is recorded per command type and subject with the fingerprint of the request it was
first used with. While the first request runs the key is claimed (a retry meanwhile is 409);
once answered, a retry with the same request repeats the answer; the same key with another
request is refused with 422. A claim left by a process that died is taken over after
`STALE_CLAIM_S`, and the command runs again with the same derived ids, so it records nothing
twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

import orjson

STALE_CLAIM_S = 60.0


@dataclass(frozen=True)
class Recorded:
    """What a key holds: the request's fingerprint and, once answered, its events and answer."""

    fingerprint: str
    event_ids: list[UUID] | None = None
    answer: dict[str, Any] | None = None


class IdempotencyStore(Protocol):
    async def claim(
        self, command: str, subject: str, key: str, fingerprint: str
    ) -> Recorded | None:
        """Claim the key for this request: None when it is new to us, else what it holds."""

    async def complete(
        self, command: str, subject: str, key: str, event_ids: Sequence[UUID], answer: Any
    ) -> None:
        """Record the events and answer of the claimed key; `answer` is JSON-ready."""

    async def release(self, command: str, subject: str, key: str) -> None:
        """Drop an unanswered claim (the command failed) so that a retry runs it again."""


def fingerprint(document: Any) -> str:
    """SHA-256 of a request's canonical JSON (keys sorted): equal requests, equal prints."""
    return hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()


class InMemoryIdempotencyStore:
    """An IdempotencyStore in a dict, for unit tests."""

    def __init__(self) -> None:
        self._keys: dict[tuple[str, str, str], tuple[Recorded, datetime]] = {}

    async def claim(
        self, command: str, subject: str, key: str, fingerprint: str
    ) -> Recorded | None:
        now = datetime.now(UTC)
        held = self._keys.get((command, subject, key))
        stale = now - timedelta(seconds=STALE_CLAIM_S)
        if held is not None and (held[0].answer is not None or held[1] >= stale):
            return held[0]
        self._keys[(command, subject, key)] = (Recorded(fingerprint), now)
        return None

    async def complete(
        self, command: str, subject: str, key: str, event_ids: Sequence[UUID], answer: Any
    ) -> None:
        recorded, at = self._keys[(command, subject, key)]
        answered = Recorded(
            recorded.fingerprint, list(event_ids), orjson.loads(orjson.dumps(answer))
        )
        self._keys[(command, subject, key)] = (answered, at)

    async def release(self, command: str, subject: str, key: str) -> None:
        held = self._keys.get((command, subject, key))
        if held is not None and held[0].answer is None:
            del self._keys[(command, subject, key)]


class PostgresIdempotencyStore:
    """Keys in the service's own database (`idempotency_keys`)."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    async def claim(
        self, command: str, subject: str, key: str, fingerprint: str
    ) -> Recorded | None:
        for _ in range(3):  # a claim released between the two statements frees the key again
            claimed = await self._claim(command, subject, key, fingerprint)
            if claimed is not None:
                return claimed if isinstance(claimed, Recorded) else None
        raise RuntimeError(f"idempotency key {key!r} could not be claimed or read")

    async def _claim(
        self, command: str, subject: str, key: str, fingerprint: str
    ) -> Recorded | bool | None:
        """True when claimed now; what the key holds; None if it vanished meanwhile."""
        claimed = await self._pool.fetchval(
            "INSERT INTO idempotency_keys (command, subject, key, fingerprint)"
            " VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (command, subject, key) DO UPDATE"
            " SET fingerprint = excluded.fingerprint, created_at = now()"
            " WHERE idempotency_keys.answer IS NULL"
            " AND idempotency_keys.created_at < now() - make_interval(secs => $5)"
            " RETURNING true",
            command,
            subject,
            key,
            fingerprint,
            STALE_CLAIM_S,
        )
        if claimed:
            return True
        row = await self._pool.fetchrow(
            "SELECT fingerprint, event_ids, answer FROM idempotency_keys"
            " WHERE command = $1 AND subject = $2 AND key = $3",
            command,
            subject,
            key,
        )
        if row is None:
            return None
        answer = orjson.loads(row["answer"]) if row["answer"] is not None else None
        return Recorded(row["fingerprint"], row["event_ids"], answer)

    async def complete(
        self, command: str, subject: str, key: str, event_ids: Sequence[UUID], answer: Any
    ) -> None:
        await self._pool.execute(
            "UPDATE idempotency_keys SET event_ids = $4, answer = $5::jsonb"
            " WHERE command = $1 AND subject = $2 AND key = $3",
            command,
            subject,
            key,
            list(event_ids),
            orjson.dumps(answer).decode(),
        )

    async def release(self, command: str, subject: str, key: str) -> None:
        await self._pool.execute(
            "DELETE FROM idempotency_keys"
            " WHERE command = $1 AND subject = $2 AND key = $3 AND answer IS NULL",
            command,
            subject,
            key,
        )
