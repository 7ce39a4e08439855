"""Touchpoints: the commands that record them and the events they become."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from pydantic import AwareDatetime, BaseModel, ConfigDict

from dialog_schemas.envelope import CustomerId
from dialog_schemas.interactions import Channel, Direction, ExternalId, TouchpointRecorded

TOUCHPOINT_NAMESPACE = UUID("6f1c2a8e-5d0b-4f4a-9a57-2b7f0c1e9d31")


class RecordTouchpoint(BaseModel):
    """Record that a contact with the customer happened."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_id: CustomerId
    touchpoint_id: ExternalId
    channel: Channel
    direction: Direction
    occurred_at: AwareDatetime
    summary: str = ""


def touchpoint_event_id(customer_id: str, touchpoint_id: str) -> UUID:
    """The same touchpoint, sent twice, gets the same event id."""
    return uuid5(TOUCHPOINT_NAMESPACE, f"{customer_id}/{touchpoint_id}")


def record_touchpoint(command: RecordTouchpoint, now: datetime) -> list[TouchpointRecorded]:
    """A touchpoint is recorded as it was reported; it cannot lie in the future."""
    if command.occurred_at > now:
        raise TouchpointInFuture(command.occurred_at, now)
    return [
        TouchpointRecorded(
            touchpoint_id=command.touchpoint_id,
            channel=command.channel,
            direction=command.direction,
            occurred_at=command.occurred_at,
            summary=command.summary,
        )
    ]


class TouchpointInFuture(ValueError):
    def __init__(self, occurred_at: datetime, now: datetime) -> None:
        super().__init__(f"occurred_at {occurred_at.isoformat()} is after now ({now.isoformat()})")
