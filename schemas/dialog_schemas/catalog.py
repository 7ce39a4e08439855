"""The topics of the platform: which events travel where, who writes, who reads, how long kept.

This module is the one place that says so. Workers decode with it, topics are created from it,
and the AsyncAPI document and JSON Schemas under `schemas/contracts/` are generated from it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dialog_schemas import audit, campaigns, consent, contacts, interactions, outbound
from dialog_schemas.envelope import Event

SERVICES = ("consent", "contacts", "interactions", "campaigns")
DEAD_LETTER_SUFFIX = ".deadletter.v1"
FOREVER = -1
DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True)
class TopicContract:
    """A topic's name, the event types it may carry and its place in the platform."""

    name: str
    events: Mapping[str, type[Event]] = field(default_factory=dict)
    compacted: bool = False
    description: str = ""
    key: str = "customer id"
    producers: tuple[str, ...] = ()
    consumers: tuple[str, ...] = ()
    retention_ms: int = FOREVER
    signed_by: str | None = None
    """The service whose signature every record must carry (`dialogkit.ledger`); else None."""

    @classmethod
    def of(cls, name: str, events: Iterable[type[Event]], **details: Any) -> TopicContract:
        return cls(name, {e.event_type: e for e in events}, **details)

    @property
    def config(self) -> dict[str, str]:
        """Kafka topic configuration."""
        if self.compacted:
            return {"cleanup.policy": "compact"}
        return {"cleanup.policy": "delete", "retention.ms": str(self.retention_ms)}


CONSENT_EVENTS = TopicContract.of(
    "consent.events.v1",
    [
        consent.ConsentGranted,
        consent.ConsentConfirmed,
        consent.ConsentRevoked,
        consent.ObjectionRecorded,
        consent.ChannelObjectionRecorded,
        consent.ObjectionLifted,
        consent.ConsentUsed,
        consent.ConsentExpired,
        consent.ContactPointSuppressed,
    ],
    description="Every change of permission to contact a customer, with its evidence.",
    producers=("consent",),
    consumers=("consent", "interactions", "campaigns", "contacts"),
    signed_by="consent",
)
CONSENT_STATE = TopicContract.of(
    "consent.state.v1",
    [consent.ConsentStateChanged],
    compacted=True,
    description="Each customer's current consent state; compacted, so the latest per key stays.",
    producers=("consent",),
    consumers=("consent", "external: dialer, email service provider, data warehouse"),
)
CONTACTS_EVENTS = TopicContract.of(
    "contacts.events.v1",
    [
        contacts.ContactRegistered,
        contacts.ContactUpdated,
        contacts.ContactsMerged,
        contacts.ProductPurchased,
        contacts.ContractStarted,
        contacts.ContractCancelled,
        contacts.CancellationRetracted,
        contacts.ContactErased,
    ],
    description="Customer profiles, purchases and contracts; personal fields are encrypted.",
    producers=("contacts",),
    consumers=("contacts", "consent", "interactions", "campaigns"),
)
INTERACTIONS_EVENTS = TopicContract.of(
    "interactions.events.v1",
    [
        interactions.TouchpointRecorded,
        interactions.OptOutReceived,
        interactions.ContractConfirmationDue,
        interactions.ContractConfirmationSent,
        interactions.ComplianceFindingRecorded,
    ],
    description="Every touchpoint on every channel, and what follows from one.",
    producers=("interactions",),
    consumers=("interactions", "consent", "campaigns", "contacts"),
)
CAMPAIGNS_EVENTS = TopicContract.of(
    "campaigns.events.v1",
    [
        campaigns.CampaignCreated,
        campaigns.CampaignUpdated,
        campaigns.CampaignLaunched,
        campaigns.WaveLaunched,
        campaigns.CampaignPaused,
        campaigns.CampaignResumed,
        campaigns.CampaignStopped,
        campaigns.CampaignCompleted,
        campaigns.OutreachPlanned,
        campaigns.OutreachAuthorized,
        campaigns.OutreachBlocked,
        campaigns.OutreachDeferred,
        campaigns.OutreachCancelled,
        campaigns.OutreachDispatched,
        campaigns.ResponseReceived,
        campaigns.BehaviouralSignalRecorded,
    ],
    description="Campaigns, outreach decisions made at dispatch time, and responses.",
    key="customer id (campaign id for the Campaign* and WaveLaunched events)",
    producers=("campaigns",),
    consumers=("campaigns", "interactions", "contacts", "consent"),
)
OUTBOUND_RETENTION_MS = 30 * DAY_MS  # carried out within the deadline; the decision stays on
#                                      campaigns.events.v1, the request need not


def _outbound(channel: str, request: type[Event], system: str) -> TopicContract:
    return TopicContract.of(
        f"campaigns.outbound.{channel}.v1",
        [request],
        description=(
            f"Authorized {channel} outreach for the {system}: outreach id, contact point"
            " (sealed), message reference, deadline."
        ),
        producers=("campaigns",),
        consumers=(f"external: {system}",),
        retention_ms=OUTBOUND_RETENTION_MS,
    )


OUTBOUND_TOPICS: dict[str, TopicContract] = {
    "phone": _outbound("phone", outbound.CallRequested, "dialer"),
    "email": _outbound("email", outbound.EmailRequested, "email service provider"),
    "letter": _outbound("letter", outbound.LetterRequested, "letter shop"),
    "sms": _outbound("sms", outbound.SmsRequested, "SMS gateway"),
}
"""The outbound topic of each channel campaigns dispatch on, by channel value."""
INTERACTIONS_INGRESS = TopicContract.of(
    "interactions.ingress.v1",
    [interactions.TouchpointReported],
    description="Touchpoints reported by outside systems; validated into TouchpointRecorded.",
    producers=(
        "external: telephony",
        "external: email service provider",
        "external: letter shop",
        "external: SMS gateway",
        "external: social media tools",
    ),
    consumers=("interactions",),
    retention_ms=14 * DAY_MS,
)
CONTACTS_INGRESS = TopicContract.of(
    "contacts.ingress.v1",
    [
        contacts.PurchaseReported,
        contacts.CancellationReported,
        contacts.CancellationWithdrawalReported,
    ],
    description="Purchases, cancellations and their withdrawals reported by the shop and billing.",
    producers=("external: web shop", "external: billing"),
    consumers=("contacts",),
    retention_ms=14 * DAY_MS,
)
CAMPAIGNS_INGRESS = TopicContract.of(
    "campaigns.ingress.v1",
    [campaigns.BehaviouralSignalReported],
    description="Behavioural signals (product page visits, carts left behind) from outside"
    " systems; validated into BehaviouralSignalRecorded, the trigger of personalised letters.",
    producers=("external: web shop",),
    consumers=("campaigns",),
    retention_ms=14 * DAY_MS,
)
AUDIT_RETENTION_MS = 400 * DAY_MS
AUDIT_EVENTS = TopicContract.of(
    "audit.events.v1",
    [audit.PersonalDataAccessed],
    description=(
        "Every read of personal data, export, erasure and merge through an API: who, what,"
        " when, outcome; never the personal data."
    ),
    producers=SERVICES,
    consumers=("contacts", "external: security monitoring"),
    retention_ms=AUDIT_RETENTION_MS,  # the queryable trail is contacts' table, kept as configured
)

EVENT_TOPICS: tuple[TopicContract, ...] = (
    CONSENT_EVENTS,
    CONTACTS_EVENTS,
    INTERACTIONS_EVENTS,
    CAMPAIGNS_EVENTS,
)
INGRESS_TOPICS: tuple[TopicContract, ...] = (
    INTERACTIONS_INGRESS,
    CONTACTS_INGRESS,
    CAMPAIGNS_INGRESS,
)


def dead_letter_topic(service: str) -> str:
    return f"{service}{DEAD_LETTER_SUFFIX}"


DEAD_LETTER_TOPICS: tuple[TopicContract, ...] = tuple(
    TopicContract(
        dead_letter_topic(service),
        description=(
            f"Records the {service} service could not process: the original key, value and"
            " headers, plus dlq_* headers saying why."
        ),
        key="the original record's key",
        producers=(service,),
        consumers=("operations",),
        retention_ms=30 * DAY_MS,  # records as they came, personal data unsealed: not kept long
    )
    for service in SERVICES
)
TOPICS: tuple[TopicContract, ...] = (
    *EVENT_TOPICS,
    CONSENT_STATE,
    AUDIT_EVENTS,
    *OUTBOUND_TOPICS.values(),
    *INGRESS_TOPICS,
    *DEAD_LETTER_TOPICS,
)

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
UPCASTERS: Mapping[tuple[str, int], Upcaster] = {
    ("TouchpointRecorded", 1): interactions.upcast_touchpoint_recorded_v1,
    ("ResponseReceived", 1): campaigns.upcast_response_received_v1,
    ("OutreachCancelled", 1): campaigns.upcast_outreach_cancelled_v1,
}
"""(event type, version) -> a function turning that version's data into the next version's."""


def event_types() -> dict[str, type[Event]]:
    """Every event type on any topic, by name."""
    found: dict[str, type[Event]] = {}
    for topic in TOPICS:
        for name, event in topic.events.items():
            if found.setdefault(name, event) is not event:
                raise RuntimeError(f"two event classes are named {name}")
    return found


def upcast(event_type: str, version: int, data: dict[str, Any], target: int) -> dict[str, Any]:
    """Carry stored data of an older version forward, one explicit step at a time."""
    while version < target:
        step = UPCASTERS.get((event_type, version))
        if step is None:
            raise LookupError(f"no upcaster from {event_type} v{version} to v{version + 1}")
        data = step(data)
        version += 1
    return data
