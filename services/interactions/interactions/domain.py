"""Touchpoints: the commands that record them and the events they become."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from dialog_schemas.envelope import CustomerId
from dialog_schemas.interactions import TouchpointFacts, TouchpointRecorded
from dialogkit.rules import not_in_future

TOUCHPOINT_NAMESPACE = UUID("6f1c2a8e-5d0b-4f4a-9a57-2b7f0c1e9d31")
API = "interactions-api"


class RecordTouchpoint(TouchpointFacts):
    """Record that a contact with the customer happened."""

    customer_id: CustomerId


def touchpoint_event_id(customer_id: str, touchpoint_id: str) -> UUID:
    """The same touchpoint, sent twice, gets the same event id."""
    return uuid5(TOUCHPOINT_NAMESPACE, f"{customer_id}/{touchpoint_id}")


def record_touchpoint(
    facts: TouchpointFacts, now: datetime, *, reported_by: str = API
) -> list[TouchpointRecorded]:
    """A touchpoint is recorded as it was reported; it cannot lie in the future."""
    not_in_future("occurred_at", facts.occurred_at, now)
    fields = {name: getattr(facts, name) for name in TouchpointFacts.model_fields}
    return [TouchpointRecorded(**fields, reported_by=reported_by)]
