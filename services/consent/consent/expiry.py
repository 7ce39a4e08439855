"""Recording expiries: consents unused for longer than the expiry period get `ConsentExpired`.

Eligibility already treats such consents as expired at any time after their period; the job
makes the fact an event, for the proof bundle and for other systems. Event ids derive from the
consent, so replicas running the job at the same time record each expiry once.

`consent_state` (the published state) only says which customers to look at; the ledger decides.
A row whose consents it cannot read (a time that is no time) makes its customer a candidate
instead of failing the query for everyone. A customer whose ledger the job cannot fold is
counted and recorded in `expiry_failures` with the reason (`dialogkit.jobs.record_failed`), and
not tried again until the customer's state changes; the others go on.
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
from dialogkit.problems import DATABASE_OUTAGES, NETWORK_OUTAGES
from dialogkit.publishing import EventPublisher

WORKER = Emitter(SERVICE, "worker")
EXPIRY_NAMESPACE = UUID("5e0f1a2b-7c3d-4e8f-a9b0-c1d2e3f4a5b6")


USED_AT = "coalesce(c->>'last_used_at', c->>'granted_at')"
DUE = (
    "SELECT s.customer_id, s.as_of FROM consent_state s"
    " WHERE NOT EXISTS (SELECT 1 FROM expiry_failures f"
    "  WHERE f.customer_id = s.customer_id AND f.as_of = s.as_of)"
    " AND (jsonb_typeof(s.state->'consents') IS DISTINCT FROM 'array'"
    "  OR EXISTS (SELECT 1 FROM jsonb_array_elements(s.state->'consents') c"
    "   WHERE c->>'status' IN ('active', 'pending')"
    f"   AND CASE WHEN pg_input_is_valid({USED_AT}, 'timestamptz')"
    f"    THEN {USED_AT}::timestamptz < $1 ELSE true END))"
)
"""Customers with a consent unused since before $1, or a state whose consents cannot be read
(the ledger decides for them), but not those that failed on their current state."""
FAILED = (
    "INSERT INTO expiry_failures (customer_id, as_of, failed_at, reason) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (customer_id) DO UPDATE SET as_of = excluded.as_of,"
    " failed_at = excluded.failed_at, reason = excluded.reason"
)


class ExpiryJob:
    name = "consent-expiry"

    def __init__(self, expiry: timedelta, interval_s: float) -> None:
        self.expiry = expiry
        self.interval_s = interval_s

    async def run(self, pool: Any, publisher: EventPublisher, now: datetime | None = None) -> int:
        """Publish the expiries due now; returns how many."""
        now = now or datetime.now(UTC)
        due = await pool.fetch(DUE, now - self.expiry)
        envelopes = []
        for row in due:
            try:
                state = await load_state(pool, row["customer_id"])
                expired = expire(state, now, self.expiry) if state is not None else []
            except DATABASE_OUTAGES + NETWORK_OUTAGES:
                raise  # an outage ends the round; it is no fault of this customer
            except Exception as error:  # one customer it cannot read must not stop the rest
                reason = record_failed(self.name, row["customer_id"], error)
                await pool.execute(FAILED, row["customer_id"], row["as_of"], now, reason)
                continue
            for event in expired:
                assert isinstance(event, ConsentExpired)
                event_id = uuid5(EXPIRY_NAMESPACE, str(event.consent_id))
                envelopes.append(
                    WORKER.new(event, id=event_id, subject=row["customer_id"], time=now)
                )
        await publisher.publish(CONSENT_EVENTS.name, envelopes)
        return len(envelopes)
