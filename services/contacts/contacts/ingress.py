"""Purchases and cancellations reported by the shop and billing become contact events."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from uuid import UUID

from contacts.config import SERVICE
from contacts.domain import (
    cancellation_event_id,
    purchase_event_id,
    record_cancellation,
    record_purchase,
)
from dialog_schemas import Envelope, Event
from dialog_schemas.catalog import CONTACTS_EVENTS, CONTACTS_INGRESS
from dialog_schemas.contacts import CancellationReported, PurchaseReported
from dialogkit.emitter import Emitter
from dialogkit.projection import Decoded

INGRESS = Emitter(SERVICE, "ingress")


def _purchase(subject: str, report: Event, now: datetime) -> tuple[UUID, Event]:
    assert isinstance(report, PurchaseReported)
    return purchase_event_id(subject, report.purchase_id), record_purchase(report, now)


def _cancellation(subject: str, report: Event, now: datetime) -> tuple[UUID, Event]:
    assert isinstance(report, CancellationReported)
    return cancellation_event_id(subject, report.contract_id), record_cancellation(report, now)


HANDLERS: dict[type[Event], Callable[[str, Event, datetime], tuple[UUID, Event]]] = {
    PurchaseReported: _purchase,
    CancellationReported: _cancellation,
}


class ShopIngress:
    name = "contacts.ingress"
    source = CONTACTS_INGRESS
    target = CONTACTS_EVENTS

    def translate(self, incoming: Decoded, now: datetime) -> Sequence[Envelope]:
        envelope = incoming.envelope
        event_id, event = HANDLERS[type(incoming.event)](envelope.subject, incoming.event, now)
        return [INGRESS.caused_by(envelope, event, id=event_id, time=now)]
