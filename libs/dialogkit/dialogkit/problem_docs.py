"""What the OpenAPI documents say about problems (RFC 9457 problem details): each route names
every status it can answer, from what the route is (`route_statuses`), each as
application/problem+json with the `Problem` schema; `/readyz` its 503. The answers themselves
are `dialogkit.problems`."""

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
"""Every route takes a token (401, 403) and input (422), has a body limit (413, even a GET's
body) and dependencies (503)."""
COMMAND = (409, 504)
"""A command can meet a state it does not apply to or a request with its key still running
(409), and a publish the broker did not confirm (504)."""
NAMED = (404,)
CUSTOMER = (404, 410)
CURSOR = (400,)
UNREADABLE_BODY = (400,)
PUBLISHES_NOTHING: dict[str, Any] = {"x-publishes-nothing": True}
"""`openapi_extra` of a route that takes a body but publishes nothing (a batch of questions, a
check): it answers the problems of a read, never 409, 504 or 202."""
NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {
        "description": "A dependency does not answer: `failing` names each and why, `checks`"
        " the result of every check",
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
}
"""The `responses` of `/readyz`."""


def is_command(method: str, operation: dict[str, Any]) -> bool:
    """A route that publishes events: any but GET, unless it declares `PUBLISHES_NOTHING`."""
    return method != "get" and not operation.get("x-publishes-nothing", False)


def route_statuses(
    method: str, operation: dict[str, Any], components: dict[str, Any] | None = None
) -> list[int]:
    """The problems a route can answer, from what it is: every route those of `EVERY_ROUTE`; a
    command those of `COMMAND`; a route naming a customer (a `customer_id` in the path, or in a
    command's body) an unknown (404), erased or merged one (410); one naming anything else in the
    path (a campaign, a consent) an unknown one; a route that takes a body one it cannot read as
    text (FastAPI answers 400 before the JSON is parsed), a paged one a foreign cursor (400)."""
    parameters = {p.get("name") for p in operation.get("parameters", [])}
    in_path = {p.get("name") for p in operation.get("parameters", []) if p.get("in") == "path"}
    command = is_command(method, operation)
    statuses = [*EVERY_ROUTE, *(COMMAND if command else ())]
    if "customer_id" in parameters:
        statuses += CUSTOMER
    elif command and "customer_id" in _body_fields(operation, components or {}):
        statuses += (410,)  # a merged duplicate's id; an unknown customer is no error here
    if in_path:
        statuses += NAMED
    if "cursor" in parameters:
        statuses += CURSOR
    if "requestBody" in operation:
        statuses += UNREADABLE_BODY
    return sorted(set(statuses))


def _body_fields(operation: dict[str, Any], components: dict[str, Any]) -> set[str]:
    content: dict[str, Any] = operation.get("requestBody", {}).get("content", {})
    media: dict[str, Any] = next(iter(content.values()), {})
    schema: dict[str, Any] = media.get("schema", {})
    name = str(schema.get("$ref", "")).rsplit("/", 1)[-1]
    return set(components.get(name, schema).get("properties", {}))


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
                if is_command(method, operation):
                    _document_pending(responses)
                for status in route_statuses(method, operation, components):
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


def _document_pending(responses: dict[str, Any]) -> None:
    """A command that answers 200/201 once its events are applied answers 202, with the same
    body, while they are not (`dialogkit.http.answered`)."""
    done = next((responses[s] for s in ("200", "201") if s in responses), None)
    if done is not None and "202" not in responses:
        responses["202"] = {**done, "description": PENDING}
