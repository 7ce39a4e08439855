"""Personal fields only for `read-personal`, every personal-data access audited, body limits."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from dialog_schemas.catalog import AUDIT_EVENTS
from dialogkit.auth import scope
from dialogkit.config import ServiceSettings
from dialogkit.http import ApiRuntime, Probe, create_api
from dialogkit.limits import nesting_depth
from dialogkit.pii import InMemoryKeyStore
from dialogkit.problems import Problem
from dialogkit.publishing import FakePublisher
from tests.fakes import FakePool
from tests.support import KEY_FILE, token

router = APIRouter(prefix="/v1")
PROFILE = {
    "customer_id": "c-1",
    "kind": "consumer",
    "name": "Erika Mustermann",
    "phone_numbers": ["+4930123456"],
    "products": [{"type": "ContractCancelled", "reason": "moving abroad", "product": "dsl"}],
}


@router.get(
    "/customers/{customer_id}",
    dependencies=[
        scope("contacts:read", personal=("name", "phone_numbers", "reason"), audit="profile")
    ],
)
async def profile(customer_id: str) -> dict[str, Any]:
    if customer_id != "c-1":
        raise Problem(404, "Not found", "no such customer")
    return PROFILE


@router.post("/customers/{customer_id}/notes", dependencies=[scope("contacts:write")])
async def note(customer_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"stored": len(str(body))}


class FailingPublisher(FakePublisher):
    async def publish(self, topic: str, envelopes: Any) -> None:
        raise ConnectionError("broker away")


class Fake:
    def __init__(self, publisher: FakePublisher) -> None:
        self.publisher = publisher

    @asynccontextmanager
    async def __call__(
        self, service: str, settings: ServiceSettings
    ) -> AsyncIterator[tuple[ApiRuntime, dict[str, Probe]]]:
        runtime = ApiRuntime(service, settings, FakePool(), self.publisher, InMemoryKeyStore())  # type: ignore[arg-type]
        yield runtime, {}


def client_with(publisher: FakePublisher, **settings: Any) -> TestClient:
    configured = ServiceSettings(auth_local_key_file=KEY_FILE, **settings)
    return TestClient(create_api("contacts", configured, [router], runtime_factory=Fake(publisher)))


@pytest.fixture
def published() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def client(published: FakePublisher) -> Iterator[TestClient]:
    with client_with(published, http_max_body_bytes=4096, http_max_json_depth=8) as test_client:
        yield test_client


def test_personal_fields_are_shown_with_read_personal(client: TestClient) -> None:
    headers = token("contacts:read", "contacts:read-personal")
    assert client.get("/v1/customers/c-1", headers=headers).json() == PROFILE


def test_without_read_personal_the_answer_carries_no_personal_fields(client: TestClient) -> None:
    answer = client.get("/v1/customers/c-1", headers=token("contacts:read"))
    assert answer.status_code == 200
    assert answer.json() == {
        "customer_id": "c-1",
        "kind": "consumer",
        "products": [{"type": "ContractCancelled", "product": "dsl"}],
    }
    assert int(answer.headers["content-length"]) == len(answer.content)


def test_a_read_of_personal_data_is_audited_without_the_data(
    client: TestClient, published: FakePublisher
) -> None:
    client.get("/v1/customers/c-1", headers=token("contacts:read", subject="agent-7"))
    [record] = published.sent[AUDIT_EVENTS.name]
    assert record.subject == "c-1"
    assert record.type == "PersonalDataAccessed"
    assert record.data == {
        "actor": "agent-7",
        "action": "profile",
        "service": "contacts",
        "method": "GET",
        "route": "/v1/customers/{customer_id}",
        "status": 200,
        "outcome": "answered",
        "personal_fields_shown": False,
    }
    assert "Erika" not in record.model_dump_json()


def test_refused_and_denied_reads_are_audited_too(
    client: TestClient, published: FakePublisher
) -> None:
    client.get("/v1/customers/c-2", headers=token("contacts:read"))
    client.get("/v1/customers/c-1", headers=token("contacts:write", subject="curious"))
    client.get("/v1/customers/c-1")  # no caller to name: refused before anything is read
    records = [e.data for e in published.sent[AUDIT_EVENTS.name]]
    assert [(r["status"], r["outcome"], r["actor"]) for r in records] == [
        (404, "refused", "test-suite"),
        (403, "denied", "curious"),
    ]


def test_personal_data_is_not_answered_when_the_audit_trail_cannot_record() -> None:
    with client_with(FailingPublisher()) as client:
        headers = token("contacts:read", "contacts:read-personal")
        answer = client.get("/v1/customers/c-1", headers=headers)
        assert answer.status_code == 503
        assert answer.headers["content-type"] == "application/problem+json"
        assert "Erika" not in answer.text


def test_writes_without_an_audit_declaration_are_not_audited(
    client: TestClient, published: FakePublisher
) -> None:
    response = client.post(
        "/v1/customers/c-1/notes", json={"a": 1}, headers=token("contacts:write")
    )
    assert response.status_code == 200
    assert AUDIT_EVENTS.name not in published.sent


def test_a_body_declared_too_large_is_413(client: TestClient) -> None:
    response = client.post(
        "/v1/customers/c-1/notes",
        content=b'{"a": "' + b"x" * 5000 + b'"}',
        headers={**token("contacts:write"), "content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert "4096 bytes" in response.json()["detail"]


def test_a_streamed_body_growing_too_large_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"a": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    response = client.post(
        "/v1/customers/c-1/notes",
        content=chunks(),
        headers={**token("contacts:write"), "content-type": "application/json"},
    )
    assert response.status_code == 413


def test_a_body_nested_too_deep_is_422(client: TestClient) -> None:
    deep = b'{"a": ' + b"[" * 9 + b"]" * 9 + b"}"
    response = client.post(
        "/v1/customers/c-1/notes",
        content=deep,
        headers={**token("contacts:write"), "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert "deeper than 8" in response.json()["detail"]
    shallow = b'{"a": ' + b"[" * 6 + b"]" * 6 + b"}"
    ok = client.post(
        "/v1/customers/c-1/notes",
        content=shallow,
        headers={**token("contacts:write"), "content-type": "application/json"},
    )
    assert ok.status_code == 200


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        (b"1", 0),
        (b"[]", 1),
        (b'{"a": [1, {"b": 2}]}', 3),
        (b'{"a": "[[[[{{{{"}', 1),
        (b'["\\"[[[", [[]]]', 3),
    ],
)
def test_nesting_depth_ignores_brackets_in_strings(text: bytes, depth: int) -> None:
    assert nesting_depth(text) == depth
