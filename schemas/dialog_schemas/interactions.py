"""Events of the interactions service: touchpoints on every channel and what follows from them."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from dialog_schemas.common import (
    NO_NUL,
    BlockReason,
    CalendarDate,
    Channel,
    Count,
    Direction,
    EmailAddress,
    ExternalId,
    FreeText,
    Instant,
    Label,
    Part,
    PhoneNumber,
    Purpose,
)
from dialog_schemas.contacts import TimeZone
from dialog_schemas.envelope import Event
from dialog_schemas.personal import Personal

Subdivision = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}-[A-Z0-9]{1,3}$")]
"""ISO 3166-2 code of a country's subdivision, e.g. DE-BY for Bavaria."""

__all__ = ["Channel", "Direction", "ExternalId", "Purpose"]


class CallDisposition(StrEnum):
    REACHED = "reached"
    NOT_REACHED = "not_reached"
    CALLBACK_REQUESTED = "callback_requested"
    SALE = "sale"
    NOT_INTERESTED = "not_interested"
    DO_NOT_CALL = "do_not_call"


class LetterStatus(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    RETURNED = "returned"
    RESPONSE = "response"


class EmailStatus(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    BOUNCED = "bounced"
    OPENED = "opened"
    CLICKED = "clicked"
    REPLIED = "replied"
    UNSUBSCRIBED = "unsubscribed"


class SmsStatus(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    REPLIED = "replied"
    UNSUBSCRIBED = "unsubscribed"


class CallDetails(Part):
    kind: Literal["call"] = "call"
    agent_id: ExternalId | None = None
    queue: Label | None = None
    duration_s: Count = 0
    disposition: CallDisposition
    phone_number: Personal[PhoneNumber | None] = None


class LetterDetails(Part):
    kind: Literal["letter"] = "letter"
    mailing_id: ExternalId
    status: LetterStatus


class EmailDetails(Part):
    kind: Literal["email"] = "email"
    message_id: ExternalId
    status: EmailStatus
    email_address: Personal[EmailAddress | None] = None
    link: Annotated[str, Field(max_length=2000, pattern=NO_NUL)] | None = None
    """The link clicked, for `clicked`."""


class SmsDetails(Part):
    kind: Literal["sms"] = "sms"
    message_id: ExternalId
    status: SmsStatus
    phone_number: Personal[PhoneNumber | None] = None


class SocialDetails(Part):
    kind: Literal["social"] = "social"
    platform: Label
    thread_id: ExternalId
    message_id: ExternalId
    author_handle: Personal[Label | None] = None


Details = Annotated[
    CallDetails | LetterDetails | EmailDetails | SmsDetails | SocialDetails,
    Field(discriminator="kind"),
]
DETAILS_CHANNEL = {"call": "phone", "letter": "letter", "email": "email", "sms": "sms"}


class SurveyAnswer(Part):
    """A customer's answer to a survey; the touchpoint names the survey campaign and outreach."""

    score: Annotated[int, Field(ge=0, le=10)] | None = None
    free_text: Personal[FreeText] = ""


class TouchpointFacts(Part):
    """What happened on a channel, as reported by whoever saw it."""

    touchpoint_id: ExternalId
    """Unique per customer in the reporting system; the same id reported twice is one touchpoint."""
    channel: Channel
    direction: Direction
    occurred_at: Instant
    purpose: Purpose | None = None
    summary: Personal[FreeText] = ""
    """What was said or written; may quote the customer."""
    details: Details | None = None
    campaign_id: ExternalId | None = None
    outreach_id: UUID | None = None
    """The outreach decision this touchpoint carried out, for attribution."""
    survey: SurveyAnswer | None = None
    """Set when the touchpoint answers a survey (`campaign_id` names the survey campaign)."""

    @field_validator("details")
    @classmethod
    def _details_match_channel(cls, details: Details | None, info: ValidationInfo) -> Any:
        channel = info.data.get("channel")
        belongs_to = DETAILS_CHANNEL.get(details.kind, details.kind) if details else None
        if belongs_to is not None and channel is not None and belongs_to != channel.value:
            raise ValueError(
                f"these details belong to channel {belongs_to!r}, not {channel.value!r}"
            )
        return details


class TouchpointRecorded(TouchpointFacts, Event):
    """A contact between the company and the customer happened on a channel.

    Version 2 added `reported_by` (required), made `summary` personal data and added purpose,
    channel details, campaign and outreach references.
    """

    schema_version = 2
    reported_by: Label
    """The system that reported it: `interactions-api` or the ingress producer's source."""


class TouchpointReported(TouchpointFacts, Event):
    """Ingress: an outside system (telephony, email provider, letter shop, social tool) saw this."""


def upcast_touchpoint_recorded_v1(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 was recorded only through the interactions API."""
    return {**data, "reported_by": "interactions-api"}


class OptOutReceived(Event):
    """A touchpoint said 'stop' (do-not-call disposition, unsubscribe): consent must be revoked."""

    touchpoint_id: ExternalId
    channel: Channel
    received_at: Instant


class ContractConfirmationDue(Event):
    """A sale on a call needs a text-form confirmation before it is a contract (BRIEF rule 10)."""

    touchpoint_id: ExternalId
    sale_at: Instant


class ContractConfirmationSent(Event):
    """The text-form confirmation went out; the withdrawal period runs from when it arrived."""

    touchpoint_id: ExternalId
    sent_at: Instant
    sent_via: Channel
    withdrawal_ends_on: CalendarDate
    """The last day of the withdrawal period in the customer's calendar (§§ 187, 188, 193 BGB)."""
    received_at: Instant | None = None
    """When the confirmation reached the customer (the period starts the day after)."""
    time_zone: TimeZone | None = None
    """The customer's time zone the days were counted in (IANA name)."""
    federal_state: Subdivision | None = None
    """ISO 3166-2 code of the customer's federal state whose public holidays counted, if known."""


class ComplianceFindingRecorded(Event):
    """An outbound advertising touchpoint happened while the customer was not eligible."""

    finding_id: UUID
    touchpoint_id: ExternalId
    channel: Channel
    purpose: Purpose
    occurred_at: Instant
    reason: BlockReason
