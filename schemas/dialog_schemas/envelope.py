"""The CloudEvents 1.0 envelope every event travels in (structured mode, JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from dialog_schemas.common import NO_NUL, Instant

CustomerId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
]
CONTENT_TYPE = "application/cloudevents+json"


class Event(BaseModel):
    """Base of every event payload: a frozen, past-tense fact."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "event_type" not in cls.__dict__:
            cls.event_type = cls.__name__


class Envelope(BaseModel):
    """A CloudEvent: who, what, when, and how it relates to other events."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: UUID
    source: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_NUL)]
    type: Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=NO_NUL)]
    subject: CustomerId
    time: Instant
    datacontenttype: Literal["application/json"] = "application/json"
    schemaversion: Annotated[int, Field(ge=1)]
    correlationid: UUID
    causationid: UUID | None = None
    traceparent: (
        Annotated[
            str, StringConstraints(pattern=r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
        ]
        | None
    ) = None
    data: dict[str, Any]

    @classmethod
    def wrap(
        cls,
        event: Event,
        *,
        id: UUID,
        source: str,
        subject: str,
        time: datetime,
        correlationid: UUID | None = None,
        causationid: UUID | None = None,
        traceparent: str | None = None,
    ) -> Envelope:
        """Put an event into an envelope; a new conversation correlates to itself."""
        return cls(
            id=id,
            source=source,
            type=event.event_type,
            subject=subject,
            time=time,
            schemaversion=event.schema_version,
            correlationid=correlationid or id,
            causationid=causationid,
            traceparent=traceparent,
            data=event.model_dump(mode="json"),
        )


def binding_headers(envelope: Envelope) -> list[tuple[str, str]]:
    """The Kafka binding's headers for a structured-mode record: the event format as
    `content-type` and every attribute but `datacontenttype` as `ce_<name>`, in canonical string
    form, so that binary-mode consumers can route and read attributes without parsing the value."""
    attributes = envelope.model_dump(
        mode="json", exclude={"data", "datacontenttype"}, exclude_none=True
    )
    return [("content-type", CONTENT_TYPE), *((f"ce_{k}", str(v)) for k, v in attributes.items())]
