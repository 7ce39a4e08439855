from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from pydantic import ValidationError

from dialog_schemas.campaigns import CAMPAIGN_EVENTS
from dialog_schemas.catalog import OUTBOUND_TOPICS
from dialog_schemas.examples import EXAMPLES
from dialog_schemas.interactions import (
    Channel,
    ContractConfirmationDue,
    Direction,
    OptOutReceived,
    SurveyAnswer,
    TouchpointRecorded,
)
from dialogkit.rules import Conflict, InFuture, RuleViolation
from interactions.domain import (
    RecordTouchpoint,
    Sale,
    SendContractConfirmation,
    event_ids,
    record_touchpoint,
    send_contract_confirmation,
    touchpoint_event_id,
)
from interactions.timeline import describe

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def command(**changes: object) -> RecordTouchpoint:
    fields: dict[str, object] = {
        "customer_id": "c-1",
        "touchpoint_id": "mail-7",
        "channel": Channel.EMAIL,
        "direction": Direction.OUTBOUND,
        "occurred_at": NOW - timedelta(minutes=5),
        "summary": "newsletter sent",
    }
    return RecordTouchpoint.model_validate(fields | changes)


def test_a_touchpoint_is_recorded_as_reported() -> None:
    [event] = record_touchpoint(command(), NOW)
    assert (event.touchpoint_id, event.channel, event.direction) == (
        "mail-7",
        Channel.EMAIL,
        Direction.OUTBOUND,
    )
    assert event.occurred_at == NOW - timedelta(minutes=5)


def test_a_touchpoint_cannot_lie_in_the_future() -> None:
    with pytest.raises(InFuture, match=r"occurred_at: .* is after now"):
        record_touchpoint(command(occurred_at=NOW + timedelta(seconds=1)), NOW)


def test_a_survey_answer_is_recorded_with_the_outreach_it_answers() -> None:
    outreach = uuid4()
    answer = SurveyAnswer(score=9, free_text="quick and friendly")
    named = {"outreach_id": outreach, "campaign_id": "nps-2026"}
    [event] = record_touchpoint(command(direction=Direction.INBOUND, survey=answer, **named), NOW)
    assert isinstance(event, TouchpointRecorded)
    assert (event.survey, event.outreach_id, event.campaign_id) == (answer, outreach, "nps-2026")


@pytest.mark.parametrize("missing", ["outreach_id", "campaign_id"])
def test_a_survey_answer_must_name_its_outreach_and_campaign(missing: str) -> None:
    named = {"outreach_id": uuid4(), "campaign_id": "nps-2026", missing: None}
    with pytest.raises(RuleViolation, match="outreach_id and campaign_id") as refused:
        record_touchpoint(command(survey=SurveyAnswer(score=2), **named), NOW)
    assert refused.value.field == "survey"


def test_the_same_touchpoint_sent_twice_gets_the_same_event_id() -> None:
    assert touchpoint_event_id("c-1", "mail-7") == touchpoint_event_id("c-1", "mail-7")


def test_equal_touchpoint_ids_of_different_customers_stay_apart() -> None:
    assert touchpoint_event_id("c-1", "mail-7") != touchpoint_event_id("c-2", "mail-7")


def call(disposition: str) -> RecordTouchpoint:
    return command(
        channel=Channel.PHONE,
        details={"kind": "call", "disposition": disposition, "duration_s": 90},
        touchpoint_id="call-9",
    )


def test_a_do_not_call_disposition_is_an_opt_out_on_the_phone() -> None:
    touchpoint, opt_out = record_touchpoint(call("do_not_call"), NOW)
    assert isinstance(opt_out, OptOutReceived)
    assert (opt_out.channel, opt_out.touchpoint_id, opt_out.received_at) == (
        Channel.PHONE,
        "call-9",
        touchpoint.occurred_at,  # type: ignore[attr-defined]
    )


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_an_unsubscribe_is_an_opt_out_on_its_channel(channel: str) -> None:
    details = {"kind": channel, "message_id": "m-1", "status": "unsubscribed"}
    _, opt_out = record_touchpoint(command(channel=channel, details=details), NOW)
    assert isinstance(opt_out, OptOutReceived)
    assert opt_out.channel == channel


def test_other_outcomes_have_no_consequence() -> None:
    assert len(record_touchpoint(call("reached"), NOW)) == 1
    email = {"kind": "email", "message_id": "m-1", "status": "opened"}
    assert len(record_touchpoint(command(details=email), NOW)) == 1


def test_a_sale_by_phone_makes_a_text_form_confirmation_due() -> None:
    _, due = record_touchpoint(call("sale"), NOW)
    assert isinstance(due, ContractConfirmationDue)
    assert due.touchpoint_id == "call-9"


SALE = Sale("call-9", datetime(2026, 3, 1, 9, tzinfo=UTC))


def confirmation(**fields: Any) -> SendContractConfirmation:
    return SendContractConfirmation.model_validate(
        {"touchpoint_id": "call-9", "sent_via": Channel.EMAIL} | fields
    )


def test_the_withdrawal_period_runs_fourteen_days_from_the_confirmation() -> None:
    sent = send_contract_confirmation(
        confirmation(sent_at=datetime(2026, 3, 2, 17, tzinfo=UTC)), NOW, SALE
    )
    assert sent.withdrawal_ends_on == date(2026, 3, 16)
    assert (sent.time_zone, sent.received_at) == ("Europe/Berlin", sent.sent_at)


def test_a_confirmation_for_no_sale_of_the_customer_is_refused() -> None:
    with pytest.raises(Conflict, match="not a call with a sale"):
        send_contract_confirmation(confirmation(), NOW, None)


def test_a_confirmation_cannot_be_sent_before_the_sale() -> None:
    with pytest.raises(RuleViolation, match="sent_at"):
        send_contract_confirmation(
            confirmation(sent_at=datetime(2026, 2, 28, tzinfo=UTC)), NOW, SALE
        )


def test_the_period_runs_from_receipt_in_the_customers_calendar() -> None:
    sent = send_contract_confirmation(
        confirmation(
            sent_at=datetime(2026, 3, 20, 17, tzinfo=UTC),
            received_at=datetime(2026, 3, 23, 8, tzinfo=UTC),
            time_zone="America/New_York",
            federal_state="DE-BY",
        ),
        NOW,
        SALE,
    )
    assert (sent.withdrawal_ends_on, sent.federal_state) == (date(2026, 4, 7), "DE-BY")
    # 23 March + 14 = 6 April, Easter Monday: the next working day


def test_a_receipt_before_sending_and_unknown_calendars_are_refused() -> None:
    sent_at = datetime(2026, 3, 20, 17, tzinfo=UTC)
    with pytest.raises(RuleViolation, match="received_at"):
        send_contract_confirmation(
            confirmation(sent_at=sent_at, received_at=sent_at - timedelta(hours=1)), NOW, SALE
        )
    for bad in ({"time_zone": "Mars/Olympus"}, {"federal_state": "DE-XX"}):
        with pytest.raises(ValidationError):
            confirmation(**bad)


def test_consequences_get_ids_derived_from_their_touchpoint() -> None:
    events = record_touchpoint(call("sale"), NOW)
    first = event_ids("c-1", "call-9", events)
    assert first == event_ids("c-1", "call-9", events)
    assert first[0] == touchpoint_event_id("c-1", "call-9")
    assert len(set(first)) == 2


def test_every_customer_event_type_has_a_timeline_entry() -> None:
    not_about_a_customer = {
        *(e.event_type for e in CAMPAIGN_EVENTS),
        *(e for t in OUTBOUND_TOPICS.values() for e in t.events),  # the timeline does not read
        "ConsentStateChanged",
        "TouchpointReported",
        "PurchaseReported",
        "CancellationReported",
        "CancellationWithdrawalReported",
        "BehaviouralSignalReported",  # ingress: the timeline reads what it becomes
        "PersonalDataAccessed",  # the audit trail: who looked, not what happened to the customer
    }
    for example in EXAMPLES:
        entry = describe(example)
        if example.event_type in not_about_a_customer:
            assert entry is None, example.event_type
        else:
            assert entry is not None, example.event_type
            assert entry.summary, example.event_type


def test_profile_entries_carry_no_personal_data() -> None:
    for example in EXAMPLES:
        if example.event_type in ("ContactRegistered", "ContactUpdated"):
            entry = describe(example)
            assert entry is not None
            assert "Erika" not in entry.summary
            assert "+49" not in entry.summary


def test_a_touchpoint_entry_says_what_happened_on_its_channel() -> None:
    [event] = record_touchpoint(call("reached"), NOW)
    entry = describe(event)
    assert entry is not None
    assert (entry.summary, entry.note) == ("Call: reached (90 s)", "newsletter sent")
    assert (entry.channel, entry.source_ref) == (Channel.PHONE, "call-9")
