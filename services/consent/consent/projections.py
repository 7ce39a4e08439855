"""The consent service's read model: history plus each customer's state, published compacted."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID, uuid5

import asyncpg

from consent import ledger
from consent.config import SERVICE
from consent.tables import CUSTOMER_TABLES
from consentledger import snapshots
from consentledger.domain import ConsentState
from consentledger.projections import record_history
from consentledger.store import fold
from dialog_schemas import Envelope
from dialog_schemas.catalog import CONSENT_EVENTS, CONSENT_STATE, CONTACTS_EVENTS
from dialog_schemas.consent import ConsentStateChanged, ConsentSummary
from dialog_schemas.contacts import ContactsMerged
from dialogkit.emitter import Emitter
from dialogkit.ledger import LedgerSigner
from dialogkit.merges import survivor_of, survivors
from dialogkit.projection import Decoded, of_type
from dialogkit.publishing import EventPublisher

SNAPSHOT_NAMESPACE = UUID("c1d0a4f3-2b6e-4e55-9f0c-5a8d7e3b2c19")
WORKER = Emitter(SERVICE, "worker")


def snapshot(state: ConsentState, as_of: datetime, expiry: timedelta) -> ConsentStateChanged:
    """The customer's consent state (the fold of its whole history) at `as_of`, the latest
    effective time in it."""
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
    the batch is retried and the state published again, which a compacted topic absorbs. With a
    `signer` (the worker always has one) it also keeps the §7a ledger (`consent.ledger`).
    """

    name = "consent.history"
    source = CONSENT_EVENTS
    customer_tables = CUSTOMER_TABLES

    def __init__(
        self, publisher: EventPublisher, expiry: timedelta, signer: LedgerSigner | None = None
    ) -> None:
        self._publisher = publisher
        self._expiry = expiry
        self._signer = signer

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        await record_history(connection, events)
        if self._signer is not None:
            await ledger.append(connection, events, self._signer)

    async def after_merges(
        self, connection: asyncpg.Connection, events: Sequence[Decoded], customers: list[str]
    ) -> None:
        """Each touched customer's state, from the history as merges left it, is published."""
        owners = await survivors(connection, (d.envelope.subject for d in events))
        last = {owners[d.envelope.subject]: d.envelope for d in events}
        await publish_states(connection, self._publisher, self._expiry, last)


class MergedConsentState:
    """After a merge the survivor's state includes the duplicate's consents: published anew.

    Reads the contacts topic for `ContactsMerged`; the runner moves the duplicate's history to
    the survivor in this projection's own transaction too (whichever projection of the topic
    comes first), then this recomputes and publishes the survivor's state and drops the
    duplicate's.
    """

    name = "consent.merged-state"
    source = CONTACTS_EVENTS
    customer_tables = CUSTOMER_TABLES

    def __init__(self, publisher: EventPublisher, expiry: timedelta) -> None:
        self._publisher = publisher
        self._expiry = expiry

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        """Nothing of its own to write: merges are recorded and followed by the runner."""

    async def after_merges(
        self, connection: asyncpg.Connection, events: Sequence[Decoded], customers: list[str]
    ) -> None:
        merges = of_type(events, ContactsMerged)
        if not merges:
            return
        duplicates = [d.event.merged_customer_id for d in merges]
        await connection.execute(
            "DELETE FROM consent_state WHERE customer_id = ANY($1::text[])", duplicates
        )
        survivors = {
            await survivor_of(connection, d.event.merged_customer_id)
            or d.envelope.subject: d.envelope
            for d in merges
        }
        await snapshots.forget(connection, [*duplicates, *survivors])
        await publish_states(connection, self._publisher, self._expiry, survivors)


async def publish_states(
    connection: asyncpg.Connection,
    publisher: EventPublisher,
    expiry: timedelta,
    last: dict[str, Envelope],
) -> None:
    """Recompute these customers' states, keep them and publish them; `last` is the event each
    state follows (its id makes the snapshot's, so a retried batch publishes the same)."""
    before = await snapshots.usable(connection, list(last))
    folded = await fold(connection, {c: before.get(c) for c in last})
    await snapshots.save(connection, folded)
    published = {c: snapshot(s.state, s.through, expiry) for c, s in folded.items() if s.through}
    await connection.executemany(
        "INSERT INTO consent_state (customer_id, as_of, state) VALUES ($1, $2, $3::jsonb)"
        " ON CONFLICT (customer_id)"
        " DO UPDATE SET as_of = excluded.as_of, state = excluded.state",
        [(c, s.as_of, s.model_dump_json()) for c, s in published.items()],
    )
    await publisher.publish(
        CONSENT_STATE.name,
        [
            WORKER.caused_by(
                last[c], s, id=uuid5(SNAPSHOT_NAMESPACE, str(last[c].id)), time=s.as_of, subject=c
            )
            for c, s in published.items()
        ],
    )
