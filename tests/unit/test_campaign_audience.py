"""Audience rules over customer facts; objected, erased and unreachable customers never in."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from campaigns.audience import CustomerFacts, Exclusion, exclusion, matches, select
from dialog_schemas.campaigns import Audience, AudienceRule, RecencyRule
from dialog_schemas.common import Channel, CustomerKind, Purpose

NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)
DAY = timedelta(days=1)
ANNA = CustomerFacts(
    "anna",
    kind=CustomerKind.CONSUMER,
    registered_at=NOW - 400 * DAY,
    held=frozenset({"home-internet"}),
    interests=frozenset({"football"}),
    time_zone="Europe/Berlin",
    reachable_on=frozenset({Channel.PHONE, Channel.EMAIL, Channel.LETTER}),
)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (AudienceRule(), True),
        (AudienceRule(kinds=[CustomerKind.CONSUMER]), True),
        (AudienceRule(kinds=[CustomerKind.BUSINESS]), False),
        (AudienceRule(customer_for_days=365), True),
        (AudienceRule(customer_for_days=401), False),
        (AudienceRule(holds_any=["home-internet", "tv"]), True),
        (AudienceRule(holds_any=["mobile"]), False),
        (AudienceRule(holds_none=["mobile"]), True),
        (AudienceRule(holds_none=["home-internet"]), False),
        (AudienceRule(interests_any=["football", "tennis"]), True),
        (AudienceRule(interests_any=["tennis"]), False),
        (AudienceRule(time_zones=["Europe/Berlin"]), True),
        (AudienceRule(time_zones=["Europe/"]), True),
        (AudienceRule(time_zones=["America/"]), False),
        (AudienceRule(cancelled_any=["home-internet"]), False),
    ],
)
def test_each_condition(rule: AudienceRule, expected: bool) -> None:
    assert matches(rule, ANNA, NOW) is expected


def test_the_issue_example_home_internet_no_mobile_a_year_not_called_in_30_days() -> None:
    rule = AudienceRule(
        holds_any=["home-internet"],
        holds_none=["mobile"],
        customer_for_days=365,
        not_contacted=RecencyRule(channel=Channel.PHONE, within_days=30),
    )
    assert matches(rule, ANNA, NOW)
    called = replace(ANNA, last_contact={Channel.PHONE: NOW - 10 * DAY})
    assert not matches(rule, called, NOW)
    called_long_ago = replace(ANNA, last_contact={Channel.PHONE: NOW - 31 * DAY})
    assert matches(rule, called_long_ago, NOW)
    emailed = replace(ANNA, last_contact={Channel.EMAIL: NOW - DAY})
    assert matches(rule, emailed, NOW)


def test_customer_since_counts_before_registration() -> None:
    rule = AudienceRule(customer_for_days=1000)
    assert not matches(rule, ANNA, NOW)
    assert matches(rule, replace(ANNA, customer_since=date(2020, 1, 1)), NOW)
    assert not matches(rule, replace(ANNA, registered_at=None), NOW)


def test_cancellation_within_days() -> None:
    cancelled = replace(ANNA, cancelled={"home-internet": NOW - 5 * DAY})
    assert matches(AudienceRule(cancelled_any=["home-internet"]), cancelled, NOW)
    assert matches(
        AudienceRule(cancelled_any=["home-internet"], cancelled_within_days=7), cancelled, NOW
    )
    assert not matches(
        AudienceRule(cancelled_any=["home-internet"], cancelled_within_days=3), cancelled, NOW
    )


def test_responded_on_any_channel_or_one() -> None:
    answered = replace(ANNA, last_response={Channel.EMAIL: NOW - 2 * DAY})
    assert matches(AudienceRule(responded=RecencyRule(within_days=7)), answered, NOW)
    assert not matches(
        AudienceRule(responded=RecencyRule(channel=Channel.PHONE, within_days=7)), answered, NOW
    )
    assert not matches(AudienceRule(responded=RecencyRule(within_days=7)), ANNA, NOW)


def test_unknown_zone_matches_no_zone_rule() -> None:
    assert not matches(AudienceRule(time_zones=["Europe/"]), replace(ANNA, time_zone=None), NOW)


EVERYONE = Audience(rule=AudienceRule())


@pytest.mark.parametrize(
    ("facts", "purpose", "expected"),
    [
        (ANNA, Purpose.MARKETING, None),
        (replace(ANNA, objected=True), Purpose.MARKETING, Exclusion.OBJECTION),
        (replace(ANNA, objected=True), Purpose.SERVICE, None),
        (replace(ANNA, erased=True), Purpose.SERVICE, Exclusion.ERASED),
        (
            replace(ANNA, reachable_on=frozenset({Channel.EMAIL})),
            Purpose.MARKETING,
            Exclusion.NO_CONTACT_POINT,
        ),
        (None, Purpose.MARKETING, Exclusion.UNKNOWN),
    ],
)
def test_objected_and_erased_are_never_in_an_advertising_audience(
    facts: CustomerFacts | None, purpose: Purpose, expected: Exclusion | None
) -> None:
    assert exclusion(EVERYONE, facts, Channel.PHONE, purpose, NOW) is expected


def test_an_objection_overrides_an_explicit_inclusion() -> None:
    audience = Audience(include_ids=["anna"])
    objected = replace(ANNA, objected=True)
    assert exclusion(audience, objected, Channel.PHONE, Purpose.MARKETING, NOW) is (
        Exclusion.OBJECTION
    )


def test_explicit_ids_without_a_rule_are_the_whole_audience() -> None:
    bert = replace(ANNA, customer_id="bert")
    facts = {"anna": ANNA, "bert": bert}
    audience = Audience(include_ids=["bert", "nobody"])
    assert select(audience, facts, {}, Channel.PHONE, Purpose.MARKETING, NOW) == ["bert"]


def test_rule_plus_included_minus_excluded() -> None:
    bert = replace(ANNA, customer_id="bert", kind=CustomerKind.BUSINESS)
    carl = replace(ANNA, customer_id="carl")
    facts = {"anna": ANNA, "bert": bert, "carl": carl}
    audience = Audience(
        rule=AudienceRule(kinds=[CustomerKind.CONSUMER]),
        include_ids=["bert"],
        exclude_ids=["carl"],
    )
    assert select(audience, facts, {}, Channel.PHONE, Purpose.MARKETING, NOW) == ["anna", "bert"]


def test_a_merged_duplicate_counts_once_as_its_survivor() -> None:
    facts = {"anna": ANNA}
    audience = Audience(include_ids=["anna", "anna-dup"], exclude_ids=[])
    survivors = {"anna-dup": "anna", "anna": "anna"}
    assert select(audience, facts, survivors, Channel.PHONE, Purpose.MARKETING, NOW) == ["anna"]
    excluding_dup = Audience(rule=AudienceRule(), exclude_ids=["anna-dup"])
    assert select(excluding_dup, facts, survivors, Channel.PHONE, Purpose.MARKETING, NOW) == []
