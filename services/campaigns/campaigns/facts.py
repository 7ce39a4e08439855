"""The customer facts audiences are chosen by, projected from the contacts, consent and
interactions topics into `audience_facts`, `audience_holdings` and `audience_touches`.

Each projection is idempotent: registrations insert once, updates overwrite with the latest
value, holdings are keyed by purchase or contract, touches keep the latest time. A merged
duplicate's facts are folded into its survivor (objection and erasure stay in force, holdings
and touches move) and the duplicate's row is dropped, so a person counts once. Erasure keeps only
the fact that the customer was erased (and objected, if so).

Purchases, cancellations and survey answers are also triggers: the projection that sees one
hands it to `triggered.TriggerPlanner` in its own transaction (see `triggered.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import orjson

from campaigns.tables import CUSTOMER_TABLES
from campaigns.triggered import TriggerPlanner
from campaigns.triggers import Fired
from dialog_schemas.campaigns import TriggerKind
from dialog_schemas.catalog import CONSENT_EVENTS, CONTACTS_EVENTS, INTERACTIONS_EVENTS
from dialog_schemas.consent import ObjectionLifted, ObjectionRecorded
from dialog_schemas.contacts import (
    CancellationRetracted,
    ContactErased,
    ContactRegistered,
    ContactUpdated,
    ContractCancelled,
    ContractStarted,
    ProductPurchased,
)
from dialog_schemas.interactions import TouchpointRecorded
from dialogkit.projection import Decoded

CONTACT_FIELDS = ("phone_numbers", "email_addresses", "addresses")
"""The profile fields that hold contact points (sealed on the topic)."""


async def fold_duplicates(connection: asyncpg.Connection, customers: list[str]) -> None:
    """Merge the facts rows of those of `customers` that were merged into their survivor's."""
    await connection.execute(
        "INSERT INTO audience_facts (customer_id, kind, registered_at, customer_since,"
        " interests, time_zone, contact_points, objected, erased)"
        " SELECT m.survivor, d.kind, d.registered_at, d.customer_since, d.interests,"
        " d.time_zone, d.contact_points, d.objected, d.erased"
        " FROM audience_facts d JOIN customer_merges m ON m.duplicate = d.customer_id"
        " WHERE d.customer_id = ANY($1::text[])"
        " ON CONFLICT (customer_id) DO UPDATE SET"
        " objected = audience_facts.objected OR EXCLUDED.objected,"
        " erased = audience_facts.erased OR EXCLUDED.erased,"
        " interests = ARRAY(SELECT DISTINCT i FROM"
        "   unnest(audience_facts.interests || EXCLUDED.interests) i ORDER BY i),"
        " contact_points = EXCLUDED.contact_points || audience_facts.contact_points,"
        " phone_zones = NULL,"
        " customer_since = LEAST(audience_facts.customer_since, EXCLUDED.customer_since)",
        customers,
    )
    await connection.execute(
        "DELETE FROM audience_facts d USING customer_merges m"
        " WHERE m.duplicate = d.customer_id AND d.customer_id = ANY($1::text[])",
        customers,
    )


def _registration(d: Decoded) -> tuple[Any, ...]:
    event = d.event
    assert isinstance(event, ContactRegistered)
    data = event.model_dump(mode="json")
    return (
        d.envelope.subject,
        event.kind.value,
        event.registered_at,
        event.customer_since,
        sorted(set(event.interests)),
        event.time_zone,
        orjson.dumps({f: data[f] for f in CONTACT_FIELDS}).decode(),
    )


def _update(d: Decoded) -> tuple[Any, ...]:
    event = d.event
    assert isinstance(event, ContactUpdated)
    data = event.model_dump(mode="json", exclude_unset=True)
    points = {f: data[f] for f in CONTACT_FIELDS if data.get(f) is not None}
    return (
        d.envelope.subject,
        event.kind.value if event.kind else None,
        event.time_zone,
        sorted(set(event.interests)) if event.interests is not None else None,
        orjson.dumps(points).decode(),
    )


class AudienceContactsProjection:
    """From the contacts topic: kind, tenure, interests, zone, contact points, holdings, erasure;
    purchases and cancellations trigger outreach of triggered campaigns."""

    name = "campaigns.audience-facts"
    source = CONTACTS_EVENTS
    customer_tables = CUSTOMER_TABLES

    def __init__(self, triggers: TriggerPlanner | None = None) -> None:
        self._triggers = triggers or TriggerPlanner()

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        fired: list[Fired] = []
        for d in events:
            await self._one(connection, d, fired)
        await self._triggers.plan(connection, fired)  # for survivors: merges are recorded

    async def after_merges(
        self, connection: asyncpg.Connection, events: Sequence[Decoded], customers: list[str]
    ) -> None:
        await fold_duplicates(connection, customers)

    async def _one(self, connection: asyncpg.Connection, d: Decoded, fired: list[Fired]) -> None:
        event, customer = d.event, d.envelope.subject
        if isinstance(event, ContactRegistered):
            await connection.execute(
                "INSERT INTO audience_facts (customer_id, kind, registered_at, customer_since,"
                " interests, time_zone, contact_points) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)"
                " ON CONFLICT (customer_id) DO UPDATE SET kind = EXCLUDED.kind,"
                " registered_at = EXCLUDED.registered_at,"
                " customer_since = EXCLUDED.customer_since, interests = EXCLUDED.interests,"
                " time_zone = EXCLUDED.time_zone, contact_points = EXCLUDED.contact_points,"
                " phone_zones = NULL WHERE NOT audience_facts.erased",
                *_registration(d),
            )
        elif isinstance(event, ContactUpdated):
            await connection.execute(
                "UPDATE audience_facts SET kind = coalesce($2, kind),"
                " time_zone = coalesce($3, time_zone), interests = coalesce($4, interests),"
                " contact_points = contact_points || $5::jsonb,"
                " phone_zones = CASE WHEN $5::jsonb ? 'phone_numbers' THEN NULL"
                " ELSE phone_zones END WHERE customer_id = $1 AND NOT erased",
                *_update(d),
            )
        elif isinstance(event, ProductPurchased):
            await _hold(
                connection,
                customer,
                f"purchase:{event.purchase_id}",
                event.category,
                event.purchased_at,
            )
            fired.append(
                Fired(
                    customer,
                    TriggerKind.PRODUCT_PURCHASED,
                    d.envelope.id,
                    event.purchased_at,
                    category=event.category,
                )
            )
        elif isinstance(event, ContractStarted):
            await _hold(
                connection,
                customer,
                f"contract:{event.contract_id}",
                event.category,
                event.started_at,
            )
        elif isinstance(event, ContractCancelled):
            item = f"contract:{event.contract_id}"
            category = await connection.fetchval(
                "INSERT INTO audience_holdings (customer_id, item_id, cancelled_at)"
                " VALUES ($1, $2, $3) ON CONFLICT (customer_id, item_id) DO UPDATE SET"
                " cancelled_at = EXCLUDED.cancelled_at RETURNING category",
                customer,
                item,
                event.cancelled_at,
            )
            kind, at = TriggerKind.CONTRACT_CANCELLED, event.cancelled_at
            fired.append(Fired(customer, kind, d.envelope.id, at, category, item_id=item))
        elif isinstance(event, CancellationRetracted):
            await connection.execute(
                "UPDATE audience_holdings SET cancelled_at = NULL"
                " WHERE customer_id = $1 AND item_id = $2",
                customer,
                f"contract:{event.contract_id}",
            )
        elif isinstance(event, ContactErased):
            await erase(connection, customer)


async def _hold(
    connection: asyncpg.Connection, customer: str, item: str, category: str, at: object
) -> None:
    await connection.execute(
        "INSERT INTO audience_holdings (customer_id, item_id, category, started_at)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (customer_id, item_id) DO UPDATE SET"
        " category = EXCLUDED.category, started_at = EXCLUDED.started_at",
        customer,
        item,
        category,
        at,
    )


async def erase(connection: asyncpg.Connection, customer: str) -> None:
    """GDPR Art. 17: keep that the customer was erased (and objected), nothing else."""
    await connection.execute(
        "INSERT INTO audience_facts (customer_id, erased) VALUES ($1, true)"
        " ON CONFLICT (customer_id) DO UPDATE SET erased = true, kind = NULL,"
        " registered_at = NULL, customer_since = NULL, interests = '{}', time_zone = NULL,"
        " contact_points = '{}'::jsonb, phone_zones = NULL",
        customer,
    )
    await connection.execute("DELETE FROM audience_holdings WHERE customer_id = $1", customer)
    await connection.execute("DELETE FROM audience_touches WHERE customer_id = $1", customer)


class AudienceObjectionsProjection:
    """From the consent topic: objections to direct marketing (GDPR Art. 21) and their lifting."""

    name = "campaigns.audience-objections"
    source = CONSENT_EVENTS
    customer_tables = CUSTOMER_TABLES

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        for d in events:
            if isinstance(d.event, ObjectionRecorded | ObjectionLifted):
                await connection.execute(
                    "INSERT INTO audience_facts (customer_id, objected) VALUES ($1, $2)"
                    " ON CONFLICT (customer_id) DO UPDATE SET objected = EXCLUDED.objected",
                    d.envelope.subject,
                    isinstance(d.event, ObjectionRecorded),
                )

    async def after_merges(
        self, connection: asyncpg.Connection, events: Sequence[Decoded], customers: list[str]
    ) -> None:
        await fold_duplicates(connection, customers)


class AudienceTouchesProjection:
    """From the interactions topic: the last contact (outbound) and response (inbound) per
    channel; a survey answer triggers the thank-you of a triggered campaign."""

    name = "campaigns.audience-touches"
    source = INTERACTIONS_EVENTS
    customer_tables = CUSTOMER_TABLES

    def __init__(self, triggers: TriggerPlanner | None = None) -> None:
        self._triggers = triggers or TriggerPlanner()

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        rows = [
            (
                d.envelope.subject,
                f"{d.event.channel.value}/{d.event.direction.value}",
                d.event.occurred_at,
            )
            for d in events
            if isinstance(d.event, TouchpointRecorded)
        ]
        await connection.executemany(
            "INSERT INTO audience_touches (customer_id, touch, last_at) VALUES ($1, $2, $3)"
            " ON CONFLICT (customer_id, touch) DO UPDATE SET"
            " last_at = GREATEST(audience_touches.last_at, EXCLUDED.last_at)",
            rows,
        )
        await self._triggers.plan(connection, [s for d in events if (s := _survey(d))])

    async def after_merges(
        self, connection: asyncpg.Connection, events: Sequence[Decoded], customers: list[str]
    ) -> None:
        await fold_duplicates(connection, customers)


def _survey(d: Decoded) -> Fired | None:
    """A touchpoint answering a survey campaign, as a trigger of its thank-you."""
    event = d.event
    if not isinstance(event, TouchpointRecorded) or event.survey is None:
        return None
    if event.campaign_id is None:
        return None
    return Fired(
        d.envelope.subject,
        TriggerKind.SURVEY_ANSWERED,
        d.envelope.id,
        event.occurred_at,
        channel=event.channel,
        survey_campaign_id=event.campaign_id,
    )
