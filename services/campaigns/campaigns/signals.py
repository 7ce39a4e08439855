"""Behavioural signals reported by outside systems (the web shop) become campaign events.

`BehaviouralSignalReported` on `campaigns.ingress.v1` is validated like every ingress record
(`dialogkit.ingress`: strict, dead letters with the field and reason) and becomes
`BehaviouralSignalRecorded` on `campaigns.events.v1`, the trigger of personalised letters. The
event id derives from the customer and the signal id, so a signal reported twice is one event.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID, uuid5

from campaigns.config import SERVICE
from dialog_schemas import Envelope
from dialog_schemas.campaigns import (
    BehaviouralSignalRecorded,
    BehaviouralSignalReported,
    SignalFacts,
)
from dialog_schemas.catalog import CAMPAIGNS_EVENTS, CAMPAIGNS_INGRESS
from dialogkit.emitter import Emitter
from dialogkit.ingress import IngressContext
from dialogkit.projection import Decoded
from dialogkit.rules import not_in_future

INGRESS = Emitter(SERVICE, "ingress")
SIGNAL_NAMESPACE = UUID("5c7e1a3b-2d4f-4e6a-9b8c-0f1e2d3c4b5a")


def signal_event_id(customer_id: str, signal_id: str) -> UUID:
    """The same signal reported twice is one event."""
    return uuid5(SIGNAL_NAMESPACE, f"{customer_id}/signal/{signal_id}")


def record_signal(report: BehaviouralSignalReported, now: datetime) -> BehaviouralSignalRecorded:
    """A signal has happened: it cannot lie in the future (`RuleViolation` on `occurred_at`)."""
    not_in_future("occurred_at", report.occurred_at, now)
    return BehaviouralSignalRecorded(
        **{name: getattr(report, name) for name in SignalFacts.model_fields}
    )


class SignalIngress:
    name = "campaigns.ingress"
    source = CAMPAIGNS_INGRESS
    target = CAMPAIGNS_EVENTS

    async def translate(
        self, incoming: Decoded, now: datetime, context: IngressContext
    ) -> Sequence[Envelope]:
        """`BehaviouralSignalRecorded` for a valid report, caused by it."""
        envelope, report = incoming.envelope, incoming.event
        assert isinstance(report, BehaviouralSignalReported)
        event = record_signal(report, now)
        event_id = signal_event_id(envelope.subject, report.signal_id)
        return [INGRESS.caused_by(envelope, event, id=event_id, time=now)]
