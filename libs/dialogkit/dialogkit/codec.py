"""Fast JSON encoding of envelopes, and decoding that says exactly what is wrong."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from dialog_schemas import Envelope, Event
from dialog_schemas.catalog import upcast
from dialog_schemas.personal import PLAIN_TAG, SEALED_TAG

MAX_RECORD_BYTES = 1_000_000


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


def decode_envelope(raw: bytes | None) -> Envelope:
    """Parse and validate the envelope of a record value."""
    if raw is None:
        raise DecodeError("empty_record", "the record has no value")
    if len(raw) > MAX_RECORD_BYTES:
        raise DecodeError("oversized", f"{len(raw)} bytes, at most {MAX_RECORD_BYTES} accepted")
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise DecodeError("not_json", str(error)) from None
    if not isinstance(document, dict):
        raise DecodeError("invalid_envelope", "the value is JSON but not an object")
    try:
        return Envelope.model_validate(document)
    except ValidationError as error:
        raise DecodeError("invalid_envelope", validation_detail(error)) from None


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
