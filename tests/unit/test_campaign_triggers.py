"""Triggered campaigns, the pure rules: which event fires, when its outreach is due, the
cool-down, when the reason is gone, and how a triggered campaign is launched."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from campaigns import domain
from campaigns.domain import CreateCampaign, LaunchWave, Status
from campaigns.triggers import (
    Fired,
    Holding,
    Origin,
    Running,
    cooldown,
    fires,
    outside_cooldown,
    plan,
    reason_gone,
    triggered_outreach_id,
)
from dialog_schemas import Event
from dialog_schemas.campaigns import (
    CampaignDefinition,
    CampaignLaunched,
    CancellationReason,
    SignalKind,
    Trigger,
    TriggerKind,
)
from dialog_schemas.common import Channel, Purpose
from dialogkit.rules import Conflict, RuleViolation

NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)
EVENT = uuid.UUID("00000000-0000-4000-8000-000000000001")


def campaign(trigger: Trigger, **definition: object) -> Running:
    fields: dict[str, object] = {
        "name": "Triggered",
        "channel": Channel.PHONE,
        "purpose": Purpose.RETENTION,
        "trigger": trigger,
    }
    return Running("t-1", CampaignDefinition.model_validate(fields | definition), NOW)


def fired(kind: TriggerKind, at: datetime = NOW + timedelta(hours=1), **extra: object) -> Fired:
    return Fired("c-1", kind, EVENT, at, **extra)  # type: ignore[arg-type]


RETENTION = Trigger(on=TriggerKind.CONTRACT_CANCELLED, categories=["mobile"], delay_s=7200)
CROSS_SELL = Trigger(on=TriggerKind.PRODUCT_PURCHASED, categories=["home-internet"], delay_s=60)
SIGNAL = Trigger(on=TriggerKind.BEHAVIOURAL_SIGNAL, signals=[SignalKind.CART_ABANDONED])
THANKS = Trigger(on=TriggerKind.SURVEY_ANSWERED, survey_campaign_id="survey-1")


def test_a_cancellation_of_a_category_named_plans_a_call_due_after_the_delay() -> None:
    event = fired(TriggerKind.CONTRACT_CANCELLED, category="mobile", item_id="contract:k-1")
    planned = plan(campaign(RETENTION), event)
    assert planned is not None
    assert planned.due_at == event.at + timedelta(hours=2)
    assert (planned.channel, planned.purpose) == (Channel.PHONE, Purpose.RETENTION)
    assert planned.outreach_id == triggered_outreach_id("t-1", "c-1", EVENT)
    assert planned.offer_category is None  # a retention call offers nothing to buy meanwhile


@pytest.mark.parametrize(
    ("event", "why"),
    [
        (fired(TriggerKind.CONTRACT_CANCELLED, category="tv"), "another category"),
        (fired(TriggerKind.CONTRACT_CANCELLED), "a contract of unknown category"),
        (fired(TriggerKind.PRODUCT_PURCHASED, category="mobile"), "another kind of event"),
        (
            fired(TriggerKind.CONTRACT_CANCELLED, NOW - timedelta(seconds=1), category="mobile"),
            "before the campaign was launched",
        ),
    ],
)
def test_an_event_that_does_not_meet_the_trigger_plans_nothing(event: Fired, why: str) -> None:
    assert plan(campaign(RETENTION), event) is None, why


def test_the_campaign_start_and_end_bound_the_events_that_fire() -> None:
    bounded = campaign(
        RETENTION, starts_at=NOW + timedelta(days=1), ends_at=NOW + timedelta(days=2)
    )
    cancelled = {"category": "mobile"}
    assert not fires(
        bounded, fired(TriggerKind.CONTRACT_CANCELLED, NOW + timedelta(hours=1), **cancelled)
    )
    assert fires(
        bounded, fired(TriggerKind.CONTRACT_CANCELLED, NOW + timedelta(days=1), **cancelled)
    )
    assert not fires(
        bounded, fired(TriggerKind.CONTRACT_CANCELLED, NOW + timedelta(days=2), **cancelled)
    )


def test_a_trigger_without_categories_fires_on_any_category() -> None:
    anything = Trigger(on=TriggerKind.CONTRACT_CANCELLED)
    assert fires(campaign(anything), fired(TriggerKind.CONTRACT_CANCELLED))
    assert fires(campaign(anything), fired(TriggerKind.CONTRACT_CANCELLED, category="tv"))


def test_a_cross_sell_offers_the_campaigns_category_and_a_signal_its_own_if_none() -> None:
    cross = campaign(
        CROSS_SELL, channel=Channel.LETTER, purpose=Purpose.CROSS_SELL, product_category="mobile"
    )
    planned = plan(cross, fired(TriggerKind.PRODUCT_PURCHASED, category="home-internet"))
    assert planned is not None
    assert planned.offer_category == "mobile"
    assert planned.due_at == NOW + timedelta(hours=1, seconds=60)
    letter = campaign(SIGNAL, channel=Channel.LETTER, purpose=Purpose.MARKETING)
    visit = {"category": "tv", "signal": SignalKind.CART_ABANDONED}
    planned = plan(letter, fired(TriggerKind.BEHAVIOURAL_SIGNAL, **visit))
    assert planned is not None
    assert planned.offer_category == "tv"
    page = {"category": "tv", "signal": SignalKind.PRODUCT_PAGE_VISIT}
    assert plan(letter, fired(TriggerKind.BEHAVIOURAL_SIGNAL, **page)) is None


def test_a_thank_you_goes_out_on_the_channel_the_survey_was_answered_on() -> None:
    thanks = campaign(THANKS, channel=Channel.EMAIL, purpose=Purpose.SERVICE)
    answer = {"survey_campaign_id": "survey-1", "channel": Channel.SMS}
    planned = plan(thanks, fired(TriggerKind.SURVEY_ANSWERED, **answer))
    assert planned is not None
    assert (planned.channel, planned.purpose) == (Channel.SMS, Purpose.SERVICE)
    other = {"survey_campaign_id": "survey-2", "channel": Channel.SMS}
    assert plan(thanks, fired(TriggerKind.SURVEY_ANSWERED, **other)) is None
    social = {"survey_campaign_id": "survey-1", "channel": Channel.SOCIAL}
    assert plan(thanks, fired(TriggerKind.SURVEY_ANSWERED, **social)) is None  # no outbound topic


def test_the_cool_down_is_the_setting_unless_the_trigger_overrides_it() -> None:
    default = timedelta(days=30)
    assert cooldown(campaign(RETENTION).definition, default) == default
    short = RETENTION.model_copy(update={"cooldown_days": 7})
    assert cooldown(campaign(short).definition, default) == timedelta(days=7)
    assert outside_cooldown(None, NOW, default)
    assert not outside_cooldown(NOW, NOW + timedelta(days=29), default)
    assert outside_cooldown(NOW, NOW + timedelta(days=30), default)
    assert not outside_cooldown(NOW, NOW - timedelta(days=31), default)  # an older event


def test_a_withdrawn_cancellation_cancels_the_retention_call() -> None:
    origin = Origin(TriggerKind.CONTRACT_CANCELLED, "contract:k-1", NOW, None)
    cancelled = Holding("contract:k-1", "mobile", NOW - timedelta(days=300), NOW)
    assert reason_gone(origin, [cancelled]) is None
    withdrawn = Holding("contract:k-1", "mobile", NOW - timedelta(days=300), None)
    assert reason_gone(origin, [withdrawn]) is CancellationReason.TRIGGER_WITHDRAWN
    assert reason_gone(origin, []) is None  # erased since: the dispatch decision blocks


def test_buying_the_offered_category_after_the_trigger_cancels_the_offer() -> None:
    origin = Origin(TriggerKind.PRODUCT_PURCHASED, None, NOW, "mobile")
    trigger = Holding("purchase:p-1", "home-internet", NOW, None)
    assert reason_gone(origin, [trigger]) is None
    before = Holding("purchase:p-0", "mobile", NOW - timedelta(days=1), None)
    assert reason_gone(origin, [trigger, before]) is None
    ended = Holding("contract:k-2", "mobile", NOW + timedelta(hours=1), NOW + timedelta(hours=2))
    assert reason_gone(origin, [trigger, ended]) is None
    bought = Holding("purchase:p-2", "mobile", NOW + timedelta(hours=1), None)
    assert reason_gone(origin, [trigger, bought]) is CancellationReason.ALREADY_PURCHASED
    signal = Origin(TriggerKind.BEHAVIOURAL_SIGNAL, None, NOW, "mobile")
    assert reason_gone(signal, [bought]) is CancellationReason.ALREADY_PURCHASED
    thanks = Origin(TriggerKind.SURVEY_ANSWERED, None, NOW, None)
    assert reason_gone(thanks, [bought]) is None


@pytest.mark.parametrize(
    ("trigger", "field"),
    [
        ({"on": "survey_answered"}, "survey_campaign_id"),
        ({"on": "contract_cancelled", "survey_campaign_id": "s"}, "survey_campaign_id"),
        ({"on": "product_purchased", "signals": ["cart_abandoned"]}, "signals"),
        ({"on": "survey_answered", "survey_campaign_id": "s", "categories": ["x"]}, "categories"),
        ({"on": "contract_cancelled", "delay_s": -1}, "delay_s"),
    ],
)
def test_a_trigger_whose_conditions_do_not_fit_its_event_is_refused(
    trigger: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError, match=field):
        Trigger.model_validate(trigger)


def create(**fields: object) -> list[Event]:
    command = CreateCampaign.model_validate(
        {"campaign_id": "t-1", "name": "T", "channel": "phone", "purpose": "retention"} | fields
    )
    return domain.create(None, command, NOW)


def test_a_triggered_campaign_launches_without_an_audience_and_has_no_waves() -> None:
    created = create(trigger={"on": "contract_cancelled"})
    state = domain.fold(created)
    launched = domain.launch(state, LaunchWave(), NOW)
    assert [type(e) for e in launched] == [CampaignLaunched]
    state = domain.fold([*created, *launched])
    assert state is not None
    assert state.status is Status.RUNNING
    assert state.launched_at == NOW
    with pytest.raises(Conflict, match="no waves"):
        domain.launch(state, LaunchWave(), NOW)


def test_a_thank_you_campaign_must_be_a_service_contact() -> None:
    thanks = {"on": "survey_answered", "survey_campaign_id": "s-1"}
    with pytest.raises(RuleViolation) as refused:
        create(trigger=thanks)
    assert refused.value.field == "purpose"
    assert create(trigger=thanks, purpose="service")
