"""Recording expiries: consents unused for longer than the expiry period get `ConsentExpired`.

Eligibility already treats such consents as expired at any time after their period; the job
makes the fact an event, for the proof bundle and for other systems. Event ids derive from the
consent, so replicas running the job at the same time record each expiry once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from consent.config import SERVICE
from consent.domain import expire
from consentledger.store import load_state
from dialog_schemas.catalog import CONSENT_EVENTS
from dialog_schemas.consent import ConsentExpired
from dialogkit.emitter import Emitter
from dialogkit.jobs import record_failed
from dialogkit.publishing import EventPublisher

WORKER = Emitter(SERVICE, "worker")
EXPIRY_NAMESPACE = UUID("5e0f1a2b-7c3d-4e8f-a9b0-c1d2e3f4a5b6")


class ExpiryJob:
    name = "consent-expiry"

    def __init__(self, expiry: timedelta, interval_s: float) -> None:
        self.expiry = expiry
        self.interval_s = interval_s

    async def run(self, pool: Any, publisher: EventPublisher, now: datetime | None = None) -> int:
        """Publish the expiries due now; returns how many."""
        now = now or datetime.now(UTC)
        due = await pool.fetch(
            "SELECT customer_id FROM consent_state, jsonb_array_elements(state->'consents') c"
            " WHERE c->>'status' IN ('active', 'pending')"
            " AND coalesce(c->>'last_used_at', c->>'granted_at')::timestamptz < $1"
            " GROUP BY customer_id",
            now - self.expiry,
        )
        envelopes = []
        for row in due:
            try:
                state = await load_state(pool, row["customer_id"])
                expired = expire(state, now, self.expiry) if state is not None else []
            except Exception as error:  # one customer it cannot read must not stop the rest
                record_failed(self.name, row["customer_id"], error)
                continue
            for event in expired:
                assert isinstance(event, ConsentExpired)
                event_id = uuid5(EXPIRY_NAMESPACE, str(event.consent_id))
                envelopes.append(
                    WORKER.new(event, id=event_id, subject=row["customer_id"], time=now)
                )
        await publisher.publish(CONSENT_EVENTS.name, envelopes)
        return len(envelopes)
