"""A service's tables keyed by customer, declared once, and the runner's step that keeps them.

Every table with a customer id column is named in the service's `CustomerTables`: either it
follows a merge (its rows are re-keyed to the survivor) or it deliberately stays, with the
reason. A test reads every migration and fails when a table with a customer id column is named
nowhere, so a new customer-keyed table cannot be forgotten silently.

A projection that keeps customer-keyed rows names its service's declaration as its
`customer_tables`; the projection runner then does, in the batch's transaction (`apply_batch`):

1. record the batch's merges (`ContactsMerged`), so `apply` already sees every survivor;
2. `apply` the batch (rows are written under the subject the events name);
3. where the service declares `personal` columns: record the batch's erasures (`ContactErased`)
   in its `erasures` table;
4. find, in one query, which of the batch's customers (its subjects and the duplicates it
   merged) were merged, and which of them or their survivors were erased (`merged_and_erased`);
5. re-key every `merged` table for the merged ones, which moves a duplicate's rows whether the
   merge came first or its events did;
6. empty the `personal` columns in the rows of every erased one found, so a duplicate's rows
   that reach an erased survivor, and rows read after the erasure, are emptied too;
7. call the projection's `after_merges(connection, events, customers)`, if it has one: what
   depends on the rows being where they end up (folding a duplicate's facts into the
   survivor's, forgetting what an erasure took from rows that just moved to an erased
   survivor, recomputing a survivor's state).

Re-keying does not touch `customer_merges` or the `erasures` table (which is never a `merged`
table), so finding both sets before re-keying finds what it would find after.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import asyncpg

from dialog_schemas.contacts import ContactErased
from dialogkit.merges import Table, events_of, record_merges, rekey

if TYPE_CHECKING:
    from dialogkit.projection import Decoded, Projection

PLATFORM_KEPT: Mapping[str, str] = {
    "event_journal": "events as they arrived, under the subject they were published for",
    "idempotency_keys": "the answers given to requests about that subject",
}
"""The shared tables every service has (dialogkit's migrations)."""


@dataclass(frozen=True)
class CustomerTables:
    """Which of a service's customer-keyed tables follow a merge, and which stay, and why."""

    merged: tuple[Table, ...] = ()
    """Rows re-keyed to the survivor when their customer is merged into another."""
    kept: Mapping[str, str] = field(default_factory=dict)
    """Customer-keyed tables whose rows stay under their own id, each with the reason."""
    personal: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Columns of personal data by table, emptied (NULL) once their customer is erased."""
    erasures: str | None = None
    """The table (`customer_id`) recording which customers were erased; needed with `personal`."""

    def __post_init__(self) -> None:
        if self.personal and self.erasures is None:
            raise ValueError("personal columns are forgotten only with an `erasures` table")
        if self.erasures is not None and self.erasures in self.merged_names():
            raise ValueError("an erasure stays with the id erased: `erasures` cannot be merged")

    def names(self) -> set[str]:
        """Every table declared, merged or kept (the platform's shared ones too)."""
        return self.merged_names() | set(self.kept) | set(PLATFORM_KEPT)

    def merged_names(self) -> set[str]:
        """The names of the tables that follow a merge."""
        return {t if isinstance(t, str) else t[0] for t in self.merged}

    def __add__(self, other: CustomerTables) -> CustomerTables:
        """Both declarations, as one service holding both sets of tables declares them."""
        return CustomerTables(
            (*self.merged, *other.merged),
            {**self.kept, **other.kept},
            {**self.personal, **other.personal},
            self.erasures or other.erasures,
        )


@runtime_checkable
class AfterMerges(Protocol):
    async def after_merges(
        self, connection: asyncpg.Connection, events: Sequence[Decoded], customers: list[str]
    ) -> None:
        """What must follow the re-keying of the batch's `customers` (subjects, duplicates)."""


async def apply_batch(
    connection: asyncpg.Connection, projection: Projection, events: Sequence[Decoded]
) -> None:
    """Apply `events` to `projection`'s read model with its customers' merges (module doc)."""
    tables: CustomerTables | None = getattr(projection, "customer_tables", None)
    if tables is None:
        await projection.apply(connection, events)
        return
    duplicates = await record_merges(connection, events)
    await projection.apply(connection, events)
    customers = sorted({d.envelope.subject for d in events} | set(duplicates))
    erasures = tables.erasures if tables.personal else None
    if erasures is not None:
        await record_erasures(connection, erasures, events)
    merged, erased = await merged_and_erased(connection, customers, erasures)
    await rekey(connection, merged, tables.merged)
    if erased:
        await forget_erased(connection, tables, erased)
    if isinstance(projection, AfterMerges):
        await projection.after_merges(connection, events, customers)


async def record_erasures(
    connection: asyncpg.Connection, erasures: str, events: Sequence[Decoded]
) -> None:
    """Add the subjects of the batch's `ContactErased` events to the `erasures` table (once
    each); no statement for a batch without any (the usual one)."""
    erased = [(d.envelope.subject,) for d in events_of(events, ContactErased)]
    if erased:
        await connection.executemany(
            f"INSERT INTO {erasures} (customer_id) VALUES ($1) ON CONFLICT DO NOTHING", erased
        )


async def merged_and_erased(
    connection: asyncpg.Connection, customers: list[str], erasures: str | None
) -> tuple[list[str], list[str]]:
    """Of `customers`: those merged into another (`customer_merges`), and those erased or
    whose survivor was erased, the survivors then in their place (GDPR Art. 17), as the
    `erasures` table records them; no erased ones without an `erasures` table. One query."""
    merged = "SELECT array_agg(duplicate) FROM customer_merges WHERE duplicate = ANY($1::text[])"
    if erasures is None:
        return await connection.fetchval(merged, customers) or [], []
    # only the erased among them (usually none): an update joined to the whole table per
    # batch grows with the table and slowed a rebuild down as it went
    erased = (
        f"SELECT array_agg(customer_id) FROM {erasures}"
        " WHERE customer_id = ANY($1::text[]) OR customer_id IN"
        " (SELECT survivor FROM customer_merges WHERE duplicate = ANY($1::text[]))"
    )
    row = await connection.fetchrow(f"SELECT ({merged}) AS merged, ({erased}) AS erased", customers)
    return row["merged"] or [], row["erased"] or []


async def forget_erased(
    connection: asyncpg.Connection, tables: CustomerTables, erased: list[str]
) -> None:
    """Empty the `personal` columns of the rows of the `erased` customers (already re-keyed:
    rows that moved to an erased survivor are emptied too)."""
    for table, columns in tables.personal.items():
        emptied = ", ".join(f"{c} = NULL" for c in columns)
        present = " OR ".join(f"{c} IS NOT NULL" for c in columns)
        await connection.execute(
            f"UPDATE {table} SET {emptied} WHERE customer_id = ANY($1::text[]) AND ({present})",
            erased,
        )
