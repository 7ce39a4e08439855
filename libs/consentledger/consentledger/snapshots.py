"""A customer's folded consent state kept in the read model: questions about now fold only
the events after it.

A snapshot is the fold of the customer's whole history (`state_as_of(history)`) up to the
history row at (`partition`, `kafka_offset`), with `through`, the latest effective time of the
events folded. It answers a question about time T exactly as the full fold does when T is None
(now) or at or after `through`: every folded event had taken effect by then, so the filter by
time drops none of them. Earlier questions (§7a proof of what held then) fold the history.

It is not used, and the history is folded instead, for a customer in a merge (survivor or
duplicate: the duplicate's rows join the survivor's history out of offset order), for an erased
customer (erasure removes contact points from the history; the snapshot is deleted with them),
for a history in several partitions (no snapshot is kept of it; see `Snapshot.kept`) and for a
snapshot written in another `FORMAT`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from consentledger.domain import Consent, ConsentState, Objection, Purchase
from dialog_schemas.common import Channel, CustomerKind, Purpose
from dialog_schemas.consent import Evidence

FORMAT = 1
"""The encoding's version: snapshots of another are ignored (and rewritten by the projection)."""


@dataclass(frozen=True)
class Snapshot:
    state: ConsentState
    partition: int
    kafka_offset: int
    through: datetime | None
    kept: bool = True
    """False for the fold of a history in several partitions: "after its position" would miss
    rows of the other partitions, so it is not kept."""


def encode(state: ConsentState) -> bytes:
    """The state as JSON (times ISO 8601 with offset, ids as strings)."""
    return orjson.dumps(
        {
            "consents": [_consent(c) for c in state.consents.values()],
            "objection": None
            if state.objection is None
            else [
                str(state.objection.objection_id),
                state.objection.objected_at,
                state.objection.lifted_at,
            ],
            "channel_objections": {c.value: t for c, t in state.channel_objections.items()},
            "suppressed": {c.value: t for c, t in state.suppressed.items()},
            "kind": None if state.kind is None else state.kind.value,
            "kind_since": state.kind_since,
            "purchases": [
                [
                    p.purchase_id,
                    p.category,
                    p.purchased_at,
                    p.email_obtained,
                    p.objection_notice_given,
                ]
                for p in state.purchases
            ],
            "erased_at": state.erased_at,
        }
    )


@functools.lru_cache(maxsize=8192)
def decode(data: str) -> ConsentState:
    """The state `encode` wrote (as text). The same text gives the same state, which is
    immutable: decoded states are kept for the customers asked about most recently."""
    raw = orjson.loads(data)
    consents = [_consent_of(c) for c in raw["consents"]]
    objection = raw["objection"]
    return ConsentState(
        consents={c.consent_id: c for c in consents},
        objection=None
        if objection is None
        else Objection(UUID(objection[0]), _at(objection[1]), _time(objection[2])),
        channel_objections={Channel(c): _at(t) for c, t in raw["channel_objections"].items()},
        suppressed={Channel(c): _at(t) for c, t in raw["suppressed"].items()},
        kind=None if raw["kind"] is None else CustomerKind(raw["kind"]),
        kind_since=_time(raw["kind_since"]),
        purchases=tuple(Purchase(p[0], p[1], _at(p[2]), p[3], p[4]) for p in raw["purchases"]),
        erased_at=_time(raw["erased_at"]),
    )


def _consent(c: Consent) -> dict[str, Any]:
    return {
        "consent_id": str(c.consent_id),
        "channel": c.channel.value,
        "purpose": c.purpose.value,
        "evidence": c.evidence.model_dump(mode="json"),
        "contact_point": c.contact_point,
        "pending": c.pending,
        "lifts_objection": c.lifts_objection,
        "confirmed_at": c.confirmed_at,
        "revoked_at": c.revoked_at,
        "expired_at": c.expired_at,
        "last_used_at": c.last_used_at,
        "token_sha256": c.token_sha256,
    }


def _consent_of(c: dict[str, Any]) -> Consent:
    return Consent(
        consent_id=UUID(c["consent_id"]),
        channel=Channel(c["channel"]),
        purpose=Purpose(c["purpose"]),
        evidence=Evidence.model_validate(c["evidence"]),
        contact_point=c["contact_point"],
        pending=c["pending"],
        lifts_objection=c["lifts_objection"],
        confirmed_at=_time(c["confirmed_at"]),
        revoked_at=_time(c["revoked_at"]),
        expired_at=_time(c["expired_at"]),
        last_used_at=_time(c["last_used_at"]),
        token_sha256=c["token_sha256"],
    )


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


async def save(connection: asyncpg.Connection, snapshots: Mapping[str, Snapshot]) -> None:
    """Keep these customers' snapshots, in the caller's transaction (the projection's that
    recorded the events they fold); customers in a merge or erased, and histories in several
    partitions (`kept` false, their earlier snapshot dropped), are left without one."""
    await forget(connection, [c for c, s in snapshots.items() if not s.kept])
    await connection.executemany(
        "INSERT INTO consent_snapshots (customer_id, format, state, partition, kafka_offset,"
        " through) SELECT $1, $2, $3::jsonb, $4, $5, $6"
        " WHERE NOT EXISTS (SELECT 1 FROM customer_merges WHERE duplicate = $1 OR survivor = $1)"
        " AND NOT EXISTS (SELECT 1 FROM customer_facts WHERE customer_id = $1"
        "  AND erased_at IS NOT NULL)"
        " ON CONFLICT (customer_id) DO UPDATE SET format = excluded.format,"
        " state = excluded.state, partition = excluded.partition,"
        " kafka_offset = excluded.kafka_offset, through = excluded.through",
        [
            (c, FORMAT, encode(s.state).decode(), s.partition, s.kafka_offset, s.through)
            for c, s in snapshots.items()
            if s.kept
        ],
    )


async def forget(connection: asyncpg.Connection, customers: Sequence[str]) -> None:
    """Drop these customers' snapshots (erasure, merges): their history is folded instead."""
    await connection.execute(
        "DELETE FROM consent_snapshots WHERE customer_id = ANY($1::text[])", list(customers)
    )


async def usable(connection: asyncpg.Connection, customers: Sequence[str]) -> dict[str, Snapshot]:
    """These customers' snapshots that may be folded on (current format, no merge, not erased)."""
    rows = await connection.fetch(
        "SELECT s.customer_id, s.state, s.partition, s.kafka_offset, s.through"
        " FROM consent_snapshots s WHERE s.customer_id = ANY($1::text[]) AND s.format = $2"
        " AND NOT EXISTS (SELECT 1 FROM customer_merges m"
        "  WHERE m.duplicate = s.customer_id OR m.survivor = s.customer_id)"
        " AND NOT EXISTS (SELECT 1 FROM customer_facts f WHERE f.customer_id = s.customer_id"
        "  AND f.erased_at IS NOT NULL)",
        list(customers),
        FORMAT,
    )
    return {
        r["customer_id"]: Snapshot(
            decode(r["state"]), r["partition"], r["kafka_offset"], r["through"]
        )
        for r in rows
    }
