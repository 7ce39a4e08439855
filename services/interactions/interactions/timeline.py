"""What each event looks like in a customer's timeline: when, on which channel, what happened.

One function per event type, registered in `DESCRIPTIONS`. The timeline merges the events of all
four services' topics; an event type without a description (e.g. `CampaignCreated`, which is not
about a customer) has no entry.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from dialog_schemas import Event
from dialog_schemas import campaigns as cp
from dialog_schemas import consent as cs
from dialog_schemas import contacts as ct
from dialog_schemas import interactions as ia
from dialog_schemas.common import Channel, Direction


class Entry(NamedTuple):
    """An event as a timeline shows it.

    A named tuple: one is made per event projected, and a frozen dataclass cost several times
    as much to make."""

    occurred_at: datetime
    summary: str
    channel: Channel | None = None
    direction: Direction | None = None
    source_ref: str | None = None
    note: str | None = None
    """Personal free text (what was said or written), sealed as it came; opened when read,
    dropped when the customer is erased."""
    answer: str | None = None
    """A survey answer's free text, sealed as it came; kept and shown like the note."""


def _words(member: StrEnum) -> str:
    """An enumeration's value as words (`no_answer` -> `no answer`). The members are strings:
    their own methods give their value, without `.value` (a Python-level property)."""
    return member.replace("_", " ")


def _call(d: ia.CallDetails) -> str:
    duration = f" ({d.duration_s} s)" if d.duration_s else ""
    return "Call: " + _words(d.disposition) + duration


def _letter(d: ia.LetterDetails) -> str:
    return "Letter " + d.status + f" (mailing {d.mailing_id})"


def _email(d: ia.EmailDetails) -> str:
    return "Email " + d.status


def _sms(d: ia.SmsDetails) -> str:
    return "SMS " + d.status


def _social(d: ia.SocialDetails) -> str:
    return f"Social message on {d.platform}"


HEADLINES: dict[str, Callable[[Any], str]] = {
    "call": _call,
    "letter": _letter,
    "email": _email,
    "sms": _sms,
    "social": _social,
}
"""A touchpoint's headline by the kind of its details."""


def _touchpoint(e: ia.TouchpointRecorded) -> Entry:
    details, survey, purpose = e.details, e.survey, e.purpose
    if details is not None:
        headline = HEADLINES[details.kind](details)
    else:
        headline = e.channel.capitalize() + " touchpoint"
    answer = None
    if survey is not None:
        headline += (
            ", survey answer" if survey.score is None else f", survey answer (score {survey.score})"
        )
        answer = survey.free_text or None
    if purpose is not None:
        headline += " [" + purpose + "]"
    return Entry(
        e.occurred_at,
        headline,
        e.channel,
        e.direction,
        e.touchpoint_id,
        e.summary or None,
        answer,
    )


def _consent_granted(e: cs.ConsentGranted) -> Entry:
    pending = " (pending double opt-in)" if e.pending_confirmation else ""
    summary = f"Consent given: {e.channel} for {e.purpose}{pending}"
    return Entry(e.evidence.captured_at, summary, e.channel, Direction.INBOUND, str(e.consent_id))


def _consent_revoked(e: cs.ConsentRevoked) -> Entry:
    summary = f"Consent withdrawn: {e.channel} for {e.purpose}, via {e.via_channel}"
    return Entry(e.revoked_at, summary, e.channel, Direction.INBOUND, str(e.consent_id))


DESCRIPTIONS: dict[type[Event], Callable[[Any], Entry]] = {
    ia.TouchpointRecorded: _touchpoint,
    ia.OptOutReceived: lambda e: Entry(
        e.received_at,
        f"Opt-out received on {e.channel}",
        e.channel,
        Direction.INBOUND,
        e.touchpoint_id,
    ),
    ia.ContractConfirmationDue: lambda e: Entry(
        e.sale_at, "Sale by phone: text-form confirmation due", Channel.PHONE, None, e.touchpoint_id
    ),
    ia.ContractConfirmationSent: lambda e: Entry(
        e.sent_at,
        f"Contract confirmation sent; withdrawal period ends {e.withdrawal_ends_on.isoformat()}",
        e.sent_via,
        Direction.OUTBOUND,
        e.touchpoint_id,
    ),
    ia.ComplianceFindingRecorded: lambda e: Entry(
        e.occurred_at,
        f"Compliance finding: {e.channel} for {e.purpose} while not eligible ({_words(e.reason)})",
        e.channel,
        Direction.OUTBOUND,
        e.touchpoint_id,
    ),
    cs.ConsentGranted: _consent_granted,
    cs.ConsentConfirmed: lambda e: Entry(
        e.confirmed_at,
        "Consent confirmed (double opt-in)",
        None,
        Direction.INBOUND,
        str(e.consent_id),
    ),
    cs.ConsentRevoked: _consent_revoked,
    cs.ObjectionRecorded: lambda e: Entry(
        e.objected_at,
        f"Objection to all direct marketing, via {e.via_channel}",
        None,
        Direction.INBOUND,
        str(e.objection_id),
    ),
    cs.ChannelObjectionRecorded: lambda e: Entry(
        e.objected_at,
        f"Objection to advertising on {e.channel}",
        e.channel,
        Direction.INBOUND,
    ),
    cs.ObjectionLifted: lambda e: Entry(
        e.lifted_at,
        "Objection lifted by a new express consent",
        None,
        Direction.INBOUND,
        str(e.consent_id),
    ),
    cs.ConsentUsed: lambda e: Entry(
        e.used_at,
        f"Consent used: {e.channel} for {e.purpose}",
        e.channel,
        None,
        e.reference,
    ),
    cs.ConsentExpired: lambda e: Entry(
        e.expired_at, "Consent expired after a period without use", None, None, str(e.consent_id)
    ),
    cs.ContactPointSuppressed: lambda e: Entry(
        e.matched_at, f"Suppressed on {e.channel} ({e.list_name} {e.list_version})", e.channel
    ),
    cp.OutreachPlanned: lambda e: Entry(
        e.planned_for,
        f"Outreach planned: campaign {e.campaign_id} on {e.channel}",
        e.channel,
        Direction.OUTBOUND,
        str(e.outreach_id),
    ),
    cp.OutreachAuthorized: lambda e: Entry(
        e.decided_at,
        f"Outreach authorized ({_words(e.legal_basis)})",
        e.channel,
        Direction.OUTBOUND,
        str(e.outreach_id),
    ),
    cp.OutreachBlocked: lambda e: Entry(
        e.decided_at,
        f"Outreach blocked: {_words(e.reason)}",
        e.channel,
        Direction.OUTBOUND,
        str(e.outreach_id),
    ),
    cp.OutreachDeferred: lambda e: Entry(
        e.decided_at,
        f"Outreach deferred until {e.until.isoformat()}: {_words(e.reason)}",
        e.channel,
        Direction.OUTBOUND,
        str(e.outreach_id),
    ),
    cp.OutreachCancelled: lambda e: Entry(
        e.cancelled_at,
        f"Outreach cancelled: {_words(e.reason)}",
        e.channel,
        Direction.OUTBOUND,
        str(e.outreach_id),
    ),
    cp.OutreachDispatched: lambda e: Entry(
        e.dispatched_at, "Outreach dispatched", e.channel, Direction.OUTBOUND, str(e.outreach_id)
    ),
    cp.ResponseReceived: lambda e: Entry(
        e.received_at, f"Response: {e.response}", e.channel, Direction.INBOUND, e.response_id
    ),
    ct.ContactRegistered: lambda e: Entry(e.registered_at, f"Registered as {e.kind} customer"),
    ct.ContactUpdated: lambda e: Entry(
        e.updated_at,
        "Profile updated: "
        + ", ".join(
            sorted(k for k, v in e.model_dump(exclude={"updated_at"}).items() if v is not None)
        ),
    ),
    ct.ContactsMerged: lambda e: Entry(e.merged_at, f"Merged with {e.merged_customer_id}"),
    ct.ProductPurchased: lambda e: Entry(
        e.purchased_at, f"Purchased {e.product_name} ({e.category})", None, None, e.purchase_id
    ),
    ct.ContractStarted: lambda e: Entry(
        e.started_at, f"Contract {e.contract_id} started ({e.category})", None, None, e.contract_id
    ),
    ct.ContractCancelled: lambda e: Entry(
        e.cancelled_at, f"Contract {e.contract_id} cancelled", None, None, e.contract_id
    ),
    ct.CancellationRetracted: lambda e: Entry(
        e.withdrawn_at,
        f"Cancellation of contract {e.contract_id} withdrawn",
        None,
        None,
        e.contract_id,
    ),
    ct.ContactErased: lambda e: Entry(e.erased_at, "Personal data erased"),
    cp.BehaviouralSignalRecorded: lambda e: Entry(
        e.occurred_at,
        f"Signal: {_words(e.signal)} ({e.category})",
        None,
        Direction.INBOUND,
        e.signal_id,
    ),
}


def describe(event: Event) -> Entry | None:
    """The timeline entry of an event, or None for events that are not about a customer."""
    description = DESCRIPTIONS.get(type(event))
    return description(event) if description else None
