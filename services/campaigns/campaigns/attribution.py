"""Attribution: which outreach a response, an opt-out or a conversion answers (a pure rule).

In this order, the first that finds an outreach holds:

1. **outreach id**: a touchpoint names the outreach it answers (`outreach_id`);
2. **causation**: the event's envelope was caused by one of the outreach's events (its channel
   request or `OutreachDispatched`), or continues the outreach's conversation (its correlation
   id is the outreach id, which every outreach event carries);
3. **window**: the latest outreach dispatched to the customer at most the channel's window
   before the response (`CAMPAIGNS_RESPONSE_WINDOW_<CHANNEL>_DAYS`) and not after it. An
   inbound touchpoint or an opt-out looks at outreach on its own channel; a purchase or contract
   start at outreach of any channel whose campaign advertises the purchase's category, each
   within its own channel's window. An outbound touchpoint is not attributed by window (it may
   be any contact, not an answer).

What no rule attributes produces nothing: it is not a response to a campaign.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from dialog_schemas.campaigns import AttributionMethod, ResponseKind
from dialog_schemas.common import Channel, Direction
from dialog_schemas.interactions import (
    CallDetails,
    CallDisposition,
    EmailDetails,
    EmailStatus,
    LetterDetails,
    LetterStatus,
    SmsDetails,
    SmsStatus,
    TouchpointFacts,
)

DEFAULT_WINDOWS = {
    Channel.PHONE: timedelta(days=7),
    Channel.EMAIL: timedelta(days=14),
    Channel.SMS: timedelta(days=7),
    Channel.LETTER: timedelta(days=28),
}


@dataclass(frozen=True)
class Sent:
    """An outreach dispatched to a customer, as attribution sees it."""

    outreach_id: UUID
    customer_id: str
    campaign_id: str
    channel: Channel
    dispatched_at: datetime
    category: str | None = None
    """What the campaign advertises (for conversions)."""
    event_ids: frozenset[UUID] = frozenset()
    """The ids of its channel request and its `OutreachDispatched`."""


@dataclass(frozen=True)
class Answer:
    """Something that came back from a customer and may answer an outreach."""

    kind: ResponseKind
    at: datetime
    channel: Channel | None
    """The channel it came on; None for a conversion (bought anywhere)."""
    causation_id: UUID | None
    correlation_id: UUID | None
    outreach_id: UUID | None = None
    campaign_id: str | None = None
    category: str | None = None
    """The category bought (conversions only)."""
    by_window: bool = True
    """Whether the window may attribute it (not for outbound touchpoints)."""


@dataclass(frozen=True)
class Attribution:
    outreach: Sent
    method: AttributionMethod


def attribute(
    answer: Answer, sent: Sequence[Sent], windows: Mapping[Channel, timedelta]
) -> Attribution | None:
    """The outreach `answer` answers and how that was found, from the customer's `sent`
    outreach (and any outreach it names); None when it answers none."""
    if answer.outreach_id is not None:
        named = next((s for s in sent if s.outreach_id == answer.outreach_id), None)
        if named is None and answer.campaign_id is not None and answer.channel is not None:
            # its dispatch may not be read yet (another topic): the touchpoint says enough
            named = Sent(answer.outreach_id, "", answer.campaign_id, answer.channel, answer.at)
        if named is not None:
            return Attribution(named, AttributionMethod.OUTREACH_ID)
    caused = [
        s
        for s in sent
        if (answer.causation_id is not None and answer.causation_id in s.event_ids)
        or s.outreach_id == answer.correlation_id
    ]
    if caused:
        return Attribution(caused[0], AttributionMethod.CAUSATION)
    if not answer.by_window:
        return None
    candidates = [s for s in sent if _in_window(answer, s, windows)]
    if not candidates:
        return None
    latest = max(candidates, key=lambda s: (s.dispatched_at, str(s.outreach_id)))
    return Attribution(latest, AttributionMethod.WINDOW)


def _in_window(answer: Answer, sent: Sent, windows: Mapping[Channel, timedelta]) -> bool:
    window = windows.get(sent.channel)
    if window is None or not sent.dispatched_at <= answer.at <= sent.dispatched_at + window:
        return False
    if answer.kind is ResponseKind.PURCHASED:
        return sent.category is not None and sent.category == answer.category
    return sent.channel == answer.channel


CALL_KINDS = {
    CallDisposition.SALE: ResponseKind.INTERESTED,  # a contract only once confirmed in text form
    CallDisposition.CALLBACK_REQUESTED: ResponseKind.INTERESTED,
    CallDisposition.NOT_INTERESTED: ResponseKind.DECLINED,
    CallDisposition.DO_NOT_CALL: ResponseKind.UNSUBSCRIBED,
}
STATUS_KINDS: dict[object, ResponseKind] = {
    EmailStatus.CLICKED: ResponseKind.INTERESTED,
    EmailStatus.REPLIED: ResponseKind.OTHER,
    EmailStatus.UNSUBSCRIBED: ResponseKind.UNSUBSCRIBED,
    SmsStatus.REPLIED: ResponseKind.OTHER,
    SmsStatus.UNSUBSCRIBED: ResponseKind.UNSUBSCRIBED,
    LetterStatus.RESPONSE: ResponseKind.INTERESTED,  # a returned response card
}


def touchpoint_kind(touchpoint: TouchpointFacts) -> ResponseKind | None:
    """What a touchpoint says as a response; None if it is no response (a delivery report, an
    unanswered call, an outbound contact without an outcome)."""
    if touchpoint.survey is not None:
        return ResponseKind.ANSWERED
    details = touchpoint.details
    kind: ResponseKind | None = None
    if isinstance(details, CallDetails):
        kind = CALL_KINDS.get(details.disposition)
    elif isinstance(details, EmailDetails | SmsDetails | LetterDetails):
        kind = STATUS_KINDS.get(details.status)
    if kind is None and touchpoint.direction is Direction.INBOUND:
        unreached = isinstance(details, CallDetails) and (
            details.disposition is CallDisposition.NOT_REACHED
        )
        return None if unreached else ResponseKind.OTHER
    return kind
