"""A service's tables keyed by customer, declared once, and the runner's step that keeps them.

Every table with a customer id column is named in the service's `CustomerTables`: either it
follows a merge (its rows are re-keyed to the survivor) or it deliberately stays, with the
reason. A test reads every migration and fails when a table with a customer id column is named
nowhere, so a new customer-keyed table cannot be forgotten silently.

A projection that keeps customer-keyed rows names its service's declaration as its
`customer_tables`; the projection runner then does, in the batch's transaction (`apply_batch`):

1. record the batch's merges (`ContactsMerged`), so `apply` already sees every survivor;
2. `apply` the batch (rows are written under the subject the events name);
3. re-key every `merged` table for the batch's customers (its subjects and the duplicates it
   merged), which moves a duplicate's rows whether the merge came first or its events did;
4. call the projection's `after_merges(connection, events, customers)`, if it has one: what
   depends on the rows being where they end up (folding a duplicate's facts into the
   survivor's, forgetting what an erasure took from rows that just moved to an erased
   survivor, recomputing a survivor's state).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import asyncpg

from dialogkit.merges import Table, record_merges, rekey

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

    def names(self) -> set[str]:
        """Every table declared, merged or kept (the platform's shared ones too)."""
        return self.merged_names() | set(self.kept) | set(PLATFORM_KEPT)

    def merged_names(self) -> set[str]:
        """The names of the tables that follow a merge."""
        return {t if isinstance(t, str) else t[0] for t in self.merged}

    def __add__(self, other: CustomerTables) -> CustomerTables:
        """Both declarations, as one service holding both sets of tables declares them."""
        return CustomerTables((*self.merged, *other.merged), {**self.kept, **other.kept})


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
    await rekey(connection, customers, tables.merged)
    if isinstance(projection, AfterMerges):
        await projection.after_merges(connection, events, customers)
