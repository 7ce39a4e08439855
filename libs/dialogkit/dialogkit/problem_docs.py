"""The problems each route can answer, documented in its OpenAPI (RFC 9457 problem details).

One rule (`route_statuses`) names them from what a route is; `document_problems` writes them
into the app's document with the `Problem` schema. The answers themselves are
`dialogkit.problems`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

from dialogkit.problems import PROBLEM_JSON


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


STATUSES = {
    400: "Bad request: a body that cannot be read (not UTF-8), or a cursor this API did not issue",
    401: "No or a wrong bearer token",
    403: "The token lacks a scope the route needs",
    413: "The request body is larger than the API takes",
    404: "The customer (or what the path names) is not known",
    409: "The command does not apply to the current state",
    410: "Gone: the customer was erased or merged (a merge names `merged_into`)",
    422: "Invalid input: `errors` names each wrong field",
    503: "A dependency (database, broker, data keys) is unavailable; retry after `Retry-After`",
    504: "Outcome unknown: the events (`event_ids`) were sent but not confirmed; retry with the"
    " same Idempotency-Key",
}
EVERY_ROUTE = (401, 403, 413, 422, 503)
COMMAND = (404, 409, 410, 504)
ONE_CUSTOMER = (404, 410)
NOT_FOUND = (404,)
CURSOR = (400,)
UNREADABLE_BODY = (400,)


def route_statuses(method: str, operation: dict[str, Any]) -> list[int]:
    """The problems a route can answer, from what it is: every route can meet a bad token, bad
    input and an unavailable dependency; a command can meet an unknown, erased or merged customer
    and a state it does not apply to; a read of one customer an unknown, erased or merged one;
    a read of anything else the path names (a campaign) an unknown one; a route that takes a
    body one it cannot read as text (FastAPI answers 400 before the JSON is parsed)."""
    parameters = {p.get("name") for p in operation.get("parameters", [])}
    in_path = {p.get("name") for p in operation.get("parameters", []) if p.get("in") == "path"}
    statuses = [*EVERY_ROUTE]
    if method != "get":
        statuses += COMMAND
    elif "customer_id" in parameters:
        statuses += ONE_CUSTOMER
    elif in_path:
        statuses += NOT_FOUND
    if "cursor" in parameters:
        statuses += CURSOR
    if "requestBody" in operation:
        statuses += UNREADABLE_BODY
    return sorted(set(statuses))


def document_problems(app: FastAPI, protected: set[str]) -> None:
    """Make the app's OpenAPI name, for each route in `protected`, every problem it can answer,
    each as application/problem+json with the `Problem` schema."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(ProblemDocument.model_json_schema(ref_template=REF)["$defs"])
        components["Problem"] = ProblemDocument.model_json_schema(ref_template=REF) | {
            "title": "Problem"
        }
        components["Problem"].pop("$defs", None)
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        for path, operations in schema.get("paths", {}).items():
            if path not in protected:
                continue
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                _document_pending(method, responses)
                for status in route_statuses(method, operation):
                    responses[str(status)] = {
                        "description": STATUSES[status],
                        "content": {
                            PROBLEM_JSON: {"schema": {"$ref": REF.format(model="Problem")}}
                        },
                    }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


REF = "#/components/schemas/{model}"
PENDING = (
    "Accepted, not applied yet: the events (`event_ids`) are on the broker, the read model has"
    " not shown them within the command's wait (`applied: false`)"
)


def _document_pending(method: str, responses: dict[str, Any]) -> None:
    """A command that answers 200/201 once its events are applied answers 202, with the same
    body, while they are not (`dialogkit.http.answered`)."""
    done = next((responses[s] for s in ("200", "201") if s in responses), None)
    if method != "get" and done is not None and "202" not in responses:
        responses["202"] = {**done, "description": PENDING}
