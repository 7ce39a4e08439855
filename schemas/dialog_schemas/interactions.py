"""Events of the interactions service: every touchpoint on every channel."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, StringConstraints

from dialog_schemas.envelope import Event

ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class Channel(StrEnum):
    PHONE = "phone"
    LETTER = "letter"
    EMAIL = "email"
    SMS = "sms"
    SOCIAL = "social"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class TouchpointRecorded(Event):
    """A contact between the company and the customer happened on a channel."""

    touchpoint_id: ExternalId
    channel: Channel
    direction: Direction
    occurred_at: AwareDatetime
    summary: Annotated[str, StringConstraints(max_length=2000)] = ""
