"""Fast JSON encoding of envelopes, and decoding that says exactly what is wrong.

Records are read as the CloudEvents Kafka protocol binding writes them, in either content mode:
structured (the event is the JSON value, `content-type: application/cloudevents+json`) or binary
(each attribute a `ce_<name>` header, `content-type` the `datacontenttype`, the value the data).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from dialog_schemas import Envelope, Event
from dialog_schemas.catalog import upcast
from dialog_schemas.personal import PLAIN_TAG, SEALED_TAG

MAX_RECORD_BYTES = 1_000_000
CE_PREFIX = "ce_"
EVENT_FORMAT = "application/cloudevents"  # a content-type with this prefix: structured mode
JSON_DATA = "application/json"
PARTITION_KEY = "partitionkey"  # the binding's partitioning extension; the record key rules
INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")  # canonical string form of a CloudEvents Integer
RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


@dataclass(frozen=True)
class DecodeError(Exception):
    """A record that cannot become an event; `reason` is machine-readable."""

    reason: str
    detail: Any

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


def encode(envelope: Envelope) -> bytes:
    """Serialize an envelope as a structured-mode CloudEvent."""
    return orjson.dumps(envelope.model_dump(mode="json", exclude_none=True))


def validation_detail(error: ValidationError) -> list[dict[str, Any]]:
    """The field paths and messages of a validation error, ready for JSON.

    A personal field accepts a plain or a sealed value; only the plain alternative's errors are
    reported, under the field's own path.
    """
    return [
        {
            "field": ".".join(str(p) for p in e["loc"] if p != PLAIN_TAG),
            "problem": e["msg"],
            "kind": e["type"],
        }
        for e in error.errors(include_url=False, include_input=False)
        if SEALED_TAG not in e["loc"]
    ]


def decode_envelope(raw: bytes | None, headers: Sequence[tuple[str, bytes]] = ()) -> Envelope:
    """Parse and validate the envelope of a record, in the content mode its headers say."""
    if raw is None:
        raise DecodeError("empty_record", "the record has no value")
    if len(raw) > MAX_RECORD_BYTES:
        raise DecodeError("oversized", f"{len(raw)} bytes, at most {MAX_RECORD_BYTES} accepted")
    content_type = _header(headers, "content-type")
    if content_type is not None and content_type.lower().startswith(EVENT_FORMAT):
        return _structured(raw, content_type, None)
    if any(name.lower().startswith(CE_PREFIX) for name, _ in headers):
        return _binary(raw, headers, content_type)
    # No CloudEvents header at all: the value is the event. The Python SDK's structured writer
    # puts `datacontenttype` into `content-type` this way, and older producers send no headers.
    return _structured(raw, None, content_type)


def _structured(raw: bytes, event_format: str | None, datacontenttype: str | None) -> Envelope:
    if event_format is not None and _media_type(event_format) != f"{EVENT_FORMAT}+json":
        raise _invalid("content-type", f"event format {event_format!r} is not supported", "format")
    document = _json_object(raw)
    if datacontenttype is not None:
        document.setdefault("datacontenttype", datacontenttype)
    if "data_base64" in document:
        document = _with_base64_data(document)
    return _validated(document, lambda field: field)


def _binary(raw: bytes, headers: Sequence[tuple[str, bytes]], content_type: str | None) -> Envelope:
    document: dict[str, Any] = {}
    for name, value in headers:
        name = name.lower()
        if not name.startswith(CE_PREFIX):
            continue
        attribute = name.removeprefix(CE_PREFIX)
        if attribute in ("data", "data_base64", "datacontenttype"):
            travels = "the record value" if attribute != "datacontenttype" else "`content-type`"
            raise _invalid(name, f"not an attribute header: it travels as {travels}", "header")
        if attribute in document:
            raise _invalid(name, "the header is given more than once", "header")
        try:
            document[attribute] = value.decode()
        except UnicodeDecodeError:
            raise _invalid(name, "the header value is not UTF-8", "header") from None
    if "specversion" not in document:  # optional in our JSON, where it defaults to 1.0
        raise _invalid("ce_specversion", "Field required", "missing")
    if content_type is not None:
        if _media_type(content_type) != JSON_DATA:
            raise _invalid("content-type", f"data of {content_type!r} is not JSON", "literal")
        document["datacontenttype"] = content_type
    document["data"] = _json_object(raw)
    return _validated(document, _header_of)


def _header_of(attribute: str) -> str:
    """The header a binary-mode attribute travels in; its data is the record value."""
    if attribute == "datacontenttype":
        return "content-type"
    return "value" if attribute == "data" else f"{CE_PREFIX}{attribute}"


def _validated(document: dict[str, Any], where: Callable[[str], str]) -> Envelope:
    """The envelope, or every problem with it named by `where` the attribute travelled."""
    document.pop(PARTITION_KEY, None)
    datacontenttype = document.get("datacontenttype")
    if isinstance(datacontenttype, str) and _media_type(datacontenttype) == JSON_DATA:
        document["datacontenttype"] = JSON_DATA
    _from_canonical_strings(document, where)
    try:
        return Envelope.model_validate(document)
    except ValidationError as error:
        detail = validation_detail(error)
        for problem in detail:
            head, _, rest = problem["field"].partition(".")
            problem["field"] = where(head) + (f".{rest}" if rest else "")
        raise DecodeError("invalid_envelope", detail) from None


def _from_canonical_strings(document: dict[str, Any], where: Callable[[str], str]) -> None:
    """Typed attributes given as strings (every binary-mode header is one) in canonical form."""
    version = document.get("schemaversion")
    if isinstance(version, str):
        if not INTEGER.fullmatch(version):
            raise _invalid(where("schemaversion"), f"{version!r} is not an integer", "int_parsing")
        document["schemaversion"] = int(version)
    time = document.get("time")
    if isinstance(time, str) and not RFC3339.fullmatch(time):
        raise _invalid(where("time"), f"{time!r} is not an RFC 3339 timestamp", "datetime_parsing")


def _with_base64_data(document: dict[str, Any]) -> dict[str, Any]:
    """`data_base64` decoded to `data`, where the content type says the bytes are JSON."""
    if "data" in document:
        raise _invalid("data_base64", "an event carries `data` or `data_base64`, not both", "extra")
    encoded = document.pop("data_base64")
    datacontenttype = document.get("datacontenttype", JSON_DATA)
    if not isinstance(datacontenttype, str) or _media_type(datacontenttype) != JSON_DATA:
        raise _invalid("datacontenttype", f"data of {datacontenttype!r} is not JSON", "literal")
    try:
        data = orjson.loads(base64.b64decode(str(encoded), validate=True))
    except (binascii.Error, ValueError) as error:
        raise _invalid("data_base64", f"not base64-encoded JSON: {error}", "base64") from None
    if not isinstance(data, dict):
        raise _invalid("data_base64", "the encoded JSON is not an object", "dict_type")
    return document | {"data": data}


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise DecodeError("not_json", str(error)) from None
    if not isinstance(document, dict):
        raise DecodeError("invalid_envelope", "the value is JSON but not an object")
    return document


def _header(headers: Sequence[tuple[str, bytes]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode(errors="replace")
    return None


def _media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()


def _invalid(field: str, problem: str, kind: str) -> DecodeError:
    return DecodeError("invalid_envelope", [{"field": field, "problem": problem, "kind": kind}])


def decode_event(
    envelope: Envelope, known: Mapping[str, type[Event]], *, strict: bool = False
) -> Event:
    """Turn an envelope's data into the typed event its `type` names, in its current version.

    Data of an older schema version is carried forward by the catalog's upcasters. A tolerant
    reader (the default, for platform topics) ignores fields it does not know yet, so producers
    may add optional fields without breaking it; `strict` (for ingress) rejects them.
    """
    event_class = known.get(envelope.type)
    if event_class is None:
        raise DecodeError("unknown_type", f"{envelope.type!r} is not carried on this topic")
    if envelope.schemaversion > event_class.schema_version:
        raise DecodeError(
            "unsupported_version",
            f"{envelope.type} v{envelope.schemaversion} is newer than"
            f" v{event_class.schema_version}",
        )
    try:
        data = upcast(
            envelope.type, envelope.schemaversion, envelope.data, event_class.schema_version
        )
    except LookupError as error:
        raise DecodeError("unsupported_version", str(error)) from None
    try:
        return event_class.model_validate(data, extra="forbid" if strict else "ignore")
    except ValidationError as error:
        raise DecodeError("invalid_data", validation_detail(error)) from None
