"""Requests too large or too deep for the APIs: a 413 or a 422 problem, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.stack import definitions
from tests.fakes import fake_app
from tests.support import AUTH

HEADERS = {**AUTH, "content-type": "application/json"}


def client(service: str) -> Any:
    from fastapi.testclient import TestClient

    [definition] = [d for d in definitions() if d.name == service]
    return TestClient(fake_app(definition)[0], raise_server_exceptions=False)


@pytest.mark.parametrize(
    ("service", "path", "params"),
    [
        ("interactions", "/v1/customers/c-1/timeline", {"limit": 501}),
        ("interactions", "/v1/customers/c-1/timeline", {"kind": ["TouchpointRecorded"] * 51}),
        ("interactions", "/v1/customers/c-1/timeline", {"channel": ["phone"] * 21}),
        ("interactions", "/v1/customers/c-1/timeline", {"cursor": "x" * 201}),
        ("interactions", "/v1/findings", {"limit": 0}),
        ("interactions", "/v1/findings", {"cursor": "x" * 201}),
        ("campaigns", "/v1/campaigns", {"limit": 10_000}),
        ("contacts", "/v1/contact-points", {"phone": "1" * 65}),
        ("contacts", "/v1/contact-points", {"email": "a" * 321}),
        ("contacts", "/v1/customers/c-1/audit", {"limit": 501}),
        ("contacts", "/v1/customers/" + "c" * 65, {}),
    ],
)
def test_too_large_a_page_or_parameter_is_a_422_naming_it(
    service: str, path: str, params: dict[str, Any]
) -> None:
    with client(service) as api:
        response = api.get(path, params=params, headers=AUTH)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"]


@pytest.mark.parametrize("service", ["consent", "contacts", "interactions", "campaigns"])
def test_every_api_refuses_a_body_over_its_limit_with_413(service: str) -> None:
    body = b'{"summary": "' + b"x" * (1024 * 1024) + b'"}'
    with client(service) as api:
        response = api.post("/v1/customers/c-1/anything", content=body, headers=HEADERS)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("service", ["consent", "contacts", "interactions", "campaigns"])
def test_every_api_refuses_deeply_nested_json_with_422(service: str) -> None:
    body = b'{"a": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    with client(service) as api:
        response = api.post("/v1/customers/c-1/anything", content=body, headers=HEADERS)
    assert response.status_code == 422
    assert "nests deeper than 32" in response.json()["detail"]


def test_a_long_list_in_a_command_is_a_422_not_a_500() -> None:
    registration = {
        "kind": "consumer",
        "name": "Erika Mustermann",
        "phone_numbers": ["+49301234567"] * 10_000,
    }
    with client("contacts") as api:
        response = api.post("/v1/customers/c-1", json=registration, headers=AUTH)
    assert response.status_code in (413, 422)
    assert response.headers["content-type"] == "application/problem+json"


def test_a_long_list_in_a_campaign_audience_is_a_422_naming_the_field() -> None:
    campaign = {
        "campaign_id": "spring-1",
        "name": "Spring",
        "channel": "email",
        "purpose": "marketing",
        "audience": {"rule": {"interests_any": [f"i{n}" for n in range(101)]}},
    }
    with client("campaigns") as api:
        created = api.post("/v1/campaigns", json=campaign, headers=AUTH)
        changed = api.patch(
            "/v1/campaigns/spring-1", json={"audience": campaign["audience"]}, headers=AUTH
        )
    for response in (created, changed):
        assert response.status_code == 422, response.text
        assert "audience.rule.interests_any: at most 100 items" in response.text


def test_a_campaign_id_longer_than_an_external_id_is_a_422() -> None:
    with client("campaigns") as api:
        response = api.get("/v1/campaigns/" + "x" * 300, headers=AUTH)
    assert response.status_code == 422
