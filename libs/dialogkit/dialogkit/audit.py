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
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import uuid4

import orjson
from fastapi import FastAPI, Request

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


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def _redacted(body: bytes, fields: Sequence[str]) -> bytes:
    return orjson.dumps(without(orjson.loads(body), frozenset(fields)))


class PersonalDataGuard:
    """ASGI middleware: applies the routes' `personal` and `audit` declarations to each answer.

    An answer without either declaration passes through as the route sends it; one with a
    declaration is held until its last byte, then redacted and audited, and sent whole."""

    def __init__(self, app: Any, trail: Callable[[Request], AuditTrail]) -> None:
        self.app = app
        self.trail = trail

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        """The answer's start, once a declaration says the answer is to be held."""
        chunks: list[bytes] = []

        async def guarded(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                if scope.get(REDACT) is None and scope.get(AUDIT) is None:
                    await send(message)
                else:
                    held = message
                return
            if held is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                await self._answer(scope, receive, send, held, b"".join(chunks))

        await self.app(scope, receive, guarded)

    async def _answer(
        self, scope: Scope, receive: Receive, send: Send, start: Message, body: bytes
    ) -> None:
        status: int = start["status"]
        headers: list[tuple[bytes, bytes]] = list(start.get("headers", ()))
        redact: Sequence[str] | None = scope.get(REDACT)
        content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
        if redact and content_type.startswith(b"application/json") and status < 300:
            body = _redacted(body, redact)
            headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
        mark: AuditMark | None = scope.get(AUDIT)
        recorded = mark is None or await self._recorded(Request(scope), mark, status)
        if not recorded and status < 400:  # personal data does not leave without a trace
            refusal = problem_response(
                Request(scope, receive), 503, "Audit trail unavailable", "try again shortly"
            )
            await refusal(scope, receive, send)
            return
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _recorded(self, request: Request, mark: AuditMark, status: int) -> bool:
        """Whether the access is on the audit trail (False, logged, when it cannot be kept)."""
        route = request.scope.get("route")
        access = PersonalDataAccessed(
            actor=mark.subject,
            action=mark.action,
            service=request.app.state.service,
            method=request.method,
            route=getattr(route, "path", request.url.path),
            status=status,
            outcome=outcome_of(status),
            personal_fields_shown=mark.personal_shown,
        )
        try:
            await self.trail(request).record(str(request.path_params["customer_id"]), access)
        except Exception:
            log.exception("audit record not written", extra={"route": access.route})
            return False
        return True


def install_personal_data_guard(app: FastAPI, trail: Callable[[Request], AuditTrail]) -> None:
    """Apply the routes' `personal` and `audit` declarations to every answer
    (`PersonalDataGuard`, a pure ASGI middleware: no task or stream per request)."""
    app.add_middleware(PersonalDataGuard, trail=trail)
