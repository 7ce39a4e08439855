"""What each event looks like in a customer's timeline: when, on which channel, what happened.

One function per event type, registered in `DESCRIPTIONS`. The timeline merges the events of all
four services' topics; an event type without a description (e.g. `CampaignCreated`, which is not
about a customer) has no entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dialog_schemas import Event
from dialog_schemas import campaigns as cp
from dialog_schemas import consent as cs
from dialog_schemas import contacts as ct
from dialog_schemas import interactions as ia
from dialog_schemas.common import Channel, Direction


@dataclass(frozen=True)
class Entry:
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


def _touchpoint(e: ia.TouchpointRecorded) -> Entry:
    what = {
        "call": lambda d: (
            f"Call: {d.disposition.value.replace('_', ' ')}"
            + (f" ({d.duration_s} s)" if d.duration_s else "")
        ),
        "letter": lambda d: f"Letter {d.status.value} (mailing {d.mailing_id})",
        "email": lambda d: f"Email {d.status.value}",
        "sms": lambda d: f"SMS {d.status.value}",
        "social": lambda d: f"Social message on {d.platform}",
    }
    headline = (
        what[e.details.kind](e.details)
        if e.details is not None
        else f"{e.channel.value.capitalize()} touchpoint"
    )
    if e.survey is not None:
        score = f" (score {e.survey.score})" if e.survey.score is not None else ""
        headline += f", survey answer{score}"
    if e.purpose is not None:
        headline += f" [{e.purpose.value}]"
    answer = e.survey.free_text or None if e.survey is not None else None
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
    summary = f"Consent given: {e.channel.value} for {e.purpose.value}{pending}"
    return Entry(e.evidence.captured_at, summary, e.channel, Direction.INBOUND, str(e.consent_id))


def _consent_revoked(e: cs.ConsentRevoked) -> Entry:
    summary = (
        f"Consent withdrawn: {e.channel.value} for {e.purpose.value}, via {e.via_channel.value}"
    )
    return Entry(e.revoked_at, summary, e.channel, Direction.INBOUND, str(e.consent_id))


DESCRIPTIONS: dict[type[Event], Callable[[Any], Entry]] = {
    ia.TouchpointRecorded: _touchpoint,
    ia.OptOutReceived: lambda e: Entry(
        e.received_at,
        f"Opt-out received on {e.channel.value}",
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
        f"Compliance finding: {e.channel.value} for {e.purpose.value} while not eligible"
        f" ({e.reason.value.replace('_', ' ')})",
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
        f"Objection to all direct marketing, via {e.via_channel.value}",
        None,
        Direction.INBOUND,
        str(e.objection_id),
    ),
    cs.ChannelObjectionRecorded: lambda e: Entry(
        e.objected_at,
        f"Objection to advertising on {e.channel.value}",
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
        f"Consent used: {e.channel.value} for {e.purpose.value}",
        e.channel,
        None,
        e.reference,
    ),
    cs.ConsentExpired: lambda e: Entry(
        e.expired_at, "Consent expired after a period without use", None, None, str(e.consent_id)
    ),
    cs.ContactPointSuppressed: lambda e: Entry(
        e.matched_at, f"Suppressed on {e.channel.value} ({e.list_name} {e.list_version})", e.channel
    ),
    cp.OutreachPlanned: lambda e: Entry(
        e.planned_for,
        f"Outreach planned: campaign {e.campaign_id} on {e.channel.value}",
        e.channel,
        Direction.OUTBOUND,
        str(e.outreach_id),
    ),
    cp.OutreachAuthorized: lambda e: Entry(
        e.decided_at,
        f"Outreach authorized ({e.legal_basis.value.replace('_', ' ')})",
        e.channel,
        Direction.OUTBOUND,
        str(e.outreach_id),
    ),
    cp.OutreachBlocked: lambda e: Entry(
        e.decided_at,
        f"Outreach blocked: {e.reason.value.replace('_', ' ')}",
        e.channel,
        Direction.OUTBOUND,
        str(e.outreach_id),
    ),
    cp.OutreachDeferred: lambda e: Entry(
        e.decided_at,
        f"Outreach deferred until {e.until.isoformat()}: {e.reason.value.replace('_', ' ')}",
        e.channel,
        Direction.OUTBOUND,
        str(e.outreach_id),
    ),
    cp.OutreachCancelled: lambda e: Entry(
        e.cancelled_at,
        f"Outreach cancelled: {e.reason.value.replace('_', ' ')}",
        e.channel,
        Direction.OUTBOUND,
        str(e.outreach_id),
    ),
    cp.OutreachDispatched: lambda e: Entry(
        e.dispatched_at, "Outreach dispatched", e.channel, Direction.OUTBOUND, str(e.outreach_id)
    ),
    cp.ResponseReceived: lambda e: Entry(
        e.received_at, f"Response: {e.response.value}", e.channel, Direction.INBOUND, e.response_id
    ),
    ct.ContactRegistered: lambda e: Entry(
        e.registered_at, f"Registered as {e.kind.value} customer"
    ),
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
        f"Signal: {e.signal.value.replace('_', ' ')} ({e.category})",
        None,
        Direction.INBOUND,
        e.signal_id,
    ),
}


def describe(event: Event) -> Entry | None:
    """The timeline entry of an event, or None for events that are not about a customer."""
    description = DESCRIPTIONS.get(type(event))
    return description(event) if description else None
