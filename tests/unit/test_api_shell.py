import asyncio
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dialog_schemas import Envelope
from dialog_schemas.catalog import INTERACTIONS_EVENTS
from dialogkit.config import ServiceSettings
from dialogkit.http import ApiRuntime, Probe
from dialogkit.pii import InMemoryKeyStore, KeyServiceUnavailable
from dialogkit.publishing import BrokerUnavailable, FakePublisher, PublishOutcomeUnknown
from dialogkit.service import build_api
from interactions.bootstrap import DEFINITION
from interactions.config import Settings
from interactions.views import decode_cursor, encode_cursor
from tests.support import AUTH

TOUCHPOINT = {
    "customer_id": "c-1",
    "touchpoint_id": "call-1",
    "channel": "phone",
    "direction": "inbound",
    "occurred_at": "2026-11-20T10:00:00Z",
    "summary": "asked about the tariff",
}


class NoMerges:
    """The database as far as these routes ask it: no customer was merged."""

    async def fetchval(self, query: str, *args: Any) -> None:
        assert "customer_merges" in query
        return None


class FakeRuntime:
    def __init__(self) -> None:
        self.publisher = FakePublisher()
        self.health: dict[str, bool | None] = {"database": True, "broker": True}
        """None: the check never answers."""

    @asynccontextmanager
    async def __call__(
        self, service: str, settings: ServiceSettings
    ) -> AsyncIterator[tuple[ApiRuntime, dict[str, Probe]]]:
        async def probe_of(name: str) -> bool:
            answer = self.health[name]
            if answer is None:
                await asyncio.Event().wait()
            return bool(answer)

        probes: dict[str, Probe] = {
            name: (lambda name=name: probe_of(name)) for name in self.health
        }
        pool: Any = NoMerges()
        yield ApiRuntime(service, settings, pool, self.publisher, InMemoryKeyStore()), probes


@pytest.fixture
def fake() -> FakeRuntime:
    return FakeRuntime()


@pytest.fixture
def client(fake: FakeRuntime) -> Iterator[TestClient]:
    from dialogkit.http import create_api

    app = create_api("interactions", Settings(), DEFINITION.routers, runtime_factory=fake)
    with TestClient(app) as test_client:
        yield test_client


def test_health_needs_no_token(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_ready_when_broker_and_database_answer(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": True, "broker": True}


def test_not_ready_names_the_dependency_that_fails(client: TestClient, fake: FakeRuntime) -> None:
    fake.health["broker"] = False
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"]
    assert response.json() == {
        "type": "about:blank",
        "title": "Not ready",
        "status": 503,
        "detail": "broker: unreachable",
        "instance": "/readyz",
        "checks": {"database": True, "broker": False},
        "failing": {"broker": "unreachable"},
    }


def test_readiness_answers_503_when_a_check_does_not_answer_in_time(fake: FakeRuntime) -> None:
    from dialogkit.http import create_api

    fake.health["database"] = None
    settings = Settings(readiness_timeout_s=0.3)
    app = create_api("interactions", settings, DEFINITION.routers, runtime_factory=fake)
    with TestClient(app) as client:
        began = time.monotonic()
        response = client.get("/readyz")
        took = time.monotonic() - began
    assert response.status_code == 503
    assert response.json()["failing"] == {"database": "no answer within 0.3 s"}
    assert response.json()["checks"] == {"database": False, "broker": True}
    assert took < 2


def test_commands_need_the_token(client: TestClient, fake: FakeRuntime) -> None:
    response = client.post("/v1/touchpoints", json=TOUCHPOINT)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    wrong = client.post("/v1/touchpoints", json=TOUCHPOINT, headers={"Authorization": "Bearer x"})
    assert wrong.status_code == 401
    assert fake.publisher.sent == {}


def test_a_touchpoint_becomes_an_event_keyed_by_customer(
    client: TestClient, fake: FakeRuntime
) -> None:
    response = client.post("/v1/touchpoints", json=TOUCHPOINT, headers=AUTH)
    assert response.status_code == 202
    [envelope] = fake.publisher.sent[INTERACTIONS_EVENTS.name]
    assert str(envelope.id) == response.json()["event_id"]
    assert (envelope.subject, envelope.type) == ("c-1", "TouchpointRecorded")
    assert envelope.data["touchpoint_id"] == "call-1"
    assert envelope.source == "/interactions/api"


def test_a_retried_post_publishes_the_same_event_id(client: TestClient, fake: FakeRuntime) -> None:
    first = client.post("/v1/touchpoints", json=TOUCHPOINT, headers=AUTH).json()
    second = client.post("/v1/touchpoints", json=TOUCHPOINT, headers=AUTH).json()
    assert first["event_id"] == second["event_id"]


def test_invalid_input_is_a_problem_naming_each_field(
    client: TestClient, fake: FakeRuntime
) -> None:
    body: dict[str, Any] = TOUCHPOINT | {"channel": "pigeon", "occurred_at": "yesterday"}
    del body["direction"]
    response = client.post("/v1/touchpoints", json=body, headers=AUTH)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"body.channel", "body.occurred_at", "body.direction"}
    assert fake.publisher.sent == {}


def test_a_survey_answer_naming_no_outreach_is_refused(
    client: TestClient, fake: FakeRuntime
) -> None:
    body = TOUCHPOINT | {"campaign_id": "spring", "survey": {"score": 7, "free_text": "fine"}}
    response = client.post("/v1/touchpoints", json=body, headers=AUTH)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == "survey"
    assert "outreach_id" in response.json()["detail"]
    assert fake.publisher.sent == {}


def test_a_touchpoint_in_the_future_is_refused(client: TestClient, fake: FakeRuntime) -> None:
    body = TOUCHPOINT | {"occurred_at": "2199-01-01T00:00:00Z"}
    response = client.post("/v1/touchpoints", json=body, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["field"] == "occurred_at"
    assert fake.publisher.sent == {}


def test_a_malformed_cursor_is_a_problem(client: TestClient) -> None:
    response = client.get("/v1/customers/c-1/timeline?cursor=bm9wZQ", headers=AUTH)
    assert response.status_code == 400
    assert response.json()["field"] == "cursor"


def test_cursors_round_trip() -> None:
    from datetime import UTC, datetime
    from uuid import uuid4

    position = (datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC), uuid4())
    assert decode_cursor(encode_cursor(*position)) == position


def test_every_service_builds_an_api_with_openapi_docs() -> None:
    from campaigns.bootstrap import DEFINITION as campaigns
    from consent.bootstrap import DEFINITION as consent
    from contacts.bootstrap import DEFINITION as contacts

    for definition in (consent, contacts, DEFINITION, campaigns):
        app = build_api(definition, definition.settings())
        paths = app.openapi()["paths"]
        assert {"/healthz", "/readyz", "/metrics"} <= set(paths)


def test_a_sale_call_publishes_the_touchpoint_and_the_confirmation_due(
    client: TestClient, fake: FakeRuntime
) -> None:
    body = TOUCHPOINT | {"details": {"kind": "call", "disposition": "sale", "duration_s": 300}}
    response = client.post("/v1/touchpoints", json=body, headers=AUTH)
    touchpoint, due = fake.publisher.sent[INTERACTIONS_EVENTS.name]
    assert (touchpoint.type, due.type) == ("TouchpointRecorded", "ContractConfirmationDue")
    assert response.json()["event_ids"] == [str(touchpoint.id), str(due.id)]


class UnconfirmedPublisher(FakePublisher):
    """The broker took the events but did not confirm them."""

    async def publish(self, topic: str, envelopes: Sequence[Envelope]) -> None:
        raise PublishOutcomeUnknown(topic, [e.id for e in envelopes], "no confirmation in 1 s")


class UnreachablePublisher(FakePublisher):
    async def publish(self, topic: str, envelopes: Sequence[Envelope]) -> None:
        raise BrokerUnavailable("connection refused")


def test_an_unconfirmed_publish_answers_504_outcome_unknown_with_the_event_ids(
    client: TestClient, fake: FakeRuntime
) -> None:
    fake.publisher = UnconfirmedPublisher()
    client.app.state.runtime.publisher = fake.publisher  # type: ignore[attr-defined]
    response = client.post("/v1/touchpoints", json=TOUCHPOINT, headers=AUTH)
    assert response.status_code == 504
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    problem = response.json()
    assert problem["title"] == "Outcome unknown"
    assert "retry with the same Idempotency-Key" in problem["detail"]
    again = client.post("/v1/touchpoints", json=TOUCHPOINT, headers=AUTH).json()
    assert problem["event_ids"] == again["event_ids"]  # the retry names the same events


def test_an_unreachable_broker_answers_503_with_retry_after(
    client: TestClient, fake: FakeRuntime
) -> None:
    client.app.state.runtime.publisher = UnreachablePublisher()  # type: ignore[attr-defined]
    response = client.post("/v1/touchpoints", json=TOUCHPOINT, headers=AUTH)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    assert response.json()["dependency"] == "broker"


class UnreachableKeys(InMemoryKeyStore):
    async def key_for(self, customer_id: str, *, create: bool = False) -> None:
        raise KeyServiceUnavailable("contacts did not answer")


def test_an_unreachable_key_service_answers_503_with_retry_after(
    client: TestClient, fake: FakeRuntime
) -> None:
    client.app.state.runtime.keys = UnreachableKeys()  # type: ignore[attr-defined]
    response = client.post("/v1/touchpoints", json=TOUCHPOINT, headers=AUTH)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    assert fake.publisher.sent == {}


class ResetPool:
    """A pool whose every call meets a connection reset that no library translated."""

    def __getattr__(self, name: str) -> Any:
        async def reset(*args: Any, **kwargs: Any) -> Any:
            raise ConnectionResetError(104, "Connection reset by peer")

        return reset


def test_a_connection_reset_answers_503_and_a_missing_file_stays_a_programming_error(
    client: TestClient,
) -> None:
    client.app.state.runtime.pool = ResetPool()  # type: ignore[attr-defined]
    response = client.get("/v1/customers/c-1/timeline", headers=AUTH)
    assert response.status_code == 503
    assert (response.json()["dependency"], response.headers["retry-after"]) == (None, "5")
    from dialogkit.problems import NETWORK_OUTAGES

    assert not issubclass(FileNotFoundError, NETWORK_OUTAGES)
