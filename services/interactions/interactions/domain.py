"""Touchpoints: the commands that record them and the events they and their consequences become.

Consequences decided here, with the touchpoint:
- a call with disposition `do_not_call`, or an email or SMS `unsubscribed`, is an opt-out on that
  channel (`OptOutReceived`), which the consent service records as an objection on the channel;
- a call with disposition `sale` starts the contract-by-phone path (BRIEF rule 10): a text-form
  confirmation is due (`ContractConfirmationDue`); `ContractConfirmationSent` records it went out,
  and the 14-day withdrawal period runs from then.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict

from dialog_schemas import Event
from dialog_schemas.common import Channel, ExternalId, Instant
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
    TouchpointFacts,
    TouchpointRecorded,
)
from dialogkit.rules import not_in_future

TOUCHPOINT_NAMESPACE = UUID("6f1c2a8e-5d0b-4f4a-9a57-2b7f0c1e9d31")
API = "interactions-api"
WITHDRAWAL_PERIOD = timedelta(days=14)


class RecordTouchpoint(TouchpointFacts):
    """Record that a contact with the customer happened."""

    customer_id: CustomerId


class SendContractConfirmation(BaseModel):
    """Record that the text-form confirmation of a sale by phone was sent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    touchpoint_id: ExternalId
    sent_via: Channel
    sent_at: Instant | None = None


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
    """A touchpoint as reported (it cannot lie in the future), followed by its consequences."""
    not_in_future("occurred_at", facts.occurred_at, now)
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
    command: SendContractConfirmation, now: datetime
) -> ContractConfirmationSent:
    """The withdrawal period of a distance contract runs 14 days from the confirmation."""
    sent_at = command.sent_at or now
    not_in_future("sent_at", sent_at, now)
    return ContractConfirmationSent(
        touchpoint_id=command.touchpoint_id,
        sent_at=sent_at,
        sent_via=command.sent_via,
        withdrawal_ends_on=(sent_at + WITHDRAWAL_PERIOD).date(),
    )
