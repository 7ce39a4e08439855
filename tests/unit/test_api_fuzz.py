"""Every operation of every service's OpenAPI document, fuzzed in-process with schemathesis.

The real app factories run over the fakes the unit tests use (`tests.fakes`), called as ASGI
apps (no network), with a token of every scope. For each operation schemathesis generates
requests the document allows and requests it refuses (wrong types, bodies that are not JSON,
missing fields), and checks that no answer is a server error, that each status is
documented and that each body conforms to the documented schema. The contacts export asks the
other services: here it asks their fake apps in-process. Generation is derandomized and small,
so the run is the same every time and all four services take a few seconds together.

Inputs the fuzzing found are kept below as named regressions, each checked the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from campaigns.bootstrap import DEFINITION as CAMPAIGNS
from consent.bootstrap import DEFINITION as CONSENT
from contacts import export
from contacts.bootstrap import DEFINITION as CONTACTS
from contacts.config import Settings as ContactsSettings
from dialogkit.service import ServiceDefinition
from interactions.bootstrap import DEFINITION as INTERACTIONS
from tests.fakes import fake_app
from tests.support import AUTH

DEFINITIONS: dict[str, ServiceDefinition[Any]] = {
    d.name: d for d in (CONSENT, CONTACTS, INTERACTIONS, CAMPAIGNS)
}
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
EXAMPLES = 10
"""Generated requests per operation and mode: enough to reach each route's answers, bounded."""
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
"""Requests the document allows, then (where an operation takes input) requests it refuses."""


WAITS: dict[str, dict[str, float]] = {
    "interactions": {"command_wait_s": 0, "sale_wait_s": 0},
}
"""No waiting for read models the fakes never fill."""


def app_of(service: str) -> FastAPI:
    app, _ = fake_app(DEFINITIONS[service], **WAITS.get(service, {"command_wait_s": 0}))
    return app


@pytest.fixture(scope="module")
def schemas() -> dict[str, Any]:
    """Each service's document, read from its app; loading it runs the app's lifespan."""
    return {s: schemathesis.openapi.from_asgi("/openapi.json", app_of(s)) for s in DEFINITIONS}


@pytest.fixture(autouse=True)
def peers_in_process(schemas: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The export's peers are the other services' fake apps, called in-process."""

    def peer(name: str, url: Any, settings: ContactsSettings) -> export.Peer:
        transport = httpx.ASGITransport(app=schemas[name].app)
        client = httpx.AsyncClient(transport=transport, base_url="http://peer", headers=AUTH)
        return export.Peer(name, client)

    monkeypatch.setattr(export, "peer", peer)


def fuzz(operation: Any, mode: GenerationMode) -> Callable[[], None]:
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(operation.as_strategy(mode))
    def run(case: Any) -> None:
        case.call_and_validate(headers=AUTH, checks=CHECKS)

    return run


@pytest.mark.parametrize("service", sorted(DEFINITIONS))
def test_every_operation_answers_as_documented(service: str, schemas: dict[str, Any]) -> None:
    failures = []
    for result in schemas[service].get_all_operations():
        operation = result.ok()
        takes_input = bool(operation.body) or any(True for _ in operation.iter_parameters())
        for mode in MODES if takes_input else MODES[:1]:
            try:
                fuzz(operation, mode)()
            except (Exception, BaseExceptionGroup) as error:  # the report names every one
                failures.append(f"{operation.label} ({mode}): {error}")
    assert not failures, "\n\n".join(failures)


REGRESSIONS = {
    # a command that waits answers 202 (`applied: false`) when the read model is behind
    "command-not-yet-applied-202": (
        "campaigns",
        "POST",
        "/v1/campaigns",
        {
            "body": {
                "campaign_id": "next_offset",
                "channel": "sms",
                "name": "next_offset",
                "purpose": "service",
            }
        },
    ),
    # a read of a campaign the service does not know answers 404
    "unknown-campaign-404": (
        "campaigns",
        "GET",
        "/v1/campaigns/{campaign_id}/statistics",
        {"path_parameters": {"campaign_id": "next_offset"}},
    ),
}


UNREADABLE = {
    # a command body that is not UTF-8 is refused before it is parsed: 400, documented
    "body-not-utf8-400": ("contacts", "POST", "/v1/customers/{customer_id}", b"-\xff\xfeo"),
}


@pytest.mark.parametrize("name", sorted(UNREADABLE))
def test_unreadable_bodies_fuzzing_found_answer_as_documented(
    name: str, schemas: dict[str, Any]
) -> None:
    service, method, path, body = UNREADABLE[name]
    case = schemas[service][path][method].Case(path_parameters={"customer_id": "c-9"})
    response = case.call(headers=AUTH | {"Content-Type": "application/json"}, data=body)
    assert response.status_code == 400
    case.validate_response(response, checks=CHECKS)


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_inputs_fuzzing_found_answer_as_documented(name: str, schemas: dict[str, Any]) -> None:
    service, method, path, parts = REGRESSIONS[name]
    operation = schemas[service][path][method]
    case = operation.Case(**parts)
    case.call_and_validate(headers=AUTH, checks=CHECKS)
