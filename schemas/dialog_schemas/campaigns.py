"""Events of the campaigns service: campaigns, outreach decisions at dispatch time, responses.

Campaign-level events use the campaign id as subject and key; outreach and response events use
the customer id, so they are ordered with everything else about the customer.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from dialog_schemas.common import (
    BlockReason,
    Channel,
    ExternalId,
    Instant,
    Label,
    LegalBasis,
    Purpose,
)
from dialog_schemas.envelope import Event


class CampaignCreated(Event):
    """A campaign was set up: what it advertises, on which channel, for which purpose."""

    campaign_id: ExternalId
    name: Label
    channel: Channel
    purpose: Purpose
    product_category: Label | None = None
    """What the campaign advertises; decides 'similar products' for §7(3) UWG."""
    created_at: Instant


class OutreachPlanned(Event):
    """A customer is in a campaign's audience and due to be contacted."""

    outreach_id: UUID
    campaign_id: ExternalId
    channel: Channel
    purpose: Purpose
    planned_for: Instant


class OutreachAuthorized(Event):
    """At dispatch time the customer was eligible; the basis and consent relied on are kept."""

    outreach_id: UUID
    campaign_id: ExternalId
    channel: Channel
    purpose: Purpose
    decided_at: Instant
    legal_basis: LegalBasis
    consent_id: UUID | None = None


class OutreachBlocked(Event):
    """At dispatch time the customer was not eligible, for this reason."""

    outreach_id: UUID
    campaign_id: ExternalId
    channel: Channel
    purpose: Purpose
    decided_at: Instant
    reason: BlockReason


class OutreachDispatched(Event):
    """An authorized outreach was handed to the channel (dialer, email, letter shop)."""

    outreach_id: UUID
    campaign_id: ExternalId
    channel: Channel
    dispatched_at: Instant


class ResponseKind(StrEnum):
    INTERESTED = "interested"
    PURCHASED = "purchased"
    DECLINED = "declined"
    UNSUBSCRIBED = "unsubscribed"
    OTHER = "other"


class ResponseReceived(Event):
    """The customer answered an outreach; causation points at the outreach event."""

    response_id: ExternalId
    outreach_id: UUID
    campaign_id: ExternalId
    channel: Channel
    received_at: Instant
    response: ResponseKind
