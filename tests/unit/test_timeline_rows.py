"""A timeline entry as the row the timeline projection writes, and touchpoint headlines."""

from datetime import UTC, datetime
from uuid import uuid4

import orjson
import pytest

from dialog_schemas import Envelope
from dialog_schemas import interactions as ia
from dialog_schemas.catalog import INTERACTIONS_EVENTS
from dialog_schemas.common import Channel, Direction, Purpose
from dialog_schemas.examples import EXAMPLES
from dialogkit.codec import encode
from dialogkit.projection import Decoded, decode
from dialogkit.records import SourceRecord
from interactions.projections import COLUMNS, timeline_row
from interactions.timeline import describe

AT = datetime(2026, 11, 1, 9, tzinfo=UTC)


def decoded(event: ia.TouchpointRecorded, subject: str = "c-1") -> Decoded:
    envelope = Envelope.wrap(event, id=uuid4(), source="/test", subject=subject, time=AT)
    record = SourceRecord(INTERACTIONS_EVENTS.name, 0, 0, subject.encode(), encode(envelope))
    return decode(record, INTERACTIONS_EVENTS)


def touchpoint(**changes: object) -> ia.TouchpointRecorded:
    facts: dict[str, object] = {
        "touchpoint_id": "tp-1",
        "channel": Channel.EMAIL,
        "direction": Direction.OUTBOUND,
        "occurred_at": AT,
        "reported_by": "test",
    }
    return ia.TouchpointRecorded(**(facts | changes))  # type: ignore[arg-type]


def test_a_row_holds_every_column_with_enumerations_as_their_values() -> None:
    event = touchpoint(
        purpose=Purpose.SERVICE,
        summary="asked about the invoice",
        details=ia.EmailDetails(message_id="m-1", status=ia.EmailStatus.OPENED),
        survey=ia.SurveyAnswer(score=7, free_text="fine"),
    )
    item = decoded(event)
    row = timeline_row(item)
    assert row is not None
    written = dict(zip(COLUMNS, orjson.loads(orjson.dumps([row]))[0], strict=True))
    envelope = item.envelope
    assert written == {
        "customer_id": "c-1",
        "entry_id": str(envelope.id),
        "occurred_at": "2026-11-01T09:00:00+00:00",
        "kind": "TouchpointRecorded",
        "channel": "email",
        "direction": "outbound",
        "summary": "Email opened, survey answer (score 7) [service]",
        "source": "/test",
        "source_ref": "tp-1",
        "correlation_id": str(envelope.correlationid),
        "note": "asked about the invoice",
        "note_owner": "c-1",
        "answer": "fine",
    }


def test_a_row_without_note_or_answer_has_no_note_owner() -> None:
    row = timeline_row(decoded(touchpoint()))
    assert row is not None
    written = dict(zip(COLUMNS, orjson.loads(orjson.dumps([row]))[0], strict=True))
    assert (written["summary"], written["note"], written["note_owner"], written["answer"]) == (
        "Email touchpoint",
        None,
        None,
        None,
    )


def test_an_event_not_about_a_customer_has_no_row() -> None:
    [created] = [e for e in EXAMPLES if e.event_type == "CampaignCreated"]
    assert describe(created) is None


@pytest.mark.parametrize(
    ("details", "channel", "headline"),
    [
        (
            ia.CallDetails(disposition=ia.CallDisposition.NOT_REACHED),
            Channel.PHONE,
            "Call: not reached",
        ),
        (
            ia.CallDetails(disposition=ia.CallDisposition.REACHED, duration_s=30),
            Channel.PHONE,
            "Call: reached (30 s)",
        ),
        (
            ia.LetterDetails(mailing_id="m-7", status=ia.LetterStatus.RETURNED),
            Channel.LETTER,
            "Letter returned (mailing m-7)",
        ),
        (
            ia.SmsDetails(message_id="s-1", status=ia.SmsStatus.DELIVERED),
            Channel.SMS,
            "SMS delivered",
        ),
        (
            ia.SocialDetails(platform="mastodon", thread_id="t", message_id="m"),
            Channel.SOCIAL,
            "Social message on mastodon",
        ),
        (None, Channel.SMS, "Sms touchpoint"),
    ],
)
def test_a_touchpoint_headline_says_what_its_details_say(
    details: ia.Details | None, channel: Channel, headline: str
) -> None:
    entry = describe(touchpoint(channel=channel, details=details, survey=ia.SurveyAnswer()))
    assert entry is not None
    assert (entry.summary, entry.answer) == (f"{headline}, survey answer", None)
