"""Touchpoints other systems report on the ingress topic become recorded touchpoints."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from dialog_schemas import Envelope
from dialog_schemas.catalog import INTERACTIONS_EVENTS, INTERACTIONS_INGRESS
from dialog_schemas.interactions import TouchpointReported
from dialogkit.emitter import Emitter
from dialogkit.ingress import IngressContext
from dialogkit.projection import Decoded
from interactions.config import SERVICE
from interactions.domain import event_ids, record_touchpoint

INGRESS = Emitter(SERVICE, "ingress")


class TouchpointIngress:
    """Same rules as the HTTP API; the reporting system is kept as `reported_by`."""

    name = "interactions.ingress"
    source = INTERACTIONS_INGRESS
    target = INTERACTIONS_EVENTS

    async def translate(
        self, incoming: Decoded, now: datetime, context: IngressContext
    ) -> Sequence[Envelope]:
        report = incoming.event
        assert isinstance(report, TouchpointReported)
        envelope = incoming.envelope
        events = record_touchpoint(report, now, reported_by=envelope.source)
        ids = event_ids(envelope.subject, report.touchpoint_id, events)
        return [
            INGRESS.caused_by(envelope, event, id=event_id, time=now)
            for event, event_id in zip(events, ids, strict=True)
        ]
