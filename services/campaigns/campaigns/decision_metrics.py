"""The dispatch decisions as metrics: outreach authorized, blocked, deferred, cancelled and
dispatched, why, and on which channel for which purpose.

Labels are bounded sets only (the schemas' enumerations): never a customer or campaign id. A
round's decisions count once its transaction committed, so a rolled-back round counts nothing; a
request counts `dispatched` (or `cancelled`, `no_contact_point`) once the broker acknowledged it
and its `OutreachDispatched` (`OutreachCancelled`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol
from uuid import UUID

import orjson
from prometheus_client import Counter, Histogram

from dialog_schemas import Envelope, Event
from dialog_schemas.campaigns import (
    OutreachAuthorized,
    OutreachBlocked,
    OutreachCancelled,
    OutreachDeferred,
    OutreachDispatched,
)
from dialog_schemas.catalog import event_types

DECISIONS = Counter(
    "dialog_outreach_decisions_total",
    "Outreach decisions by outcome and reason (block, deferral or cancellation; empty for"
    " authorized and dispatched), by the campaign's channel and purpose.",
    ["outcome", "reason", "channel", "purpose"],
)
ROUND_SECONDS = Histogram(
    "dialog_dispatch_round_duration_seconds",
    "A dispatch round: taking a batch of due outreach to its committed decisions.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
OUTCOMES: dict[type[Event], str] = {
    OutreachAuthorized: "authorized",
    OutreachBlocked: "blocked",
    OutreachDeferred: "deferred",
    OutreachCancelled: "cancelled",
    OutreachDispatched: "dispatched",
}
_BY_TYPE = {name: OUTCOMES[kind] for name, kind in event_types().items() if kind in OUTCOMES}


class Due(Protocol):
    @property
    def outreach_id(self) -> UUID: ...

    @property
    def purpose(self) -> Any: ...


def decided(rows: Sequence[Due], events: Iterable[tuple[Any, ...]], seconds: float) -> None:
    """Count a committed round: `rows` it took, the outbox `events` it wrote (rows of
    `outbox.event_row`), `seconds` it took."""
    purposes = {str(r.outreach_id): str(r.purpose) for r in rows}
    for event in events:
        envelope = orjson.loads(event[1])
        count(envelope["type"], envelope["data"], purposes)
    ROUND_SECONDS.observe(seconds)


def relayed(published: Iterable[tuple[Envelope, str]]) -> None:
    """Count outcomes the relay published: each event with its request's purpose."""
    for envelope, purpose in published:
        count(envelope.type, envelope.data, {str(envelope.correlationid): purpose})


def count(event_type: str, data: Mapping[str, Any], purposes: Mapping[str, str]) -> None:
    """Count one outreach event (others are ignored); its purpose from the event or from
    `purposes` by outreach id (a cancellation does not carry it)."""
    outcome = _BY_TYPE.get(event_type)
    if outcome is None:
        return
    purpose = data.get("purpose") or purposes.get(str(data["outreach_id"]), "")
    DECISIONS.labels(
        outcome=outcome,
        reason=data.get("reason") or "",
        channel=data["channel"],
        purpose=purpose,
    ).inc()
