from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import orjson
import pytest

from dialog_schemas import Envelope
from dialog_schemas.catalog import INTERACTIONS_EVENTS
from dialog_schemas.interactions import Channel, Direction, TouchpointRecorded, TouchpointReported
from dialogkit.codec import MAX_RECORD_BYTES, DecodeError, decode_envelope, decode_event, encode

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def touchpoint() -> TouchpointRecorded:
    return TouchpointRecorded(
        touchpoint_id="call-1",
        channel=Channel.PHONE,
        direction=Direction.INBOUND,
        occurred_at=NOW,
        summary="asked about the tariff",
        reported_by="test",
    )


def envelope(**changes: object) -> dict[str, object]:
    document = orjson.loads(
        encode(Envelope.wrap(touchpoint(), id=uuid4(), source="/test", subject="c-1", time=NOW))
    )
    document.update(changes)
    return document


def test_an_envelope_survives_encoding_with_every_attribute() -> None:
    cause = uuid4()
    original = Envelope.wrap(
        touchpoint(),
        id=uuid4(),
        source="/interactions/api",
        subject="c-1",
        time=NOW,
        correlationid=cause,
        causationid=cause,
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )
    decoded = decode_envelope(encode(original))
    assert decoded == original
    assert decode_event(decoded, INTERACTIONS_EVENTS.events) == touchpoint()


def test_a_new_conversation_correlates_to_its_own_event_id() -> None:
    wrapped = Envelope.wrap(touchpoint(), id=uuid4(), source="/t", subject="c-1", time=NOW)
    assert wrapped.correlationid == wrapped.id
    assert wrapped.type == "TouchpointRecorded"
    assert wrapped.schemaversion == 2


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "empty_record"),
        (b"x" * (MAX_RECORD_BYTES + 1), "oversized"),
        (b"{not json", "not_json"),
        (b"[1, 2]", "invalid_envelope"),
        (orjson.dumps(envelope(subject="")), "invalid_envelope"),
        (orjson.dumps(envelope(specversion="0.3")), "invalid_envelope"),
        (orjson.dumps(envelope(time="2026-11-24T09:30:00")), "invalid_envelope"),
        (orjson.dumps(envelope(surprise=1)), "invalid_envelope"),
    ],
)
def test_records_that_are_not_envelopes_are_named_by_reason(raw: bytes | None, reason: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_envelope(raw)
    assert caught.value.reason == reason


def test_an_invalid_envelope_names_the_field() -> None:
    with pytest.raises(DecodeError) as caught:
        decode_envelope(orjson.dumps(envelope(subject="")))
    assert [d["field"] for d in caught.value.detail] == ["subject"]


def test_an_unknown_type_is_refused() -> None:
    decoded = decode_envelope(orjson.dumps(envelope(type="TouchpointTeleported")))
    with pytest.raises(DecodeError) as caught:
        decode_event(decoded, INTERACTIONS_EVENTS.events)
    assert caught.value.reason == "unknown_type"
    assert "TouchpointTeleported" in str(caught.value)


def test_a_version_newer_than_the_code_is_refused() -> None:
    decoded = decode_envelope(orjson.dumps(envelope(schemaversion=9)))
    with pytest.raises(DecodeError) as caught:
        decode_event(decoded, INTERACTIONS_EVENTS.events)
    assert caught.value.reason == "unsupported_version"


def test_invalid_data_names_the_field_that_is_wrong() -> None:
    data = touchpoint().model_dump(mode="json") | {"channel": "pigeon"}
    decoded = decode_envelope(orjson.dumps(envelope(data=data)))
    with pytest.raises(DecodeError) as caught:
        decode_event(decoded, INTERACTIONS_EVENTS.events)
    assert caught.value.reason == "invalid_data"
    assert caught.value.detail[0]["field"] == "channel"


def test_events_are_frozen_and_forbid_extra_fields() -> None:
    with pytest.raises(ValueError, match="extra"):
        TouchpointRecorded.model_validate(touchpoint().model_dump() | {"agent": "x"})
    with pytest.raises(ValueError, match="frozen"):
        touchpoint().summary = "changed"  # type: ignore[misc]


V1_RECORDS = Path(__file__).resolve().parents[1] / "fixtures" / "touchpoint-recorded-v1.jsonl"


def test_stored_v1_touchpoints_are_read_as_v2_by_the_upcaster() -> None:
    lines = V1_RECORDS.read_bytes().splitlines()
    events = [decode_event(decode_envelope(line), INTERACTIONS_EVENTS.events) for line in lines]
    assert [type(e) for e in events] == [TouchpointRecorded, TouchpointRecorded]
    first = events[0]
    assert isinstance(first, TouchpointRecorded)
    assert (first.touchpoint_id, first.channel, first.summary) == (
        "call-1",
        Channel.PHONE,
        "asked about the tariff",
    )
    assert first.reported_by == "interactions-api"
    assert (first.purpose, first.details) == (None, None)


class TouchpointReported2(TouchpointReported):
    """A second version of the ingress report, with no upcaster registered for it."""

    event_type = "TouchpointReported"
    schema_version = 2


def test_a_version_without_an_upcaster_is_unsupported() -> None:
    document = envelope(type="TouchpointReported", schemaversion=1) | {"data": {}}
    known = {"TouchpointReported": TouchpointReported2}
    with pytest.raises(DecodeError) as caught:
        decode_event(decode_envelope(orjson.dumps(document)), known)
    assert caught.value.reason == "unsupported_version"
    assert "no upcaster from TouchpointReported v1 to v2" in caught.value.detail


def test_platform_consumers_ignore_fields_they_do_not_know_yet_and_ingress_rejects_them() -> None:
    document = envelope()
    document["data"] = {**document["data"], "sentiment": "positive"}  # type: ignore[dict-item]
    decoded = decode_envelope(orjson.dumps(document))
    assert decode_event(decoded, INTERACTIONS_EVENTS.events) == touchpoint()
    with pytest.raises(DecodeError) as caught:
        decode_event(decoded, INTERACTIONS_EVENTS.events, strict=True)
    assert caught.value.reason == "invalid_data"
    assert caught.value.detail[0]["field"] == "sentiment"
    assert caught.value.detail[0]["kind"] == "extra_forbidden"
