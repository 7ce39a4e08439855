"""Events of the campaigns service: campaigns, outreach decisions at dispatch time, responses.

Campaign-level events (created, updated, launched, waves, paused, resumed, stopped, completed)
use the campaign id as subject and key; outreach and response events use the customer id, so
they are ordered with everything else about the customer. The requests handed to the channel
systems are in `dialog_schemas.outbound`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, TypeAlias, get_args
from uuid import UUID

from pydantic import Field, StringConstraints, model_validator

from dialog_schemas.common import (
    NO_NUL,
    BlockReason,
    Channel,
    CustomerKind,
    ExternalId,
    Instant,
    Label,
    LegalBasis,
    Part,
    Purpose,
)
from dialog_schemas.envelope import CustomerId, Event

Days = Annotated[int, Field(ge=1, le=3650)]
Count = Annotated[int, Field(ge=1, le=10_000)]
WaveNumber = Annotated[int, Field(ge=1, le=1000)]
ZoneOrRegion = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NO_NUL)]
"""An IANA time zone (`Europe/Berlin`) or a region prefix ending in '/' (`Europe/`)."""


class RecencyRule(Part):
    """A condition on the last contact or response on a channel (any channel when left out)."""

    channel: Channel | None = None
    within_days: Days
    """The last one is at most this many days ago (`contacted`) or more (`not_contacted`)."""


class AudienceRule(Part):
    """Which customers a campaign addresses: every condition given must hold (an AND).

    Lists are alternatives (any of them); a condition left out (empty, null) does not restrict.
    """

    kinds: list[CustomerKind] = []
    customer_for_days: Days | None = None
    """Customer since at least this many days (by `customer_since`, else registration)."""
    holds_any: list[Label] = []
    """Holds a product or running contract of one of these categories."""
    holds_none: list[Label] = []
    """Holds no product or running contract of any of these categories."""
    cancelled_any: list[Label] = []
    """Cancelled a contract of one of these categories."""
    cancelled_within_days: Days | None = None
    """... and the (latest such) cancellation is at most this many days ago."""
    interests_any: list[Label] = []
    time_zones: list[ZoneOrRegion] = []
    """IANA zones, or a prefix ending in '/' (`Europe/`) for a region; a command naming a zone
    or region the zone database does not know is refused."""
    not_contacted: RecencyRule | None = None
    """Not contacted (outbound touchpoint or dispatched outreach) within the days given."""
    responded: RecencyRule | None = None
    """Responded (an inbound touchpoint or a response) within the days given."""


class Audience(Part):
    """Customers matching `rule`, plus `include_ids`, minus `exclude_ids`.

    Without a rule the audience is the included ids alone. Customers who objected to direct
    marketing (GDPR Art. 21), were erased, or have no contact point on the campaign's channel are
    never in an advertising campaign's audience; a merged duplicate counts as its survivor.
    """

    rule: AudienceRule | None = None
    include_ids: list[CustomerId] = Field(default=[], max_length=100_000)
    exclude_ids: list[CustomerId] = Field(default=[], max_length=100_000)


class FrequencyCap(Part):
    """At most `limit` dispatched outreach in any rolling window of `window_days`."""

    limit: Count
    window_days: Days


class FrequencyCaps(Part):
    """Caps per customer: per channel (the campaign's), and across all channels."""

    per_channel: FrequencyCap | None = None
    across_channels: FrequencyCap | None = None


class TriggerKind(StrEnum):
    """The event that starts a triggered campaign's outreach to one customer."""

    CONTRACT_CANCELLED = "contract_cancelled"
    PRODUCT_PURCHASED = "product_purchased"
    BEHAVIOURAL_SIGNAL = "behavioural_signal"
    SURVEY_ANSWERED = "survey_answered"


class SignalKind(StrEnum):
    """What an outside system (the web shop) saw the customer do."""

    PRODUCT_PAGE_VISIT = "product_page_visit"
    CART_ABANDONED = "cart_abandoned"


DelaySeconds = Annotated[int, Field(ge=0, le=365 * 24 * 3600)]


class Trigger(Part):
    """When a running campaign plans one outreach to a customer: on each event of kind `on`
    that meets the conditions, due `delay_s` after the event happened, at most once per
    customer within the cool-down."""

    on: TriggerKind
    categories: list[Label] = []
    """The cancelled contract's, purchased product's or signal's category is one of these
    (any when empty)."""
    signals: list[SignalKind] = []
    """For `behavioural_signal`: the signal is one of these (any when empty)."""
    survey_campaign_id: ExternalId | None = None
    """For `survey_answered` (required): the survey campaign whose answers are thanked for."""
    delay_s: DelaySeconds = 0
    """How long after the event the outreach falls due."""
    cooldown_days: Days | None = None
    """Overrides the service's cool-down (CAMPAIGNS_TRIGGER_COOLDOWN_DAYS) for this campaign."""

    @model_validator(mode="after")
    def _conditions_fit_the_event(self) -> Trigger:
        if self.on is TriggerKind.SURVEY_ANSWERED and self.survey_campaign_id is None:
            raise ValueError("survey_campaign_id: a survey_answered trigger names the survey")
        if self.on is not TriggerKind.SURVEY_ANSWERED and self.survey_campaign_id is not None:
            raise ValueError("survey_campaign_id: only a survey_answered trigger names one")
        if self.signals and self.on is not TriggerKind.BEHAVIOURAL_SIGNAL:
            raise ValueError("signals: only a behavioural_signal trigger names signals")
        if self.categories and self.on is TriggerKind.SURVEY_ANSWERED:
            raise ValueError("categories: a survey answer has no category")
        return self


class CampaignDefinition(Part):
    """What a campaign is: everything its owner sets while it is a draft."""

    name: Label
    channel: Channel
    purpose: Purpose
    product_category: Label | None = None
    """What the campaign advertises; decides 'similar products' for §7(3) UWG."""
    message_ref: ExternalId | None = None
    """The message, letter or call script the channel system uses."""
    starts_at: Instant | None = None
    """Outreach of the first wave falls due at the later of this and the launch."""
    ends_at: Instant | None = None
    """No outreach is dispatched after this; undecided outreach is then cancelled."""
    audience: Audience = Audience()
    frequency_caps: FrequencyCaps | None = None
    """Overrides the service's default caps for this campaign's outreach."""
    deadline_hours: Annotated[int, Field(ge=1, le=24 * 90)] = 72
    """How long a channel system has to carry out a dispatched outreach."""
    trigger: Trigger | None = None
    """A triggered campaign: once running, it plans one outreach per qualifying event instead
    of waves over an audience."""


class CampaignCreated(Event):
    """A campaign was set up: what it advertises, on which channel, for which purpose."""

    campaign_id: ExternalId
    name: Label
    channel: Channel
    purpose: Purpose
    product_category: Label | None = None
    """What the campaign advertises; decides 'similar products' for §7(3) UWG."""
    created_at: Instant
    definition: CampaignDefinition | None = None
    """The whole definition (name, channel, purpose and category repeat it)."""


class CampaignUpdated(Event):
    """A draft campaign's definition changed; this is the whole new definition."""

    campaign_id: ExternalId
    definition: CampaignDefinition
    updated_at: Instant


class CampaignLaunched(Event):
    """A draft campaign started running; its first wave follows."""

    campaign_id: ExternalId
    launched_at: Instant


class WaveLaunched(Event):
    """A wave of a running campaign: its audience is evaluated now and planned once."""

    campaign_id: ExternalId
    wave: WaveNumber
    launched_at: Instant
    due_from: Instant
    """Outreach of this wave falls due from this moment."""


class CampaignPaused(Event):
    """A running campaign stopped deciding and dispatching until resumed."""

    campaign_id: ExternalId
    paused_at: Instant


class CampaignResumed(Event):
    """A paused campaign runs again; outreach that fell due meanwhile is decided now."""

    campaign_id: ExternalId
    resumed_at: Instant


class CampaignStopped(Event):
    """A campaign was ended by its owner; undecided outreach is cancelled."""

    campaign_id: ExternalId
    stopped_at: Instant


class CampaignCompleted(Event):
    """A campaign reached its end time; undecided outreach is cancelled."""

    campaign_id: ExternalId
    completed_at: Instant


class TriggerRef(Part):
    """The event that started a triggered outreach."""

    kind: TriggerKind
    event_id: UUID
    """The id of the triggering event (its envelope id)."""
    occurred_at: Instant


class OutreachPlanned(Event):
    """A customer is in a campaign's audience (or met its trigger) and due to be contacted."""

    outreach_id: UUID
    campaign_id: ExternalId
    channel: Channel
    purpose: Purpose
    planned_for: Instant
    wave: WaveNumber | None = None
    trigger: TriggerRef | None = None
    """Set for the outreach of a triggered campaign (which has no waves)."""


class DeferralReason(StrEnum):
    OUTSIDE_CALLING_HOURS = "outside_calling_hours"
    FREQUENCY_CAP = "frequency_cap"


class OutreachDeferred(Event):
    """At its due time the outreach could not go out yet; it is decided again at `until`."""

    outreach_id: UUID
    campaign_id: ExternalId
    channel: Channel
    purpose: Purpose
    decided_at: Instant
    until: Instant
    reason: DeferralReason


class CancellationReason(StrEnum):
    CAMPAIGN_STOPPED = "campaign_stopped"
    CAMPAIGN_COMPLETED = "campaign_completed"
    NO_CONTACT_POINT = "no_contact_point"
    TRIGGER_WITHDRAWN = "trigger_withdrawn"
    """The cancellation that triggered the outreach was withdrawn before it fell due."""
    ALREADY_PURCHASED = "already_purchased"
    """The customer bought the offered category between the trigger and the due time."""


class OutreachCancelled(Event):
    """A planned outreach will not be decided: its campaign ended, it has nowhere to go, or the
    reason for its trigger is gone.

    Version 2 added the reasons `trigger_withdrawn` and `already_purchased`.
    """

    schema_version = 2

    outreach_id: UUID
    campaign_id: ExternalId
    channel: Channel
    cancelled_at: Instant
    reason: CancellationReason


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


class SignalFacts(Part):
    signal_id: ExternalId
    """Unique per customer in the reporting system; the same id reported twice is one signal."""
    signal: SignalKind
    category: Label
    """The category of the product the signal is about."""
    product_id: ExternalId | None = None
    occurred_at: Instant


class BehaviouralSignalReported(SignalFacts, Event):
    """Ingress: an outside system (the web shop) saw the customer show an interest."""


class BehaviouralSignalRecorded(SignalFacts, Event):
    """A behavioural signal about the customer, validated from the campaigns ingress topic."""


class ResponseKind(StrEnum):
    INTERESTED = "interested"
    PURCHASED = "purchased"
    """A conversion: a purchase or a contract start attributed to the outreach."""
    DECLINED = "declined"
    UNSUBSCRIBED = "unsubscribed"
    """An opt-out (do-not-call, unsubscribe) in answer to the outreach."""
    OTHER = "other"
    ANSWERED = "answered"
    """A survey answer (version 2)."""


class AttributionMethod(StrEnum):
    OUTREACH_ID = "outreach_id"
    """The response named the outreach."""
    CAUSATION = "causation"
    """The response's envelope was caused by one of the outreach's events, or continued its
    conversation (correlation id = outreach id)."""
    WINDOW = "window"
    """The latest outreach dispatched to the customer within the channel's window before it."""


class ResponseReceived(Event):
    """The customer answered an outreach; causation points at the event that was the answer.

    Version 2 added the kind `answered` (a survey answer) and how the response was attributed
    (`attributed_by`, `source_event_id`; absent on version 1 responses).
    """

    schema_version = 2
    response_id: ExternalId
    outreach_id: UUID
    campaign_id: ExternalId
    channel: Channel
    received_at: Instant
    response: ResponseKind
    attributed_by: AttributionMethod | None = None
    """How the response was tied to the outreach."""
    source_event_id: UUID | None = None
    """The event that was the response (a touchpoint, an opt-out, a purchase, a contract)."""


def upcast_response_received_v1(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 had no attribution; its kinds are all still valid."""
    return dict(data)


CampaignEvent: TypeAlias = (
    CampaignCreated
    | CampaignUpdated
    | CampaignLaunched
    | WaveLaunched
    | CampaignPaused
    | CampaignResumed
    | CampaignStopped
    | CampaignCompleted
)
"""An event about a campaign as a whole: keyed by campaign id, not by customer."""
CAMPAIGN_EVENTS: tuple[type[Event], ...] = get_args(CampaignEvent)
"""The types of `CampaignEvent`, for `isinstance`."""


def upcast_outreach_cancelled_v1(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 had fewer reasons; its data is valid version 2 data."""
    return data
