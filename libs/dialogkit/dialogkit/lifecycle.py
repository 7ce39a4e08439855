"""A service's tables keyed by customer, declared once on its definition.

Every table with a customer id column is named here: either it follows a merge (its rows are
re-keyed to the survivor) or it deliberately stays, with the reason. A test reads every
migration and fails when a table with a customer id column is named nowhere, so a new
customer-keyed table cannot be forgotten silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dialogkit.merges import Table

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
        merged = {t if isinstance(t, str) else t[0] for t in self.merged}
        return merged | set(self.kept) | set(PLATFORM_KEPT)
