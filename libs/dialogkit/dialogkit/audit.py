"""Personal data in HTTP answers: left out for callers who may not see it, and audited.

Routes declare both with `scope(..., personal=[...], audit="...")` (dialogkit.auth). This
middleware acts on the declarations once the route has answered: it removes the declared
personal fields from a JSON answer when the caller lacks `<service>:read-personal`, and records
who asked, about which customer, through which route and with what outcome on
`audit.events.v1`. If the record cannot be written, a successful answer is replaced by a 503:
personal data does not leave without a trace.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import uuid4

import orjson
from fastapi import FastAPI, Request, Response

from dialog_schemas.audit import AuditOutcome, PersonalDataAccessed
from dialog_schemas.catalog import AUDIT_EVENTS
from dialogkit.auth import AUDIT, REDACT, AuditMark
from dialogkit.emitter import Emitter
from dialogkit.problems import problem_response
from dialogkit.publishing import EventPublisher

log = logging.getLogger(__name__)


class AuditTrail(Protocol):
    async def record(self, customer_id: str, access: PersonalDataAccessed) -> None:
        """Keep the record durably; raise when it cannot be kept."""


class PublishedAuditTrail:
    """Audit records as events on `audit.events.v1`, keyed by customer."""

    def __init__(self, publisher: EventPublisher, service: str) -> None:
        self.publisher = publisher
        self.service = service

    async def record(self, customer_id: str, access: PersonalDataAccessed) -> None:
        emitter = Emitter(self.service, "api")
        envelope = emitter.new(access, id=uuid4(), subject=customer_id, time=datetime.now(UTC))
        await self.publisher.publish(AUDIT_EVENTS.name, [envelope])


def outcome_of(status: int) -> AuditOutcome:
    if status < 400:
        return AuditOutcome.ANSWERED
    if status == 403:
        return AuditOutcome.DENIED
    return AuditOutcome.REFUSED if status < 500 else AuditOutcome.FAILED


def without(document: Any, fields: frozenset[str]) -> Any:
    """The JSON document with every member named in `fields` removed, at any depth."""
    if isinstance(document, dict):
        return {k: without(v, fields) for k, v in document.items() if k not in fields}
    if isinstance(document, list):
        return [without(item, fields) for item in document]
    return document


async def _body(response: Response) -> bytes:
    iterator = getattr(response, "body_iterator", None)
    if iterator is None:
        return bytes(response.body)
    chunks = [chunk async for chunk in iterator]
    return b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)


def _redacted(response: Response, body: bytes, fields: Sequence[str]) -> Response:
    document = without(orjson.loads(body), frozenset(fields))
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    return Response(orjson.dumps(document), response.status_code, headers=headers)


def install_personal_data_guard(app: FastAPI, trail: Callable[[Request], AuditTrail]) -> None:
    """Apply the routes' `personal` and `audit` declarations to every answer."""

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Any:
        response = await call_next(request)
        redact: Sequence[str] | None = request.scope.get(REDACT)
        mark: AuditMark | None = request.scope.get(AUDIT)
        if redact is None and mark is None:
            return response
        body = await _body(response)
        json = response.headers.get("content-type", "").startswith("application/json")
        if redact and json and response.status_code < 300:
            response = _redacted(response, body, redact)
        else:
            response = Response(body, response.status_code, headers=dict(response.headers))
        if mark is None:
            return response
        route = request.scope.get("route")
        access = PersonalDataAccessed(
            actor=mark.subject,
            action=mark.action,
            service=request.app.state.service,
            method=request.method,
            route=getattr(route, "path", request.url.path),
            status=response.status_code,
            outcome=outcome_of(response.status_code),
            personal_fields_shown=mark.personal_shown,
        )
        try:
            await trail(request).record(str(request.path_params["customer_id"]), access)
        except Exception:
            log.exception("audit record not written", extra={"route": access.route})
            if response.status_code < 400:
                return problem_response(
                    request, 503, "Audit trail unavailable", "try again shortly"
                )
        return response
