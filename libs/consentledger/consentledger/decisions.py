"""Many eligibility questions decided at once, in process: the consent service's batch route
and any service that keeps the consent history in its own read model use the same code."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from consentledger.eligibility import Decision, eligibility
from consentledger.store import Connection, states_at
from dialog_schemas.common import Channel, Purpose


@dataclass(frozen=True)
class Question:
    """May `customer_id` be contacted on `channel` for `purpose` at `at`?"""

    customer_id: str
    channel: Channel
    purpose: Purpose
    at: datetime
    product_category: str | None = None


async def decide(
    db: Connection, questions: Sequence[Question], expiry: timedelta
) -> list[Decision | None]:
    """Each question's decision (`consentledger.eligibility`: UWG §7, GDPR Art. 7(3), 17, 21),
    in the order asked; None where the customer was never registered. One query for the whole
    batch, whatever its size (`consentledger.store.states_at`); `expiry` is the configured
    period after which an unused consent lapses."""
    states = await states_at(db, [(q.customer_id, q.at) for q in questions])
    decisions: list[Decision | None] = []
    for q in questions:
        state = states.get((q.customer_id, q.at))
        decisions.append(
            None
            if state is None
            else eligibility(
                state,
                q.channel,
                q.purpose,
                q.at,
                product_category=q.product_category,
                expiry=expiry,
            )
        )
    return decisions
