"""The attribution rule: by outreach id, by causation, by window (category for conversions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from campaigns.attribution import DEFAULT_WINDOWS, Answer, Sent, attribute, touchpoint_kind
from dialog_schemas import Envelope
from dialog_schemas.campaigns import AttributionMethod, ResponseKind, ResponseReceived
from dialog_schemas.catalog import CAMPAIGNS_EVENTS
from dialog_schemas.common import Channel, Direction
from dialog_schemas.interactions import (
    CallDetails,
    CallDisposition,
    EmailDetails,
    EmailStatus,
    LetterDetails,
    LetterStatus,
    SurveyAnswer,
    TouchpointFacts,
)
from dialogkit.codec import decode_event

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def sent(
    channel: Channel = Channel.EMAIL, days_ago: float = 1, category: str | None = None
) -> Sent:
    return Sent(
        uuid4(),
        "c-1",
        "spring",
        channel,
        NOW - timedelta(days=days_ago),
        category,
        frozenset({uuid4(), uuid4()}),
    )


def reply(channel: Channel = Channel.EMAIL, **fields: object) -> Answer:
    values: dict[str, object] = {
        "kind": ResponseKind.OTHER,
        "at": NOW,
        "channel": channel,
        "causation_id": None,
        "correlation_id": uuid4(),
    }
    return Answer(**(values | fields))  # type: ignore[arg-type]


def purchase(category: str, **fields: object) -> Answer:
    return reply(kind=ResponseKind.PURCHASED, channel=None, category=category, **fields)


def test_a_named_outreach_holds_over_a_later_one_in_the_window() -> None:
    named, later = sent(days_ago=5), sent(days_ago=1)
    found = attribute(reply(outreach_id=named.outreach_id), [named, later], DEFAULT_WINDOWS)
    assert found is not None
    assert (found.outreach, found.method) == (named, AttributionMethod.OUTREACH_ID)


def test_a_named_outreach_not_read_yet_is_taken_from_the_answer_when_it_names_the_campaign() -> (
    None
):
    outreach = uuid4()
    found = attribute(reply(outreach_id=outreach, campaign_id="spring"), [], DEFAULT_WINDOWS)
    assert found is not None
    assert found.method is AttributionMethod.OUTREACH_ID
    assert (found.outreach.outreach_id, found.outreach.campaign_id) == (outreach, "spring")
    assert attribute(reply(outreach_id=outreach, by_window=False), [], DEFAULT_WINDOWS) is None


@pytest.mark.parametrize("which", ["request", "conversation"])
def test_causation_finds_the_outreach_the_answer_followed(which: str) -> None:
    caused, other = sent(days_ago=30), sent(days_ago=1)
    answer = (
        reply(causation_id=sorted(caused.event_ids)[0])
        if which == "request"
        else reply(correlation_id=caused.outreach_id)
    )
    found = attribute(answer, [other, caused], DEFAULT_WINDOWS)
    assert found is not None
    assert (found.outreach, found.method) == (caused, AttributionMethod.CAUSATION)


def test_the_window_takes_the_latest_outreach_on_the_answers_channel() -> None:
    older, latest, phone = sent(days_ago=10), sent(days_ago=2), sent(Channel.PHONE, days_ago=1)
    found = attribute(reply(), [older, latest, phone], DEFAULT_WINDOWS)
    assert found is not None
    assert (found.outreach, found.method) == (latest, AttributionMethod.WINDOW)


@pytest.mark.parametrize(
    ("days_ago", "attributed"),
    [(14, True), (14.0001, False), (0, True), (-0.0001, False)],
)
def test_window_edges(days_ago: float, attributed: bool) -> None:
    """Email's window is 14 days: its last instant counts, and nothing dispatched later."""
    outreach = sent(Channel.EMAIL, days_ago=days_ago)
    assert (attribute(reply(), [outreach], DEFAULT_WINDOWS) is not None) is attributed


def test_windows_differ_by_channel() -> None:
    letter, phone = sent(Channel.LETTER, days_ago=20), sent(Channel.PHONE, days_ago=8)
    assert attribute(reply(Channel.LETTER), [letter], DEFAULT_WINDOWS) is not None
    assert attribute(reply(Channel.PHONE), [phone], DEFAULT_WINDOWS) is None


def test_an_outbound_touchpoint_is_not_attributed_by_window() -> None:
    assert attribute(reply(by_window=False), [sent()], DEFAULT_WINDOWS) is None


def test_a_conversion_takes_the_latest_outreach_advertising_its_category_on_any_channel() -> None:
    fibre = sent(Channel.LETTER, days_ago=20, category="fibre")
    mobile = sent(Channel.EMAIL, days_ago=1, category="mobile")
    uncategorized = sent(Channel.EMAIL, days_ago=1)
    found = attribute(purchase("fibre"), [fibre, mobile, uncategorized], DEFAULT_WINDOWS)
    assert found is not None
    assert (found.outreach, found.method) == (fibre, AttributionMethod.WINDOW)
    assert attribute(purchase("tv"), [fibre, mobile, uncategorized], DEFAULT_WINDOWS) is None


def test_a_conversion_uses_the_window_of_the_outreachs_channel() -> None:
    phone = sent(Channel.PHONE, days_ago=8, category="fibre")
    assert attribute(purchase("fibre"), [phone], DEFAULT_WINDOWS) is None


def test_an_opt_out_is_attributed_on_its_own_channel() -> None:
    email, sms = sent(Channel.EMAIL, days_ago=3), sent(Channel.SMS, days_ago=1)
    opt_out = reply(Channel.EMAIL, kind=ResponseKind.UNSUBSCRIBED)
    found = attribute(opt_out, [email, sms], DEFAULT_WINDOWS)
    assert found is not None
    assert found.outreach == email
    assert attribute(reply(Channel.PHONE, kind=ResponseKind.UNSUBSCRIBED), [email, sms], {}) is None


def test_nothing_sent_nothing_attributed() -> None:
    assert attribute(reply(), [], DEFAULT_WINDOWS) is None


def touchpoint(direction: Direction = Direction.INBOUND, **fields: object) -> TouchpointFacts:
    channel = fields.pop("channel", Channel.EMAIL)
    return TouchpointFacts(
        touchpoint_id="t-1", channel=channel, direction=direction, occurred_at=NOW, **fields
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("facts", "kind"),
    [
        (touchpoint(survey=SurveyAnswer(score=9)), ResponseKind.ANSWERED),
        (touchpoint(), ResponseKind.OTHER),
        (touchpoint(Direction.OUTBOUND), None),
        (
            touchpoint(details=EmailDetails(message_id="m", status=EmailStatus.CLICKED)),
            ResponseKind.INTERESTED,
        ),
        (
            touchpoint(
                Direction.OUTBOUND,
                details=EmailDetails(message_id="m", status=EmailStatus.UNSUBSCRIBED),
            ),
            ResponseKind.UNSUBSCRIBED,
        ),
        (
            touchpoint(
                Direction.OUTBOUND,
                details=EmailDetails(message_id="m", status=EmailStatus.DELIVERED),
            ),
            None,
        ),
        (
            touchpoint(
                channel=Channel.LETTER,
                details=LetterDetails(mailing_id="m", status=LetterStatus.RESPONSE),
            ),
            ResponseKind.INTERESTED,
        ),
        (
            touchpoint(
                Direction.OUTBOUND,
                channel=Channel.PHONE,
                details=CallDetails(disposition=CallDisposition.NOT_INTERESTED),
            ),
            ResponseKind.DECLINED,
        ),
        (
            touchpoint(
                Direction.OUTBOUND,
                channel=Channel.PHONE,
                details=CallDetails(disposition=CallDisposition.DO_NOT_CALL),
            ),
            ResponseKind.UNSUBSCRIBED,
        ),
        (
            touchpoint(
                channel=Channel.PHONE,
                details=CallDetails(disposition=CallDisposition.NOT_REACHED),
            ),
            None,
        ),
        (
            touchpoint(channel=Channel.PHONE, details=CallDetails(disposition="reached")),
            ResponseKind.OTHER,
        ),
    ],
)
def test_what_a_touchpoint_says_as_a_response(
    facts: TouchpointFacts, kind: ResponseKind | None
) -> None:
    assert touchpoint_kind(facts) is kind


def test_a_stored_version_1_response_is_read_as_version_2_without_attribution() -> None:
    v1 = {
        "response_id": "r-1",
        "outreach_id": str(uuid4()),
        "campaign_id": "spring",
        "channel": "phone",
        "received_at": NOW.isoformat(),
        "response": "declined",
    }
    envelope = Envelope(
        id=uuid4(),
        source="/campaigns/worker",
        type="ResponseReceived",
        subject="c-1",
        time=NOW,
        schemaversion=1,
        correlationid=uuid4(),
        data=v1,
    )
    event = decode_event(envelope, CAMPAIGNS_EVENTS.events)
    assert isinstance(event, ResponseReceived)
    assert (event.response, event.attributed_by, event.source_event_id) == (
        ResponseKind.DECLINED,
        None,
        None,
    )
