"""CloudEvents Kafka binding: both content modes, data_base64, canonical strings, named headers."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import orjson
import pytest
from cloudevents.core.bindings import kafka
from cloudevents.v1 import kafka as legacy_kafka
from cloudevents.v1.http import CloudEvent as LegacyCloudEvent

from dialog_schemas import Envelope
from dialog_schemas.catalog import INTERACTIONS_INGRESS
from dialog_schemas.examples import EXAMPLES
from dialog_schemas.interactions import TouchpointReported
from dialog_schemas.sdk_example import ingress_event
from dialogkit.codec import DecodeError, decode_envelope, decode_event, encode
from dialogkit.publishing import envelope_headers

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
REPORT = next(e for e in EXAMPLES if isinstance(e, TouchpointReported))
FIELDS = REPORT.model_dump(mode="json")
Headers = list[tuple[str, bytes]]


def platform_envelope() -> Envelope:
    return Envelope.wrap(
        REPORT,
        id=uuid4(),
        source="/telephony",
        subject="c-1",
        time=NOW,
        causationid=uuid4(),
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )


def binary(**changes: bytes | None) -> tuple[bytes, Headers]:
    """A binary-mode record of the report: value and headers, some changed or (None) left out."""
    headers = dict(envelope_headers(platform_envelope())) | {"content-type": b"application/json"}
    headers |= changes
    return orjson.dumps(FIELDS), [(k, v) for k, v in headers.items() if v is not None]


def refusal(value: bytes, headers: Headers) -> tuple[str, list[tuple[str, str]]]:
    with pytest.raises(DecodeError) as caught:
        decode_envelope(value, headers)
    detail = caught.value.detail
    named = [(d["field"], d["kind"]) for d in detail] if isinstance(detail, list) else []
    return caught.value.reason, named


def test_platform_records_are_structured_and_their_ce_headers_say_the_same_as_the_value() -> None:
    envelope = platform_envelope()
    headers = envelope_headers(envelope)
    assert headers[0] == ("content-type", b"application/cloudevents+json")
    assert decode_envelope(encode(envelope), headers) == envelope
    as_binary = [(k, v) for k, v in headers if k.startswith("ce_")]
    assert decode_envelope(orjson.dumps(envelope.data), as_binary) == envelope


def test_a_binary_record_becomes_the_same_event_as_its_structured_twin() -> None:
    value, headers = binary()
    envelope = decode_envelope(value, headers)
    assert envelope.schemaversion == 1
    assert envelope.time == NOW
    assert decode_event(envelope, INTERACTIONS_INGRESS.events, strict=True) == REPORT


@pytest.mark.parametrize(
    ("changes", "field", "kind"),
    [
        ({"ce_id": None}, "ce_id", "missing"),
        ({"ce_source": None}, "ce_source", "missing"),
        ({"ce_specversion": None}, "ce_specversion", "missing"),
        ({"ce_id": b"not-a-uuid"}, "ce_id", "uuid_parsing"),
        ({"ce_subject": b""}, "ce_subject", "string_too_short"),
        ({"ce_specversion": b"0.3"}, "ce_specversion", "literal_error"),
        ({"ce_time": b"2026-11-24T09:30:00"}, "ce_time", "datetime_parsing"),
        ({"ce_time": b"1700000000"}, "ce_time", "datetime_parsing"),
        ({"ce_schemaversion": b"01"}, "ce_schemaversion", "int_parsing"),
        ({"ce_schemaversion": b"1.0"}, "ce_schemaversion", "int_parsing"),
        ({"ce_schemaversion": b"0"}, "ce_schemaversion", "greater_than_equal"),
        ({"ce_mood": b"cheerful"}, "ce_mood", "extra_forbidden"),
        ({"ce_data": b"{}"}, "ce_data", "header"),
        ({"ce_datacontenttype": b"application/json"}, "ce_datacontenttype", "header"),
        ({"ce_type": b"\xff"}, "ce_type", "header"),
        ({"content-type": b"text/plain"}, "content-type", "literal"),
    ],
)
def test_a_binary_record_that_is_not_an_event_names_the_header(
    changes: dict[str, bytes | None], field: str, kind: str
) -> None:
    value, headers = binary(**changes)
    assert refusal(value, headers) == ("invalid_envelope", [(field, kind)])


def test_a_header_given_twice_is_refused() -> None:
    value, headers = binary()
    assert refusal(value, [*headers, ("ce_id", str(uuid4()).encode())]) == (
        "invalid_envelope",
        [("ce_id", "header")],
    )


def test_binary_data_must_be_a_json_object() -> None:
    _, headers = binary()
    assert refusal(b"not json", headers)[0] == "not_json"
    assert refusal(b"[1]", headers)[0] == "invalid_envelope"


def test_header_names_and_the_json_media_type_are_read_as_the_binding_allows() -> None:
    value, headers = binary(**{"content-type": b"Application/JSON; charset=utf-8"})
    shouted = [(k.upper() if k.startswith("ce_") else k, v) for k, v in headers]
    assert decode_envelope(value, shouted).datacontenttype == "application/json"


def structured(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads(encode(platform_envelope()))
    return document | changes


STRUCTURED = [("content-type", b"application/cloudevents+json")]


def test_data_base64_is_read_as_the_json_it_encodes() -> None:
    encoded = base64.b64encode(orjson.dumps(FIELDS)).decode()
    document = {k: v for k, v in structured(data_base64=encoded).items() if k != "data"}
    envelope = decode_envelope(orjson.dumps(document), STRUCTURED)
    assert decode_event(envelope, INTERACTIONS_INGRESS.events, strict=True) == REPORT


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"data_base64": base64.b64encode(b"{}").decode()}, "data_base64"),  # with `data`
        ({"data": None, "data_base64": "***"}, "data_base64"),
        ({"data": None, "data_base64": base64.b64encode(b"plain").decode()}, "data_base64"),
        ({"data": None, "data_base64": base64.b64encode(b"[1]").decode()}, "data_base64"),
        (
            {"data": None, "data_base64": "e30=", "datacontenttype": "text/plain"},
            "datacontenttype",
        ),
    ],
)
def test_data_base64_that_is_not_json_data_is_refused(changes: dict[str, Any], field: str) -> None:
    document = {k: v for k, v in structured(**changes).items() if v is not None}
    reason, named = refusal(orjson.dumps(document), STRUCTURED)
    assert (reason, [f for f, _ in named]) == ("invalid_envelope", [field])


def test_another_event_format_is_refused_naming_the_content_type() -> None:
    reason, named = refusal(
        encode(platform_envelope()), [("content-type", b"application/cloudevents+avro")]
    )
    assert (reason, named) == ("invalid_envelope", [("content-type", "format")])


def test_a_structured_record_with_ce_headers_is_read_from_its_value() -> None:
    value = encode(platform_envelope())
    stale = [*STRUCTURED, ("ce_id", b"not even a uuid")]
    assert str(decode_envelope(value, stale).id) == orjson.loads(value)["id"]


def test_schemaversion_in_canonical_string_form_is_an_integer_in_structured_mode_too() -> None:
    assert decode_envelope(orjson.dumps(structured(schemaversion="1"))).schemaversion == 1
    assert refusal(orjson.dumps(structured(schemaversion="01")), STRUCTURED) == (
        "invalid_envelope",
        [("schemaversion", "int_parsing")],
    )


def test_the_partitioning_extension_is_accepted_and_dropped() -> None:
    envelope = decode_envelope(orjson.dumps(structured(partitionkey="c-1")), STRUCTURED)
    assert "partitionkey" not in envelope.model_dump()


# The official SDK, both of its APIs, as other systems use it (no broker: the records it makes).


def sdk_records() -> dict[str, tuple[bytes, Headers]]:
    made = {
        "structured": kafka.to_structured_event(
            ingress_event("TouchpointReported", "c-1", FIELDS, source="/t")
        ),
        "structured, data_base64": kafka.to_structured_event(
            ingress_event("TouchpointReported", "c-1", json.dumps(FIELDS).encode(), source="/t")
        ),
        "binary": kafka.to_binary_event(
            ingress_event("TouchpointReported", "c-1", FIELDS, source="/t")
        ),
    }
    legacy = LegacyCloudEvent(
        {
            "type": "TouchpointReported",
            "source": "/t",
            "subject": "c-1",
            "schemaversion": "1",
            "correlationid": str(uuid4()),
            "time": NOW.isoformat(),
            "datacontenttype": "application/json",
        },
        FIELDS,
    )
    legacy_made = {
        "legacy structured": legacy_kafka.to_structured(legacy),
        "legacy structured, data_base64": legacy_kafka.to_structured(
            legacy, data_marshaller=lambda data: json.dumps(data).encode()
        ),
        "legacy binary": legacy_kafka.to_binary(legacy),
    }
    records = {name: (m.value, list(m.headers.items())) for name, m in made.items()}
    for name, m in legacy_made.items():
        value = m.value.encode() if isinstance(m.value, str) else m.value
        records[name] = (value, list(m.headers.items()))
    return records


@pytest.mark.parametrize("how", list(sdk_records()))
def test_what_the_official_sdk_writes_is_read_as_the_event(how: str) -> None:
    value, headers = sdk_records()[how]
    envelope = decode_envelope(value, headers)
    assert (envelope.type, envelope.subject, envelope.schemaversion) == (
        "TouchpointReported",
        "c-1",
        1,
    )
    assert decode_event(envelope, INTERACTIONS_INGRESS.events, strict=True) == REPORT


def test_the_official_sdk_reads_a_platform_record_in_structured_mode() -> None:
    envelope = platform_envelope()
    message = kafka.KafkaMessage(
        dict(envelope_headers(envelope)), envelope.subject.encode(), encode(envelope)
    )
    event = kafka.from_structured_event(message)
    assert (event.get_id(), event.get_type()) == (str(envelope.id), "TouchpointReported")
    assert event.get_extension("schemaversion") == envelope.schemaversion
    assert event.get_data() == envelope.data
