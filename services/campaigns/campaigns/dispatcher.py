"""The dispatcher: due outreach decided in batches, each decision recorded once.

A round: (1) the read barrier waits until the consent view has applied the consent and contacts
topics up to their ends as of the round's start (`campaigns.barrier`); (2) one transaction takes
a batch of due outreach with `FOR UPDATE SKIP LOCKED` (replicas take different rows; a crash
rolls back and leaves them due), loads the customers' consent state (the shared ledger), facts
and recent contacts, decides each outreach with the pure `dispatch.decide`, writes the events
and channel requests into the outbox and removes decided outreach from `outreach_due` (deferred
outreach gets its new due time); (3) after the commit the outbox relay publishes (while the next
round is decided). No network call happens inside the transaction.

Outreach of a paused campaign waits; of a stopped or completed campaign it is cancelled, as is
triggered outreach whose reason is gone (`triggers.reason_gone`: the cancellation withdrawn, the
offered category bought since).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from campaigns import decision_metrics
from campaigns.audience import CustomerFacts
from campaigns.audience_store import contact_points, facts_for
from campaigns.barrier import ReadBarrier
from campaigns.calling_hours import zones_from
from campaigns.dispatch import (
    Authorized,
    Blocked,
    Contact,
    Deferred,
    DueOutreach,
    Outcome,
    Policy,
    decide,
    effective_caps,
)
from campaigns.due import (
    Decisions,
    Row,
    anything_due,
    phone_zones,
    recent_contacts,
    record,
    request,
    take_due,
)
from campaigns.outbox import OutboxRelay, event_row, outreach_envelope
from campaigns.triggered import holdings_of
from campaigns.triggers import Holding, reason_gone
from consentledger.domain import ConsentState
from consentledger.store import load_states
from dialog_schemas import Event
from dialog_schemas.campaigns import (
    CancellationReason,
    FrequencyCaps,
    OutreachAuthorized,
    OutreachBlocked,
    OutreachCancelled,
    OutreachDeferred,
)
from dialog_schemas.catalog import CAMPAIGNS_EVENTS
from dialogkit.jobs import record_failed
from dialogkit.publishing import EventPublisher
from dialogkit.tracing import current_traceparent

log = logging.getLogger(__name__)
RETRY_AFTER = timedelta(minutes=1)
"""When an outreach whose decision failed (a defect, counted and logged) is tried again."""


@dataclass(frozen=True)
class Known:
    """What a round knows about its customers, read in its transaction."""

    states: dict[str, ConsentState]
    facts: dict[str, CustomerFacts]
    contacts: dict[str, list[Contact]]
    points: dict[str, dict[str, Any]]
    zones: dict[str, list[str]]
    """The zones each customer's phone number implies, where read."""
    holdings: dict[str, list[Holding]]
    """Products and contracts of the customers of triggered outreach (is the reason gone?)."""
    traceparent: str | None
    """The round's trace, read once, which every event it writes carries."""


class Dispatcher:
    """The periodic job that decides due outreach."""

    name = "dispatch"

    def __init__(
        self,
        barrier: ReadBarrier,
        relay: OutboxRelay,
        policy: Policy,
        caps: FrequencyCaps,
        *,
        default_zone: str,
        interval_s: float = 0.2,
        batch: int = 2000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.interval_s = interval_s
        self._barrier = barrier
        self._relay = relay
        self._policy = policy
        self._caps = caps
        self._zone = default_zone
        self._batch = batch
        self._clock = clock

    async def run(self, pool: asyncpg.Pool, publisher: EventPublisher) -> int:
        """Decide rounds until nothing is due; the number of outreach decided."""
        await self._relay.flush(pool, publisher)  # what an earlier run left
        total = 0
        publishing: asyncio.Task[int] | None = None
        try:
            while await anything_due(pool, self._clock()):
                await self._barrier.wait(pool)
                decided = await self.round(pool)
                total += decided
                if publishing is not None:  # one round is published while the next is decided
                    await publishing
                publishing = asyncio.create_task(self._relay.flush(pool, publisher))
                if decided < self._batch:
                    break
        finally:
            if publishing is not None:
                await publishing
        return total

    async def round(self, pool: asyncpg.Pool) -> int:
        """Decide one batch of due outreach in one transaction (the barrier already passed)."""
        now, began = self._clock(), time.perf_counter()
        async with pool.acquire() as connection, connection.transaction():
            rows = await take_due(connection, now, self._batch)
            if not rows:
                return 0
            customers = sorted({r.customer_id for r in rows})
            states = await load_states(connection, customers, now)
            facts = await facts_for(connection, customers)
            caps = {
                r.campaign_id: effective_caps(self._caps, r.definition.frequency_caps) for r in rows
            }
            contacts = await recent_contacts(connection, customers, now, list(caps.values()))
            known = Known(
                states,
                facts,
                contacts,
                await contact_points(connection, customers),
                await phone_zones(connection, customers),
                await holdings_of(connection, sorted({r.customer_id for r in rows if r.origin})),
                current_traceparent(),
            )
            decisions = Decisions.empty()
            for row in rows:
                mine = Decisions.empty()  # all of one outreach's decision, or nothing of it
                try:
                    self._one(row, caps[row.campaign_id], known, now, mine)
                except Exception as error:  # one outreach must not hold up the others
                    record_failed(self.name, str(row.outreach_id), error)
                    mine = Decisions.empty()
                    mine.retry.append((row.outreach_id, now + RETRY_AFTER))
                decisions.add(mine)
            await record(connection, decisions)
        decision_metrics.decided(rows, decisions.events, time.perf_counter() - began)
        return len(rows)

    def _one(
        self,
        row: Row,
        caps: FrequencyCaps,
        lookups: Known,
        now: datetime,
        out: Decisions,
    ) -> None:
        customer, definition = row.customer_id, row.definition
        ended: CancellationReason | None = None
        if row.status in ("stopped", "completed"):
            ended = CancellationReason(f"campaign_{row.status}")
        elif row.origin is not None:  # a triggered outreach whose reason may be gone
            ended = reason_gone(row.origin, lookups.holdings.get(customer, []))
        if ended is not None:
            cancelled = _cancelled(row, now, ended)
            out.events.append(_event(row, cancelled, "cancelled", lookups.traceparent))
            out.done.append(row.outreach_id)
            return
        known = lookups.facts.get(customer)
        zones = zones_from(
            known.time_zone if known else None, lookups.zones.get(customer, []), self._zone
        )
        due = DueOutreach(
            channel=row.channel,
            purpose=row.purpose,
            product_category=definition.product_category,
            ends_at=definition.ends_at,
            caps=caps,
        )
        outcome = decide(
            due,
            lookups.states.get(customer, ConsentState()),
            erased=known is not None and known.erased,
            zones=zones,
            contacts=lookups.contacts.get(customer, []),
            now=now,
            policy=self._policy,
        )
        self._record_outcome(row, outcome, now, lookups, out)

    def _record_outcome(
        self, row: Row, outcome: Outcome, now: datetime, lookups: Known, out: Decisions
    ) -> None:
        common: dict[str, Any] = {
            "outreach_id": row.outreach_id,
            "campaign_id": row.campaign_id,
            "channel": row.channel,
            "purpose": row.purpose,
            "decided_at": now,
        }
        trace = lookups.traceparent
        if isinstance(outcome, Deferred):
            event: Event = OutreachDeferred(**common, until=outcome.until, reason=outcome.reason)
            out.events.append(_event(row, event, f"deferred-{row.deferrals + 1}", trace))
            out.deferred.append((row.outreach_id, outcome.until))
            return
        out.done.append(row.outreach_id)
        if isinstance(outcome, Blocked):
            out.events.append(
                _event(row, OutreachBlocked(**common, reason=outcome.reason), "decided", trace)
            )
            return
        assert isinstance(outcome, Authorized)
        authorized = OutreachAuthorized(
            **common, legal_basis=outcome.legal_basis, consent_id=outcome.consent_id
        )
        out.requests.append(request(row, now, lookups.points.get(row.customer_id, {})))
        out.events.append(_event(row, authorized, "decided", trace))
        out.contacts.append((row.outreach_id, row.customer_id, row.channel.value, now))
        lookups.contacts.setdefault(row.customer_id, []).append(Contact(row.channel, now))


def _event(row: Row, event: Event, what: str, traceparent: str | None) -> tuple[Any, ...]:
    envelope = outreach_envelope(event, row.customer_id, row.outreach_id, what, traceparent)
    return event_row(CAMPAIGNS_EVENTS.name, envelope)


def _cancelled(row: Row, now: datetime, reason: CancellationReason) -> OutreachCancelled:
    return OutreachCancelled(
        outreach_id=row.outreach_id,
        campaign_id=row.campaign_id,
        channel=row.channel,
        cancelled_at=now,
        reason=reason,
    )
