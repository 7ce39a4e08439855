"""The consent service's read model: history plus each customer's state, published compacted."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from uuid import UUID, uuid5

import asyncpg

from consentledger.domain import effective_at, state_as_of
from consentledger.projections import record_history
from consentledger.store import histories
from dialog_schemas import Envelope, Event
from dialog_schemas.catalog import CONSENT_EVENTS, CONSENT_STATE
from dialog_schemas.consent import ConsentStateChanged, ConsentSummary
from dialogkit.projection import Decoded
from dialogkit.publishing import EventPublisher

SNAPSHOT_NAMESPACE = UUID("c1d0a4f3-2b6e-4e55-9f0c-5a8d7e3b2c19")


def snapshot(history: Sequence[Event], expiry: timedelta) -> ConsentStateChanged:
    """The customer's consent state after the last event of `history`."""
    times = [t for t in map(effective_at, history) if t is not None]
    as_of = max(times)
    state = state_as_of(history)
    return ConsentStateChanged(
        as_of=as_of,
        objection=state.objecting,
        consents=[
            ConsentSummary(
                consent_id=c.consent_id,
                channel=c.channel,
                purpose=c.purpose,
                status=state.status(c, as_of, expiry),
                granted_at=c.granted_at,
                last_used_at=c.last_used_at,
            )
            for c in sorted(state.consents.values(), key=lambda c: (c.granted_at, c.consent_id))
        ],
        suppressed_channels=sorted(state.suppressed),
    )


class ConsentStateProjection:
    """Keeps every consent event per customer and each customer's current state.

    After each batch the state of every customer it touched is recomputed from the history and
    published on the compacted `consent.state.v1`, inside the transaction: if the commit fails,
    the batch is retried and the state published again, which a compacted topic absorbs.
    """

    name = "consent.history"
    source = CONSENT_EVENTS

    def __init__(self, publisher: EventPublisher, expiry: timedelta) -> None:
        self._publisher = publisher
        self._expiry = expiry

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        await record_history(connection, events)
        last = {d.envelope.subject: d.envelope for d in events}
        states = await histories(connection, last)
        snapshots = {c: snapshot(history, self._expiry) for c, history in states.items()}
        await connection.executemany(
            "INSERT INTO consent_state (customer_id, as_of, state) VALUES ($1, $2, $3::jsonb)"
            " ON CONFLICT (customer_id)"
            " DO UPDATE SET as_of = excluded.as_of, state = excluded.state",
            [(c, s.as_of, s.model_dump_json()) for c, s in snapshots.items()],
        )
        await self._publisher.publish(
            CONSENT_STATE.name,
            [
                Envelope.wrap(
                    s,
                    id=uuid5(SNAPSHOT_NAMESPACE, str(last[c].id)),
                    source="/consent/worker",
                    subject=c,
                    time=s.as_of,
                    correlationid=last[c].correlationid,
                    causationid=last[c].id,
                )
                for c, s in snapshots.items()
            ],
        )
