"""What contacts tells about a customer, as the read model keeps it next to the consent history:
registration, suppressed channels, erasure, kinds and purchases."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson

from consentledger.domain import ConsentState, Purchase, with_customer_facts
from dialog_schemas.common import Channel, CustomerKind


@dataclass(frozen=True)
class CustomerFacts:
    """One customer's facts, decoded once and shared by every question about the customer."""

    registered_at: datetime
    suppressed: Mapping[Channel, datetime]
    """The suppressed channels, each from the registration on."""
    erased_at: datetime | None
    kinds: tuple[tuple[CustomerKind, datetime], ...]
    """Each kind recorded and the time it holds from, in the order recorded."""
    purchases: tuple[Purchase, ...]

    @classmethod
    def of(cls, row: Any) -> CustomerFacts:
        """The facts of a row of `consentledger.store.FACTS` (registered_at,
        suppressed_channels, erased_at, kinds, kinds_since, purchases as JSON text)."""
        registered_at = row["registered_at"]
        kinds = zip(row["kinds"], row["kinds_since"], strict=True)
        return cls(
            registered_at,
            {Channel(c): registered_at for c in row["suppressed_channels"]},
            row["erased_at"],
            tuple((CustomerKind(k), t) for k, t in kinds),
            tuple(
                Purchase(p[0], p[1], datetime.fromisoformat(p[2]), p[3], p[4])
                for p in (orjson.loads(row["purchases"]) if row["purchases"] else [])
            ),
        )

    def applied(self, state: ConsentState, at: datetime | None) -> ConsentState:
        """`state` (the folded consent history) with these facts as they held at `at` (all of
        them without it): suppressions from the registration on, the erasure, the kind and the
        purchases known by then (`consentledger.domain.with_customer_facts`)."""
        registered = at is None or self.registered_at <= at
        state = replace(
            state,
            suppressed={**(self.suppressed if registered else {}), **state.suppressed},
            erased_at=self.erased_at,
        )
        return with_customer_facts(state, self.kinds, self.purchases, at)
