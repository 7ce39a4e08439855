"""Projecting the consent history and the customer facts eligibility needs."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from consentledger import snapshots
from consentledger.effective import effective_at
from dialog_schemas import personal_fields
from dialog_schemas.catalog import CONSENT_EVENTS, CONTACTS_EVENTS
from dialog_schemas.contacts import (
    ContactErased,
    ContactRegistered,
    ContactsMerged,
    ContactUpdated,
    ProductPurchased,
)
from dialogkit.lifecycle import CustomerTables
from dialogkit.projection import Decoded, of_type

LEDGER_TABLES = CustomerTables(
    merged=("consent_history", "customer_purchases"),
    kept={
        "customer_facts": "the survivor keeps its own facts; a duplicate's suppressed channels"
        " are united into them",
        "customer_kinds": "the survivor's own consumer or business history holds",
        "consent_snapshots": "never used for a survivor or a duplicate (their history is"
        " folded); the consent service drops both on a merge",
    },
)
"""The ledger's customer-keyed tables: those that follow a merge, and those kept, and why.
A service holding the ledger adds this to its own declaration."""
# events that give a customer contact points, with the channels suppression found on them
SUPPRESSING = (ContactUpdated, ContactsMerged, ProductPurchased)


async def record_history(connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
    """Keep each consent event once, with the time it took effect, in topic order."""
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


class ConsentHistoryProjection:
    """The consent history alone, for services that check eligibility without deciding it."""

    source = CONSENT_EVENTS

    def __init__(self, name: str, customer_tables: CustomerTables = LEDGER_TABLES) -> None:
        """`customer_tables`: the holding service's declaration, which includes the ledger's."""
        self.name = name
        self.customer_tables = customer_tables

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        await record_history(connection, events)


class CustomerFactsProjection:
    """From the contacts topic, what eligibility needs: kind (consumer, business) with each
    correction and since when, purchases."""

    source = CONTACTS_EVENTS

    def __init__(self, name: str, customer_tables: CustomerTables = LEDGER_TABLES) -> None:
        """`customer_tables`: the holding service's declaration, which includes the ledger's."""
        self.name = name
        self.customer_tables = customer_tables

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        registered = of_type(events, ContactRegistered)
        purchased = of_type(events, ProductPurchased)
        await connection.executemany(
            "INSERT INTO customer_facts (customer_id, kind, registered_at, suppressed_channels)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (customer_id) DO NOTHING",
            [
                (
                    d.envelope.subject,
                    d.event.kind.value,
                    d.event.registered_at,
                    [c.value for c in d.event.suppressed_channels],
                )
                for d in registered
            ],
        )
        await connection.executemany(  # contact points of erased customers added since
            "UPDATE customer_facts SET suppressed_channels = ARRAY("
            "  SELECT DISTINCT c FROM unnest(suppressed_channels || $2::text[]) c ORDER BY c)"
            " WHERE customer_id = $1",
            [
                (d.envelope.subject, [c.value for c in d.event.suppressed_channels])
                for d in events
                if isinstance(d.event, SUPPRESSING) and d.event.suppressed_channels
            ],
        )
        await connection.executemany(
            "UPDATE customer_facts SET erased_at = LEAST(erased_at, $2) WHERE customer_id = $1"
            " OR customer_id IN (SELECT duplicate FROM customer_merges WHERE survivor = $1)",
            [
                (d.envelope.subject, d.event.erased_at)
                for d in events
                if isinstance(d.event, ContactErased)
            ],
        )
        await connection.executemany(
            "INSERT INTO customer_kinds (event_id, customer_id, kind, effective_at)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING",
            [row for d in events if (row := _kind_row(d))],
        )
        await connection.executemany(
            "INSERT INTO customer_purchases (event_id, customer_id, purchase_id, category,"
            " purchased_at, email_obtained, objection_notice_given)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING",
            [_purchase_row(d) for d in purchased],
        )

    async def after_merges(
        self, connection: asyncpg.Connection, events: Sequence[Decoded], customers: list[str]
    ) -> None:
        """Erasure once a duplicate's history has moved to its survivor; suppression from a
        duplicate's registration stays in force for its survivor."""
        await forget_personal_data(
            connection, [d.envelope.subject for d in events if isinstance(d.event, ContactErased)]
        )
        await connection.execute(
            "UPDATE customer_facts s SET suppressed_channels = ARRAY("
            "  SELECT DISTINCT c FROM unnest(s.suppressed_channels || d.suppressed_channels) c"
            "  ORDER BY c)"
            " FROM customer_merges m JOIN customer_facts d ON d.customer_id = m.duplicate"
            " WHERE s.customer_id = m.survivor AND m.duplicate = ANY($1::text[])",
            customers,
        )


async def forget_personal_data(connection: asyncpg.Connection, customers: list[str]) -> None:
    """Erasure: the consent history keeps its facts and evidence, not the contact points."""
    if not customers:
        return
    await snapshots.forget(connection, customers)
    for name, event in CONSENT_EVENTS.events.items():
        for path in personal_fields(event):
            await connection.execute(
                "UPDATE consent_history SET data = jsonb_set(data, $3::text[], 'null')"
                " WHERE customer_id = ANY($1::text[]) AND type = $2",
                customers,
                name,
                path.split("."),
            )


def _kind_row(decoded: Decoded) -> tuple[object, ...] | None:
    event = decoded.event
    if isinstance(event, ContactRegistered):
        kind, since = event.kind, event.registered_at
    elif isinstance(event, ContactUpdated) and event.kind is not None:
        kind, since = event.kind, event.updated_at
    else:
        return None
    return (decoded.envelope.id, decoded.envelope.subject, kind.value, since)


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
