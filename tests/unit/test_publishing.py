"""The Kafka publisher's edge cases that need no broker; records encoded beforehand."""

from datetime import UTC, datetime
from uuid import uuid4

from dialog_schemas import Envelope
from dialogkit.codec import encode
from dialogkit.publishing import (
    FakePublisher,
    KafkaPublisher,
    encoded,
    envelope_headers,
    publish_encoded,
)

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def envelope(**extra: object) -> Envelope:
    return Envelope(
        id=uuid4(),
        source="/campaigns/worker",
        type="OutreachDispatched",
        subject="c-1",
        time=datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
        schemaversion=1,
        correlationid=uuid4(),
        data={"outreach_id": str(uuid4()), "note": "grüße"},
        **extra,  # type: ignore[arg-type]
    )


async def test_publishing_nothing_returns_at_once_without_a_broker() -> None:
    """A periodic job with nothing to report publishes an empty list; that is no error."""
    await KafkaPublisher("127.0.0.1:1", client_id="t").publish("t", [])
    await KafkaPublisher("127.0.0.1:1", client_id="t").publish_encoded("t", [])


def test_an_encoded_record_is_what_publishing_the_envelope_writes() -> None:
    """Value, key and headers (`ce_*` in the binding's order) as `publish` makes them, whether
    the optional attributes are set or not."""
    for e in (envelope(), envelope(causationid=uuid4(), traceparent=TRACEPARENT)):
        record = encoded(encode(e))
        assert record.value == encode(e)
        assert record.key == b"c-1"
        assert record.headers == envelope_headers(e)


async def test_a_publisher_without_encoded_records_gets_the_envelopes() -> None:
    """Fakes and wrappers that take envelopes only get each record decoded, in order."""
    fake = FakePublisher()
    sent = [envelope(), envelope(traceparent=TRACEPARENT)]
    await publish_encoded(fake, "t", [encoded(encode(e)) for e in sent])
    await publish_encoded(fake, "t", [])
    assert fake.sent["t"] == sent


def test_a_value_written_with_nulls_gets_no_header_for_them() -> None:
    """Outbox rows written before values were kept as published hold `null` attributes."""
    e = envelope()
    record = encoded(e.model_dump_json().encode())
    assert record.headers == envelope_headers(e)
