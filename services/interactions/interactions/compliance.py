"""Compliance findings: outbound advertising that happened while the customer was not eligible.

Each outbound advertising contact attempt is queued when the touchpoint is projected, and checked
by a periodic job once `compliance_settle_s` has passed since it arrived, so that consent events
of the same moment, travelling on another topic, have arrived too. The check asks the consent
rules about the time of the touchpoint, from this service's own copy of the consent history.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid5

import asyncpg

from consentledger.domain import ConsentState
from consentledger.eligibility import eligibility
from consentledger.store import load_state
from dialog_schemas import Envelope
from dialog_schemas.campaigns import CampaignCreated, CampaignUpdated
from dialog_schemas.catalog import CAMPAIGNS_EVENTS, INTERACTIONS_EVENTS
from dialog_schemas.common import Channel, Direction, Purpose
from dialog_schemas.interactions import ComplianceFindingRecorded, TouchpointRecorded
from dialogkit.emitter import Emitter
from dialogkit.jobs import record_failed
from dialogkit.projection import Decoded, of_type
from dialogkit.publishing import EventPublisher
from interactions.config import SERVICE
from interactions.tables import CUSTOMER_TABLES

WORKER = Emitter(SERVICE, "worker")


def is_advertising_attempt(touchpoint: TouchpointRecorded) -> bool:
    """An outbound contact made for an advertising purpose: the sending, not its later fate."""
    if touchpoint.direction is not Direction.OUTBOUND or touchpoint.purpose is None:
        return False
    if not touchpoint.purpose.is_advertising:
        return False
    details = touchpoint.details
    if details is None or details.kind in ("call", "social"):
        return True
    return getattr(details, "status", None) == "sent"


class ComplianceProjection:
    """Queues advertising attempts for checking and keeps the findings."""

    name = "interactions.compliance"
    source = INTERACTIONS_EVENTS
    customer_tables = CUSTOMER_TABLES

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        attempts = [
            d for d in of_type(events, TouchpointRecorded) if is_advertising_attempt(d.event)
        ]
        if attempts:  # most batches hold none: no statement then
            await connection.executemany(
                "INSERT INTO compliance_checks (event_id, customer_id, touchpoint_id, channel,"
                " purpose, campaign_id, occurred_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                " ON CONFLICT DO NOTHING",
                [
                    (
                        d.envelope.id,
                        d.envelope.subject,
                        d.event.touchpoint_id,
                        d.event.channel.value,
                        d.event.purpose.value if d.event.purpose else None,
                        d.event.campaign_id,
                        d.event.occurred_at,
                    )
                    for d in attempts
                ],
            )
        if findings := of_type(events, ComplianceFindingRecorded):
            await connection.executemany(
                "INSERT INTO compliance_findings (finding_id, customer_id, touchpoint_id,"
                " channel, purpose, reason, occurred_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                " ON CONFLICT DO NOTHING",
                [
                    (
                        d.event.finding_id,
                        d.envelope.subject,
                        d.event.touchpoint_id,
                        d.event.channel.value,
                        d.event.purpose.value,
                        d.event.reason.value,
                        d.event.occurred_at,
                    )
                    for d in findings
                ],
            )


class CampaignCategories:
    """Which product category each campaign advertises."""

    name = "interactions.campaign-categories"
    source = CAMPAIGNS_EVENTS

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        rows = [
            (d.event.campaign_id, d.event.product_category)
            for d in of_type(events, CampaignCreated)
        ] + [
            (d.event.campaign_id, d.event.definition.product_category)
            for d in of_type(events, CampaignUpdated)
        ]
        if rows:
            await connection.executemany(
                "INSERT INTO campaign_categories (campaign_id, product_category) VALUES ($1, $2)"
                " ON CONFLICT (campaign_id) DO UPDATE"
                " SET product_category = excluded.product_category",
                rows,
            )


class ComplianceCheckJob:
    """Checks queued attempts that have settled and publishes a finding for each violation."""

    name = "compliance-check"

    def __init__(self, interval_s: float, settle: timedelta, expiry: timedelta) -> None:
        self.interval_s = interval_s
        self.settle = settle
        self.expiry = expiry

    async def run(self, pool: Any, publisher: EventPublisher, now: datetime | None = None) -> int:
        """Check what is due; returns the number of findings published."""
        now = now or datetime.now(UTC)
        due = await pool.fetch(
            "SELECT c.*, k.product_category FROM compliance_checks c"
            " LEFT JOIN campaign_categories k USING (campaign_id)"
            " WHERE c.checked_at IS NULL AND c.arrived_at <= $1 ORDER BY c.arrived_at LIMIT 1000",
            now - self.settle,
        )
        findings: list[Envelope] = []
        failed: dict[object, str] = {}
        for check in due:
            try:
                finding = await self._check(pool, check, now)
            except Exception as error:  # one check it cannot carry out must not stop the rest
                failed[check["event_id"]] = record_failed(self.name, str(check["event_id"]), error)
                continue
            if finding is not None:
                findings.append(finding)
        await publisher.publish(INTERACTIONS_EVENTS.name, findings)
        await pool.executemany(
            "UPDATE compliance_checks SET checked_at = $2, failed_reason = $3 WHERE event_id = $1",
            [(c["event_id"], now, failed.get(c["event_id"])) for c in due],
        )
        return len(findings)

    async def _check(self, pool: Any, check: Any, now: datetime) -> Envelope | None:
        """The finding of one queued attempt, or None if the customer was eligible."""
        # eligible when the contact began: before anything said in it (an opt-out) counts
        at = check["occurred_at"] - timedelta(microseconds=1)
        state = await load_state(pool, check["customer_id"], at) or ConsentState()
        decision = eligibility(
            state,
            Channel(check["channel"]),
            Purpose(check["purpose"]),
            at,
            product_category=check["product_category"],
            expiry=self.expiry,
        )
        if decision.allowed or decision.reason is None:
            return None
        finding = ComplianceFindingRecorded(
            finding_id=uuid5(check["event_id"], "finding"),
            touchpoint_id=check["touchpoint_id"],
            channel=Channel(check["channel"]),
            purpose=Purpose(check["purpose"]),
            occurred_at=check["occurred_at"],
            reason=decision.reason,
        )
        return WORKER.after(
            check["event_id"],
            finding,
            id=finding.finding_id,
            subject=check["customer_id"],
            time=now,
        )
