"""Purchases, cancellations and their withdrawals reported by the shop and billing become
contact events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from uuid import UUID

from contacts.config import SERVICE, Settings
from contacts.domain import (
    cancellation_event_id,
    purchase_event_id,
    record_cancellation,
    record_purchase,
    record_withdrawal,
    withdrawal_event_id,
)
from contacts.suppression import purchase_emails, suppressed
from dialog_schemas import Envelope, Event
from dialog_schemas.catalog import CONTACTS_EVENTS, CONTACTS_INGRESS
from dialog_schemas.contacts import (
    CancellationReported,
    CancellationWithdrawalReported,
    PurchaseReported,
)
from dialogkit.emitter import Emitter
from dialogkit.ingress import IngressContext
from dialogkit.projection import Decoded

INGRESS = Emitter(SERVICE, "ingress")


async def _purchase(
    subject: str, report: Event, now: datetime, context: IngressContext[Settings]
) -> tuple[UUID, Event]:
    """A purchase's address is checked against erased contact points, as on every path."""
    assert isinstance(report, PurchaseReported)
    event = record_purchase(report, now)
    salt = context.settings.suppression_salt.get_secret_value()
    found = await suppressed(context.db, salt, emails=purchase_emails(event))
    event = event.model_copy(update={"suppressed_channels": found.channels})
    return purchase_event_id(subject, report.purchase_id), event


async def _cancellation(
    subject: str, report: Event, now: datetime, context: IngressContext[Settings]
) -> tuple[UUID, Event]:
    assert isinstance(report, CancellationReported)
    return cancellation_event_id(subject, report.contract_id), record_cancellation(report, now)


async def _withdrawal(
    subject: str, report: Event, now: datetime, context: IngressContext[Settings]
) -> tuple[UUID, Event]:
    assert isinstance(report, CancellationWithdrawalReported)
    return withdrawal_event_id(subject, report.contract_id), record_withdrawal(report, now)


Handler = Callable[[str, Event, datetime, IngressContext[Settings]], Awaitable[tuple[UUID, Event]]]
HANDLERS: dict[type[Event], Handler] = {
    PurchaseReported: _purchase,
    CancellationReported: _cancellation,
    CancellationWithdrawalReported: _withdrawal,
}


class ShopIngress:
    name = "contacts.ingress"
    source = CONTACTS_INGRESS
    target = CONTACTS_EVENTS

    async def translate(
        self, incoming: Decoded, now: datetime, context: IngressContext[Settings]
    ) -> Sequence[Envelope]:
        envelope = incoming.envelope
        handler = HANDLERS[type(incoming.event)]
        event_id, event = await handler(envelope.subject, incoming.event, now, context)
        return [INGRESS.caused_by(envelope, event, id=event_id, time=now)]
