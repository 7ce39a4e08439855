"""Read models of the consent service, and the compacted state topic published with them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from uuid import UUID, uuid5

import asyncpg

from consent.domain import effective_at, state_as_of
from consent.store import histories
from dialog_schemas import Envelope, Event
from dialog_schemas.catalog import CONSENT_EVENTS, CONSENT_STATE, CONTACTS_EVENTS
from dialog_schemas.consent import ConsentStateChanged, ConsentSummary
from dialog_schemas.contacts import ContactRegistered, ProductPurchased
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
                status=c.status(as_of, expiry),
                granted_at=c.granted_at,
                last_used_at=c.last_used_at,
            )
            for c in sorted(state.consents.values(), key=lambda c: (c.granted_at, c.consent_id))
        ],
        suppressed_channels=sorted(state.suppressed),
    )


class ConsentHistoryProjection:
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
        await connection.executemany(
            "INSERT INTO consent_history (event_id, customer_id, type, schema_version,"
            " effective_at, recorded_at, source, correlation_id, causation_id, data, partition,"
            " kafka_offset) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12)"
            " ON CONFLICT (event_id) DO NOTHING",
            [
                (
                    d.envelope.id,
                    d.envelope.subject,
                    d.envelope.type,
                    d.event.schema_version,
                    effective_at(d.event),
                    d.envelope.time,
                    d.envelope.source,
                    d.envelope.correlationid,
                    d.envelope.causationid,
                    d.event.model_dump_json(),
                    d.record.partition,
                    d.record.offset,
                )
                for d in events
            ],
        )
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


class CustomerFactsProjection:
    """From the contacts topic, what eligibility needs: kind (consumer, business), purchases."""

    name = "consent.customer-facts"
    source = CONTACTS_EVENTS

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        registered = [d for d in events if isinstance(d.event, ContactRegistered)]
        purchased = [d for d in events if isinstance(d.event, ProductPurchased)]
        await connection.executemany(
            "INSERT INTO customer_facts (customer_id, kind, registered_at) VALUES ($1, $2, $3)"
            " ON CONFLICT (customer_id) DO NOTHING",
            [(d.envelope.subject, d.event.kind.value, d.event.registered_at) for d in registered],  # type: ignore[attr-defined]
        )
        await connection.executemany(
            "INSERT INTO customer_purchases (event_id, customer_id, purchase_id, category,"
            " purchased_at, email_obtained, objection_notice_given)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING",
            [_purchase_row(d) for d in purchased],
        )


def _purchase_row(decoded: Decoded) -> tuple[object, ...]:
    event = decoded.event
    assert isinstance(event, ProductPurchased)
    return (
        decoded.envelope.id,
        decoded.envelope.subject,
        event.purchase_id,
        event.category,
        event.purchased_at,
        event.email_address is not None,
        event.objection_notice_given,
    )
