"""Errors as RFC 9457 problem details (application/problem+json)."""

from __future__ import annotations

import socket
from typing import Any

import asyncpg
from aiokafka.errors import KafkaError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from dialog_schemas.personal import PLAIN_TAG, SEALED_TAG
from dialogkit.db import DatabaseUnavailable
from dialogkit.keys import KeyDestroyed, KeyServiceUnavailable
from dialogkit.publishing import BrokerUnavailable, PublishOutcomeUnknown
from dialogkit.rules import Conflict, NotFound, RuleViolation

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An error a handler raises to answer with a problem document."""

    def __init__(self, status: int, title: str, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.extensions = extensions


def problem_response(
    request: Request, status: int, title: str, detail: str, **extensions: Any
) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extensions,
    }
    response = JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)
    if status in (503, 504):  # an outage: tell the client when to try again
        response.headers["Retry-After"] = _retry_after(request)
    return response


def _field_errors(error: RequestValidationError | ValidationError) -> list[dict[str, str]]:
    """Each wrong field and what is wrong; a personal field's sealed alternative is not named."""
    errors = (
        error.errors(include_url=False) if isinstance(error, ValidationError) else error.errors()
    )
    return [
        {"field": ".".join(str(p) for p in e["loc"] if p != PLAIN_TAG), "problem": e["msg"]}
        for e in errors
        if SEALED_TAG not in e["loc"]
    ]


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of the app a problem document."""

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = _field_errors(error)
        fields = ", ".join(e["field"] for e in errors)
        return problem_response(
            request, 422, "Invalid request", f"invalid fields: {fields}", errors=errors
        )

    @app.exception_handler(ValidationError)
    async def invalid_value(request: Request, error: ValidationError) -> JSONResponse:
        """A value the command's own types let through but an event's contract refuses."""
        errors = [e | {"field": f"body.{e['field']}"} for e in _field_errors(error)]
        fields = ", ".join(e["field"] for e in errors)
        return problem_response(
            request, 422, "Invalid request", f"invalid fields: {fields}", errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        response = problem_response(
            request, error.status_code, str(error.detail), str(error.detail)
        )
        for name, value in (error.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(RuleViolation)
    async def rule_violation(request: Request, error: RuleViolation) -> JSONResponse:
        return problem_response(
            request,
            422,
            "Rule violated",
            str(error),
            field=error.field,
            errors=[{"field": error.field, "problem": error.problem}],
        )

    @app.exception_handler(NotFound)
    async def not_found(request: Request, error: NotFound) -> JSONResponse:
        return problem_response(request, 404, "Not found", str(error))

    @app.exception_handler(Conflict)
    async def conflict(request: Request, error: Conflict) -> JSONResponse:
        return problem_response(request, 409, "Conflict", str(error))

    @app.exception_handler(KeyDestroyed)
    async def erased(request: Request, error: KeyDestroyed) -> JSONResponse:
        return problem_response(request, 410, "Erased", str(error))

    @app.exception_handler(KeyServiceUnavailable)
    async def no_keys(request: Request, error: KeyServiceUnavailable) -> JSONResponse:
        return problem_response(request, 503, "Data keys unavailable", str(error))

    @app.exception_handler(Problem)
    async def domain_problem(request: Request, error: Problem) -> JSONResponse:
        return problem_response(
            request, error.status, error.title, error.detail, **error.extensions
        )


class FieldProblem(BaseModel):
    field: str
    """Where: `body.<field>`, `query.<name>`, `path.<name>`, dotted into nested values."""
    problem: str


class ProblemDocument(BaseModel):
    """RFC 9457 problem details; some problems add members (`errors`, `merged_into`, ...)."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldProblem] | None = None
    """For 422: each wrong field and what is wrong with it."""


# Errors that say the database cannot be reached or is going away, not that a request is wrong.
DATABASE_OUTAGES: tuple[type[Exception], ...] = (
    DatabaseUnavailable,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.TooManyConnectionsError,
    # a pooled connection that has just received the server's shutdown notice (and not yet its
    # closed socket) refuses the next statement with "another operation is in progress"
    asyncpg.InternalClientError,
)
BROKER_OUTAGES: tuple[type[Exception], ...] = (BrokerUnavailable, KafkaError)
# A connection refused, reset or timed out, or a name not resolved, that no client library
# translated (other OSErrors, such as a missing file, remain programming errors).
NETWORK_OUTAGES: tuple[type[Exception], ...] = (ConnectionError, TimeoutError, socket.gaierror)


def _retry_after(request: Request) -> str:
    return str(getattr(request.app.state.settings, "retry_after_s", 5))


def unavailable(request: Request, dependency: str | None, error: Exception) -> JSONResponse:
    """503 naming the dependency that failed, with Retry-After: nothing the client did wrong."""
    return problem_response(
        request,
        503,
        "Service unavailable",
        f"{f'the {dependency}' if dependency else 'a dependency'} cannot be reached"
        f" ({type(error).__name__}); retry after {_retry_after(request)} s, with the same"
        " Idempotency-Key for a command",
        dependency=dependency,
    )


def install_outage_handlers(app: FastAPI) -> None:
    """Answer a dependency outage with 503 and an unconfirmed publish with 504, never 500."""

    @app.exception_handler(PublishOutcomeUnknown)
    async def outcome_unknown(request: Request, error: PublishOutcomeUnknown) -> JSONResponse:
        return problem_response(
            request,
            504,
            "Outcome unknown",
            f"the broker did not confirm the command's events ({error.reason}); they may or may"
            " not be recorded: retry with the same Idempotency-Key, which records them at most"
            " once",
            event_ids=[str(i) for i in error.event_ids],
        )

    async def database(request: Request, error: Exception) -> JSONResponse:
        return unavailable(request, "database", error)

    async def broker(request: Request, error: Exception) -> JSONResponse:
        return unavailable(request, "broker", error)

    async def network(request: Request, error: Exception) -> JSONResponse:
        return unavailable(request, None, error)

    for kinds, handler in (
        (DATABASE_OUTAGES, database),
        (BROKER_OUTAGES, broker),
        (NETWORK_OUTAGES, network),
    ):
        for kind in kinds:
            app.add_exception_handler(kind, handler)
