"""Merged customers: a duplicate's rows follow its survivor, in whatever order they arrive.

Contacts publishes `ContactsMerged` on the survivor's key; the duplicate's own events sit on
other partitions and may be read before or after it (live, the duplicate's come first; on a
rebuild, either). The projection runner therefore records each batch's merges and, at the end
of the batch, re-keys the rows of any merged customer that batch touched (`lifecycle`, which
finds those customers in the same query as the erased ones).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, TypeVar, cast

import asyncpg

from dialog_schemas import Event
from dialog_schemas.contacts import ContactsMerged

if TYPE_CHECKING:
    from dialogkit.projection import Decoded

log = logging.getLogger(__name__)
K = TypeVar("K", bound=Event)


def events_of(events: Iterable[Decoded], kind: type[K]) -> list[Decoded[K]]:
    """The events of a batch that are `kind` (or a subclass), in batch order: as `isinstance`
    selects them, asked once per distinct event type (for an event model's class, `isinstance`
    is a Python-level call, and a batch holds a few types many times)."""
    matches: dict[type, bool] = {}
    found = []
    for decoded in events:
        cls = type(decoded.event)
        match = matches.get(cls)
        if match is None:
            match = matches[cls] = issubclass(cls, kind)
        if match:
            found.append(decoded)
    return cast("list[Decoded[K]]", found)


async def record_merges(connection: asyncpg.Connection, events: Sequence[Decoded]) -> list[str]:
    """Store the batch's merges, resolving chains to the last survivor; the duplicates.

    A customer is merged once: the first merge of a duplicate read holds, and a merge that
    would make a customer its own survivor (two merges in opposite directions) is ignored.
    """
    duplicates = []
    for decoded in events_of(events, ContactsMerged):
        duplicate, survivor = decoded.event.merged_customer_id, decoded.envelope.subject
        survivor = await survivor_of(connection, survivor) or survivor
        earlier = await survivor_of(connection, duplicate)
        if survivor == duplicate or (earlier is not None and earlier != survivor):
            log.warning(
                "merge ignored: %s is merged into %s already",
                duplicate,
                earlier or survivor,
                extra={"event_id": str(decoded.envelope.id)},
            )
            continue
        await connection.execute(
            "INSERT INTO customer_merges (duplicate, survivor) VALUES ($1, $2)"
            " ON CONFLICT (duplicate) DO NOTHING",
            duplicate,
            survivor,
        )
        await connection.execute(
            "UPDATE customer_merges SET survivor = $1 WHERE survivor = $2", survivor, duplicate
        )
        duplicates.append(duplicate)
    return duplicates


async def survivors(connection: asyncpg.Connection, customers: Iterable[str]) -> dict[str, str]:
    """Each given customer's survivor: itself unless it was merged."""
    wanted = sorted(set(customers))
    rows = await connection.fetch(
        "SELECT duplicate, survivor FROM customer_merges WHERE duplicate = ANY($1::text[])", wanted
    )
    merged = {r["duplicate"]: r["survivor"] for r in rows}
    return {c: merged.get(c, c) for c in wanted}


async def survivor_of(connection: asyncpg.Connection, customer: str) -> str | None:
    """The customer this one was merged into, if it was."""
    found: str | None = await connection.fetchval(
        "SELECT survivor FROM customer_merges WHERE duplicate = $1", customer
    )
    return found


Table = str | tuple[str, str]
"""A table keyed by customer, or (table, column) where the column is unique per customer: a
duplicate's row whose column value the survivor already has is the same row, and is dropped."""


async def rekey(
    connection: asyncpg.Connection, duplicates: list[str], tables: Iterable[Table]
) -> None:
    """Move the rows of `duplicates` (customers merged into another, as `customer_merges`
    records them) to their survivors; nothing for no duplicates (the usual batch)."""
    if not duplicates:
        return
    for entry in tables:
        table, unique = entry if isinstance(entry, tuple) else (entry, None)
        if unique is not None:
            await connection.execute(
                f"DELETE FROM {table} t USING customer_merges m"
                " WHERE t.customer_id = m.duplicate AND m.duplicate = ANY($1::text[])"
                f" AND EXISTS (SELECT 1 FROM {table} s"
                f" WHERE s.customer_id = m.survivor AND s.{unique} = t.{unique})",
                duplicates,
            )
        await connection.execute(
            f"UPDATE {table} t SET customer_id = m.survivor FROM customer_merges m"
            " WHERE t.customer_id = m.duplicate AND m.duplicate = ANY($1::text[])",
            duplicates,
        )
