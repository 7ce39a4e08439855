"""Merged customers: a duplicate's rows follow its survivor, in whatever order they arrive.

Contacts publishes `ContactsMerged` on the survivor's key; the duplicate's own events sit on
other partitions and may be read before or after it (live, the duplicate's come first; on a
rebuild, either). Every read model keyed by customer therefore records the merge and, at the end
of each batch, re-keys the rows of any merged customer that batch touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import asyncpg

from dialog_schemas.contacts import ContactsMerged
from dialogkit.projection import Decoded


async def record_merges(connection: asyncpg.Connection, events: Sequence[Decoded]) -> list[str]:
    """Store the batch's merges, resolving chains to the last survivor; the duplicates."""
    duplicates = []
    for decoded in events:
        if not isinstance(decoded.event, ContactsMerged):
            continue
        duplicate, survivor = decoded.event.merged_customer_id, decoded.envelope.subject
        survivor = await survivor_of(connection, survivor) or survivor
        await connection.execute(
            "INSERT INTO customer_merges (duplicate, survivor) VALUES ($1, $2)"
            " ON CONFLICT (duplicate) DO UPDATE SET survivor = EXCLUDED.survivor",
            duplicate,
            survivor,
        )
        await connection.execute(
            "UPDATE customer_merges SET survivor = $1 WHERE survivor = $2", survivor, duplicate
        )
        duplicates.append(duplicate)
    return duplicates


async def survivor_of(connection: asyncpg.Connection, customer: str) -> str | None:
    """The customer this one was merged into, if it was."""
    found: str | None = await connection.fetchval(
        "SELECT survivor FROM customer_merges WHERE duplicate = $1", customer
    )
    return found


async def follow_merges(
    connection: asyncpg.Connection, events: Sequence[Decoded], tables: Iterable[str]
) -> list[str]:
    """Record the batch's merges and move merged customers' rows in `tables` to the survivor.

    Returns the customers looked at (the batch's subjects and new duplicates)."""
    customers = {d.envelope.subject for d in events}
    customers.update(await record_merges(connection, events))
    await rekey(connection, sorted(customers), tables)
    return sorted(customers)


async def rekey(
    connection: asyncpg.Connection, customers: list[str], tables: Iterable[str]
) -> None:
    """Move the rows of those of `customers` that were merged to their survivor."""
    for table in tables:
        await connection.execute(
            f"UPDATE {table} t SET customer_id = m.survivor FROM customer_merges m"
            " WHERE t.customer_id = m.duplicate AND m.duplicate = ANY($1::text[])",
            customers,
        )
