"""Triggered campaigns: which event plans which outreach, when it is due, and when its reason
is gone. Everything here is pure: the facts are passed in, nothing is read or written.

A running triggered campaign plans one outreach per event that meets its trigger's conditions
(`fires`): the event happened while the campaign ran (at or after its launch and start, before
its end), its category is one of the trigger's (if it names any), its signal one of the
trigger's (if it names any), and for a survey answer it answers the survey the trigger names. The
outreach falls due `delay_s` after the event happened. The cool-down (at most one outreach per
customer and campaign within it) is kept by the database, atomically (`triggered.py`).

When the outreach falls due its reason may be gone (`reason_gone`): the cancellation was
withdrawn (`trigger_withdrawn`), or the customer bought the offered category since the event
(`already_purchased`, for cross-sell and behavioural signals).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid5

from campaigns.domain import DISPATCHED_ON
from dialog_schemas.campaigns import CampaignDefinition, CancellationReason, SignalKind, TriggerKind
from dialog_schemas.common import Channel, Purpose

TRIGGER_NAMESPACE = UUID("9d3c2b1a-5e4f-4a7b-8c6d-1e2f3a4b5c6d")
OFFERS = frozenset({TriggerKind.PRODUCT_PURCHASED, TriggerKind.BEHAVIOURAL_SIGNAL})
"""Triggers whose outreach offers a category: bought meanwhile, the offer is moot."""


@dataclass(frozen=True)
class Fired:
    """An event that may trigger outreach to its customer."""

    customer_id: str
    kind: TriggerKind
    event_id: UUID
    at: datetime
    category: str | None = None
    signal: SignalKind | None = None
    channel: Channel | None = None
    """The channel a survey was answered on."""
    survey_campaign_id: str | None = None
    item_id: str | None = None
    """The cancelled contract (`contract:<id>`), to see whether the cancellation still stands."""


@dataclass(frozen=True)
class Running:
    """A triggered campaign that is running or paused."""

    campaign_id: str
    definition: CampaignDefinition
    launched_at: datetime


@dataclass(frozen=True)
class Plan:
    """The outreach a fired trigger plans."""

    outreach_id: UUID
    channel: Channel
    purpose: Purpose
    due_at: datetime
    offer_category: str | None


@dataclass(frozen=True)
class Holding:
    """A product bought or a contract held (cancelled or not), by category."""

    item_id: str
    category: str | None
    started_at: datetime | None
    cancelled_at: datetime | None


@dataclass(frozen=True)
class Origin:
    """What a due triggered outreach remembers of its trigger."""

    kind: TriggerKind
    item_id: str | None
    at: datetime
    offer_category: str | None


def triggered_outreach_id(campaign_id: str, customer_id: str, event_id: UUID) -> UUID:
    """The outreach one event triggers for a customer: the same id however often it is seen."""
    return uuid5(TRIGGER_NAMESPACE, f"{campaign_id}/{customer_id}/{event_id}")


def fires(campaign: Running, event: Fired) -> bool:
    """Whether the event meets the campaign's trigger and happened while the campaign ran."""
    definition, trigger = campaign.definition, campaign.definition.trigger
    if trigger is None or trigger.on is not event.kind:
        return False
    if event.at < campaign.launched_at:
        return False
    if definition.starts_at is not None and event.at < definition.starts_at:
        return False
    if definition.ends_at is not None and event.at >= definition.ends_at:
        return False
    if trigger.categories and event.category not in trigger.categories:
        return False
    if trigger.signals and event.signal not in trigger.signals:
        return False
    if trigger.on is TriggerKind.SURVEY_ANSWERED:
        return event.survey_campaign_id == trigger.survey_campaign_id and event.channel is not None
    return True


def plan(campaign: Running, event: Fired) -> Plan | None:
    """The outreach the event plans in the campaign, or None if it does not fire.

    Its channel is the campaign's, except a thank-you for a survey answer, which goes out on the
    channel the answer came on (None if that channel has no outbound topic, e.g. social)."""
    if not fires(campaign, event):
        return None
    definition = campaign.definition
    assert definition.trigger is not None
    channel = definition.channel
    if definition.trigger.on is TriggerKind.SURVEY_ANSWERED:
        assert event.channel is not None
        channel = event.channel
    if channel not in DISPATCHED_ON:
        return None
    offer = None
    if event.kind in OFFERS:
        offer = definition.product_category or event.category
    return Plan(
        outreach_id=triggered_outreach_id(campaign.campaign_id, event.customer_id, event.event_id),
        channel=channel,
        purpose=definition.purpose,
        due_at=event.at + timedelta(seconds=definition.trigger.delay_s),
        offer_category=offer,
    )


def cooldown(definition: CampaignDefinition, default: timedelta) -> timedelta:
    """The campaign's cool-down: its trigger's override, else the service's setting."""
    days = definition.trigger.cooldown_days if definition.trigger else None
    return timedelta(days=days) if days is not None else default


def outside_cooldown(last: datetime | None, at: datetime, period: timedelta) -> bool:
    """Whether an event at `at` may plan, the last planning trigger being at `last` (the rule
    the database applies atomically: a later event at least `period` after the last)."""
    return last is None or last <= at - period


def reason_gone(origin: Origin, holdings: Sequence[Holding]) -> CancellationReason | None:
    """Why a due triggered outreach is moot, or None if its reason stands.

    A cancellation withdrawn since (the contract is no longer cancelled) is `trigger_withdrawn`;
    a product or contract of the offered category begun after the trigger and not cancelled is
    `already_purchased`. A contract no longer known (erased) leaves the decision to dispatch."""
    if origin.kind is TriggerKind.CONTRACT_CANCELLED:
        contract = next((h for h in holdings if h.item_id == origin.item_id), None)
        if contract is not None and contract.cancelled_at is None:
            return CancellationReason.TRIGGER_WITHDRAWN
        return None
    if origin.kind in OFFERS and origin.offer_category is not None:
        for h in holdings:
            bought = h.started_at is not None and h.started_at > origin.at
            if h.category == origin.offer_category and bought and h.cancelled_at is None:
                return CancellationReason.ALREADY_PURCHASED
    return None
