"""Errors as RFC 9457 problem details (application/problem+json)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dialogkit.keys import KeyDestroyed, KeyServiceUnavailable
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


RETRY_AFTER_S = 5
"""What a client is told to wait before asking again after an outage (Retry-After)."""


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
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _field_errors(error: RequestValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in error.errors()
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
        response = problem_response(request, 503, "Data keys unavailable", str(error))
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response

    @app.exception_handler(Problem)
    async def domain_problem(request: Request, error: Problem) -> JSONResponse:
        return problem_response(
            request, error.status, error.title, error.detail, **error.extensions
        )
