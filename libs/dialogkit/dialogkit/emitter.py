"""The one place envelopes are built: `source` from service and role, causation from the cause.

Every event a service publishes (from its API, its ingress routes, its jobs and its policies)
is wrapped here, so `source` is always `/<service>/<role>` and an event caused by another one
always carries that event's correlation id, its id as causation id and its trace.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Literal
from uuid import UUID

from dialog_schemas import Envelope, Event
from dialogkit.tracing import current_traceparent

Role = Literal["api", "worker", "ingress"]


class Trace(Enum):
    CURRENT = "current"
    """The trace of the span active when the envelope is made."""


@dataclass(frozen=True)
class Emitter:
    """Wraps a service's events for one role (api, worker, ingress)."""

    service: str
    role: Role

    @property
    def source(self) -> str:
        return f"/{self.service}/{self.role}"

    def new(
        self,
        event: Event,
        *,
        id: UUID,
        subject: str,
        time: datetime,
        conversation: UUID | None = None,
        traceparent: str | Trace | None = Trace.CURRENT,
    ) -> Envelope:
        """An event a command or job records; it starts a conversation of its own, or joins
        `conversation` (an outreach's events share the outreach's); carries the current trace,
        or `traceparent` where a job that makes many envelopes in one span read it once."""
        if traceparent is Trace.CURRENT:
            traceparent = current_traceparent()
        return Envelope.wrap(
            event,
            id=id,
            source=self.source,
            subject=subject,
            time=time,
            correlationid=conversation,
            traceparent=traceparent,
        )

    def caused_by(
        self,
        cause: Envelope,
        event: Event,
        *,
        id: UUID,
        time: datetime,
        subject: str | None = None,
    ) -> Envelope:
        """An event another one caused: same conversation and trace, the cause's id as causation;
        `subject` defaults to the cause's."""
        return Envelope.wrap(
            event,
            id=id,
            source=self.source,
            subject=subject or cause.subject,
            time=time,
            correlationid=cause.correlationid,
            causationid=cause.id,
            traceparent=cause.traceparent,
        )

    def after(
        self, cause_id: UUID, event: Event, *, id: UUID, subject: str, time: datetime
    ) -> Envelope:
        """An event caused by one known only by its id (a job acting on a queued event)."""
        return Envelope.wrap(
            event, id=id, source=self.source, subject=subject, time=time, causationid=cause_id
        )

    def all_new(
        self, events: Sequence[Event], ids: Iterable[UUID], *, subject: str, time: datetime
    ) -> list[Envelope]:
        """Several events of one command, each with its id, in order."""
        return [
            self.new(event, id=event_id, subject=subject, time=time)
            for event, event_id in zip(events, ids, strict=True)
        ]
