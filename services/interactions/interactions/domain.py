"""Touchpoints: the commands that record them and the events they and their consequences become.

Consequences decided here, with the touchpoint:
- a call with disposition `do_not_call`, or an email or SMS `unsubscribed`, is an opt-out on that
  channel (`OptOutReceived`), which the consent service records as an objection on the channel;
- a survey answer (`survey`: score and free text, personal data like the summary) is a response
  to the outreach it names, which it must name;
- a call with disposition `sale` starts the contract-by-phone path (BRIEF rule 10): a text-form
  confirmation is due (`ContractConfirmationDue`); `ContractConfirmationSent` records it went out
  for that very sale, and the 14-day withdrawal period runs from when it reached the customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from uuid import UUID, uuid5

from pydantic import AfterValidator, BaseModel, ConfigDict

from dialog_schemas import Event
from dialog_schemas.common import Channel, ExternalId, Instant
from dialog_schemas.contacts import TimeZone
from dialog_schemas.envelope import CustomerId
from dialog_schemas.interactions import (
    CallDetails,
    CallDisposition,
    ContractConfirmationDue,
    ContractConfirmationSent,
    EmailDetails,
    EmailStatus,
    OptOutReceived,
    SmsDetails,
    SmsStatus,
    Subdivision,
    TouchpointFacts,
    TouchpointRecorded,
)
from dialogkit.rules import Conflict, RuleViolation, not_in_future
from interactions.periods import (
    DEFAULT_TIME_ZONE,
    known_federal_state,
    known_time_zone,
    withdrawal_ends_on,
)

TOUCHPOINT_NAMESPACE = UUID("6f1c2a8e-5d0b-4f4a-9a57-2b7f0c1e9d31")
API = "interactions-api"


class RecordTouchpoint(TouchpointFacts):
    """Record that a contact with the customer happened."""

    customer_id: CustomerId


class SendContractConfirmation(BaseModel):
    """Record that the text-form confirmation of a sale by phone was sent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    touchpoint_id: ExternalId
    """The call with the `sale` disposition this confirmation is for."""
    sent_via: Channel
    sent_at: Instant | None = None
    received_at: Instant | None = None
    """When it reached the customer, if later than sent (a letter); the period starts after."""
    time_zone: Annotated[TimeZone, AfterValidator(known_time_zone)] | None = None
    """The customer's IANA time zone; Europe/Berlin if not given."""
    federal_state: Annotated[Subdivision, AfterValidator(known_federal_state)] | None = None
    """ISO 3166-2 code of the customer's federal state (DE-BY); nationwide holidays if not
    given."""


@dataclass(frozen=True)
class Sale:
    """A call of the customer with the `sale` disposition, as the read model knows it."""

    touchpoint_id: str
    sale_at: datetime


def touchpoint_event_id(customer_id: str, touchpoint_id: str) -> UUID:
    """The same touchpoint, sent twice, gets the same event id."""
    return uuid5(TOUCHPOINT_NAMESPACE, f"{customer_id}/{touchpoint_id}")


def event_ids(customer_id: str, touchpoint_id: str, events: list[Event]) -> list[UUID]:
    """Ids of a touchpoint's events; its consequences' ids derive from the touchpoint's."""
    first = touchpoint_event_id(customer_id, touchpoint_id)
    return [first] + [uuid5(first, e.event_type) for e in events[1:]]


def record_touchpoint(
    facts: TouchpointFacts, now: datetime, *, reported_by: str = API
) -> list[Event]:
    """A touchpoint as reported (it cannot lie in the future), followed by its consequences.

    A survey answer must name the outreach and campaign it answers (RuleViolation on `survey`
    otherwise): it is attributed to that outreach and nothing else could tell which survey."""
    not_in_future("occurred_at", facts.occurred_at, now)
    if facts.survey is not None and (facts.outreach_id is None or facts.campaign_id is None):
        raise RuleViolation(
            "survey",
            "a survey answer names the outreach and campaign it answers"
            " (outreach_id and campaign_id)",
        )
    fields = {name: getattr(facts, name) for name in TouchpointFacts.model_fields}
    events: list[Event] = [TouchpointRecorded(**fields, reported_by=reported_by)]
    details = facts.details
    opted_out = (
        (isinstance(details, CallDetails) and details.disposition is CallDisposition.DO_NOT_CALL)
        or (isinstance(details, EmailDetails) and details.status is EmailStatus.UNSUBSCRIBED)
        or (isinstance(details, SmsDetails) and details.status is SmsStatus.UNSUBSCRIBED)
    )
    if opted_out:
        events.append(
            OptOutReceived(
                touchpoint_id=facts.touchpoint_id,
                channel=facts.channel,
                received_at=facts.occurred_at,
            )
        )
    if isinstance(details, CallDetails) and details.disposition is CallDisposition.SALE:
        events.append(
            ContractConfirmationDue(touchpoint_id=facts.touchpoint_id, sale_at=facts.occurred_at)
        )
    return events


def send_contract_confirmation(
    command: SendContractConfirmation, now: datetime, sale: Sale | None
) -> ContractConfirmationSent:
    """A confirmation is for a sale on a call of this customer (`sale`, None if there is none:
    409); the withdrawal period runs 14 days from the day after it reached the customer, in
    their calendar (§§ 187, 188, 193, 355 BGB)."""
    if sale is None:
        raise Conflict(
            f"touchpoint {command.touchpoint_id} is not a call with a sale of this customer;"
            " a contract confirmation answers such a call"
        )
    sent_at = command.sent_at or now
    not_in_future("sent_at", sent_at, now)
    if sent_at < sale.sale_at:
        raise RuleViolation("sent_at", "is before the sale it confirms")
    received_at = command.received_at or sent_at
    not_in_future("received_at", received_at, now)
    if received_at < sent_at:
        raise RuleViolation("received_at", "is before the confirmation was sent")
    time_zone = command.time_zone or DEFAULT_TIME_ZONE
    return ContractConfirmationSent(
        touchpoint_id=command.touchpoint_id,
        sent_at=sent_at,
        sent_via=command.sent_via,
        withdrawal_ends_on=withdrawal_ends_on(
            received_at, time_zone=time_zone, federal_state=command.federal_state
        ),
        received_at=received_at,
        time_zone=time_zone,
        federal_state=command.federal_state,
    )
