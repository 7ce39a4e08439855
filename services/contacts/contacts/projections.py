"""The contacts read model: profiles, contact points for search, products, suppression hashes.

Events carry personal fields sealed with the customer's data key; this service holds the keys
and opens them here. After an erasure the key is gone: replaying the customer's old events finds
nothing readable, and the profile stays empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from contacts.tables import CUSTOMER_TABLES
from dialog_schemas.catalog import CONTACTS_EVENTS
from dialog_schemas.contacts import (
    CancellationRetracted,
    ContactErased,
    ContactRegistered,
    ContactsMerged,
    ContactUpdated,
    ContractCancelled,
    ContractStarted,
    ProductPurchased,
)
from dialogkit.keys import KeyDestroyed, PostgresKeyStore
from dialogkit.merges import survivor_of
from dialogkit.pii import PersonalDataCipher
from dialogkit.projection import Decoded

PRODUCTS = (ProductPurchased, ContractStarted, ContractCancelled, CancellationRetracted)
# lists a merge unites; of the other fields the survivor keeps its own and takes what it lacks
LISTS = ("addresses", "phone_numbers", "email_addresses", "social_handles", "interests")


class ProfileProjection:
    name = "contacts.profiles"
    source = CONTACTS_EVENTS
    customer_tables = CUSTOMER_TABLES

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        cipher = PersonalDataCipher(PostgresKeyStore(connection))
        for decoded in events:
            event, customer = decoded.event, decoded.envelope.subject
            if isinstance(event, ContactErased):
                await erase(connection, customer, decoded)
                continue
            if isinstance(event, ContactsMerged):
                await fold_into_survivor(connection, event.merged_customer_id)
                continue
            try:
                data = await cipher.open(customer, decoded.envelope.data, type(event))
            except KeyDestroyed:
                continue  # erased since: nothing of this event is readable any more
            if isinstance(event, ContactRegistered):
                registered = ContactRegistered.model_validate(data)
                await register(connection, customer, registered, decoded.envelope.id)
            elif isinstance(event, ContactUpdated):
                await update(connection, customer, ContactUpdated.model_validate(data))
            elif isinstance(event, PRODUCTS):
                await connection.execute(
                    "INSERT INTO customer_products (event_id, customer_id, type, occurred_at, data)"
                    " VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT DO NOTHING",
                    decoded.envelope.id,
                    customer,
                    decoded.envelope.type,
                    getattr(event, "purchased_at", None)
                    or getattr(event, "started_at", None)
                    or getattr(event, "cancelled_at", None)
                    or getattr(event, "withdrawn_at", None),
                    orjson.dumps(data).decode(),
                )

    async def after_merges(
        self, connection: asyncpg.Connection, events: Sequence[Decoded], customers: list[str]
    ) -> None:
        """Products of duplicates that reached an erased survivor are emptied too."""
        await connection.execute(
            "UPDATE customer_products p SET data = '{}'::jsonb FROM profiles e"
            " WHERE p.customer_id = e.customer_id AND e.erased_at IS NOT NULL"
            " AND p.data <> '{}'::jsonb AND (p.customer_id = ANY($1::text[]) OR p.customer_id IN"
            " (SELECT survivor FROM customer_merges WHERE duplicate = ANY($1::text[])))",
            customers,
        )


async def register(
    connection: asyncpg.Connection, customer: str, event: ContactRegistered, event_id: UUID
) -> None:
    profile = event.model_dump(mode="json", exclude={"registered_at"})
    await connection.execute(
        "INSERT INTO profiles (customer_id, kind, profile, registered_at, updated_at,"
        " registered_by) VALUES ($1, $2, $3::jsonb, $4, $4, $5)"
        " ON CONFLICT (customer_id) DO NOTHING",
        customer,
        event.kind.value,
        orjson.dumps(profile).decode(),
        event.registered_at,
        event_id,
    )
    await replace_contact_points(connection, customer, profile)
    await fold_into_survivor(connection, customer)  # merged before its registration was read


async def update(connection: asyncpg.Connection, customer: str, event: ContactUpdated) -> None:
    changes = event.model_dump(mode="json", exclude={"updated_at"}, exclude_none=True)
    survivor = await survivor_of(connection, customer)
    if survivor is not None:  # changes recorded before a merge read after it
        await fold(connection, survivor, changes)
        return
    row = await connection.fetchrow(
        "UPDATE profiles SET profile = profile || $2::jsonb, updated_at = $3,"
        " kind = coalesce($4, kind)"
        " WHERE customer_id = $1 AND erased_at IS NULL RETURNING profile",
        customer,
        orjson.dumps(changes).decode(),
        event.updated_at,
        event.kind.value if event.kind else None,
    )
    if row is not None:
        await replace_contact_points(connection, customer, orjson.loads(row["profile"]))


async def replace_contact_points(
    connection: asyncpg.Connection, customer: str, profile: dict[str, Any]
) -> None:
    await connection.execute("DELETE FROM contact_points WHERE customer_id = $1", customer)
    points = [("phone", p) for p in profile.get("phone_numbers") or []]
    points += [("email", e.lower()) for e in profile.get("email_addresses") or []]
    await connection.executemany(
        "INSERT INTO contact_points (customer_id, kind, value) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING",
        [(customer, kind, value) for kind, value in points],
    )


async def fold_into_survivor(connection: asyncpg.Connection, duplicate: str) -> None:
    """A merged duplicate's profile joins its survivor's; an empty row points there."""
    survivor = await survivor_of(connection, duplicate)
    row = await connection.fetchrow(
        "SELECT profile FROM profiles WHERE customer_id = $1 AND merged_into IS NULL", duplicate
    )
    if survivor is None or row is None:
        return
    if not await fold(connection, survivor, orjson.loads(row["profile"])):
        await PostgresKeyStore(connection).destroy(duplicate)  # merged into an erased customer
    await connection.execute("DELETE FROM contact_points WHERE customer_id = $1", duplicate)
    await connection.execute(
        "UPDATE profiles SET profile = '{}'::jsonb, merged_into = $2 WHERE customer_id = $1",
        duplicate,
        survivor,
    )


async def fold(connection: asyncpg.Connection, survivor: str, other: dict[str, Any]) -> bool:
    """Unite the lists (contact points, addresses, interests); fill the survivor's gaps.

    False if the survivor was erased: nothing joins it."""
    row = await connection.fetchrow(
        "SELECT profile FROM profiles WHERE customer_id = $1 AND erased_at IS NULL", survivor
    )
    if row is None:
        return False
    profile = orjson.loads(row["profile"])
    for field, value in other.items():
        if field in LISTS:
            profile[field] = [*(profile.get(field) or [])]
            profile[field] += [v for v in value or [] if v not in profile[field]]
        elif profile.get(field) is None:
            profile[field] = value
    await connection.execute(
        "UPDATE profiles SET profile = $2::jsonb WHERE customer_id = $1",
        survivor,
        orjson.dumps(profile).decode(),
    )
    await replace_contact_points(connection, survivor, profile)
    return True


async def erase(connection: asyncpg.Connection, customer: str, decoded: Decoded) -> None:
    event = decoded.event
    assert isinstance(event, ContactErased)
    await connection.execute("DELETE FROM contact_points WHERE customer_id = $1", customer)
    await connection.execute(
        "UPDATE profiles SET profile = '{}'::jsonb, erased_at = $2 WHERE customer_id = $1",
        customer,
        event.erased_at,
    )
    await connection.execute(
        "UPDATE customer_products SET data = '{}'::jsonb WHERE customer_id = $1", customer
    )
    await connection.executemany(
        "INSERT INTO suppressed_contact_points (hash, erased_at) VALUES ($1, $2)"
        " ON CONFLICT DO NOTHING",
        [(h, event.erased_at) for h in event.suppressed_contact_points],
    )
    keys = PostgresKeyStore(connection)  # the API destroyed them; a merge it had not seen yet
    for row in await connection.fetch(
        "SELECT duplicate FROM customer_merges WHERE survivor = $1", customer
    ):
        await keys.destroy(row["duplicate"])
