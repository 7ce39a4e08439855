"""Campaign commands through the HTTP API, applied by the campaign projection on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest

from campaigns.bootstrap import DEFINITION
from campaigns.campaign_view import CampaignProjection
from dialog_schemas import Envelope
from dialogkit.codec import encode
from dialogkit.config import ServiceSettings
from dialogkit.deadletters import DeadLetters
from dialogkit.http import ApiRuntime, Probe, create_api
from dialogkit.projection import ProjectionRunner
from dialogkit.publishing import FakePublisher, Position
from dialogkit.records import SourceRecord
from tests.support import AUTH

SPRING = {
    "campaign_id": "spring",
    "name": "Spring offer",
    "channel": "phone",
    "purpose": "cross_sell",
    "product_category": "mobile",
    "audience": {"rule": {"holds_any": ["home-internet"], "holds_none": ["mobile"]}},
}


class ApplyingPublisher(FakePublisher):
    """Publishes by handing the events straight to the campaign projection, as the worker would."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__()
        self.runner = ProjectionRunner(
            pool, CampaignProjection(), DeadLetters(FakePublisher(), "dead", "test")
        )
        self.offset = 0

    async def publish(self, topic: str, envelopes: Sequence[Envelope]) -> list[Position]:
        positions = await super().publish(topic, envelopes)
        records = []
        for envelope in envelopes:
            records.append(SourceRecord(topic, 0, self.offset, b"k", encode(envelope)))
            self.offset += 1
        await self.runner.handle(records)
        return positions


@pytest.fixture
async def api(
    new_database: Any, pool_for: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, ApplyingPublisher]]:
    pool = await pool_for(await new_database("campaigns"))
    publisher = ApplyingPublisher(pool)

    @asynccontextmanager
    async def on_test_database(
        service: str, settings: ServiceSettings
    ) -> AsyncIterator[tuple[ApiRuntime, dict[str, Probe]]]:
        yield ApiRuntime(service, settings, pool, publisher), {}

    settings = DEFINITION.settings(command_wait_s=0.5)  # type: ignore[call-arg]
    app = create_api(
        DEFINITION.name, settings, DEFINITION.routers, runtime_factory=on_test_database
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://campaigns", headers=AUTH
        ) as client,
    ):
        yield client, publisher


async def test_create_get_update_launch_pause_resume_stop(
    api: tuple[httpx.AsyncClient, ApplyingPublisher],
) -> None:
    client, _ = api
    created = await client.post("/v1/campaigns", json=SPRING)
    assert created.status_code == 201, created.text
    campaign = (await client.get("/v1/campaigns/spring")).json()
    assert campaign["status"] == "draft"
    assert campaign["definition"]["audience"]["rule"]["holds_any"] == ["home-internet"]

    updated = await client.patch("/v1/campaigns/spring", json={"message_ref": "script-9"})
    assert updated.status_code == 200, updated.text
    campaign = (await client.get("/v1/campaigns/spring")).json()
    assert campaign["definition"]["message_ref"] == "script-9"
    assert campaign["definition"]["name"] == "Spring offer"

    assert (await client.post("/v1/campaigns/spring/launch")).status_code == 200
    campaign = (await client.get("/v1/campaigns/spring")).json()
    assert campaign["status"] == "running"
    assert [w["wave"] for w in campaign["waves"]] == [1]

    late_edit = await client.patch("/v1/campaigns/spring", json={"name": "x"})
    assert late_edit.status_code == 409
    assert late_edit.headers["content-type"] == "application/problem+json"

    assert (await client.post("/v1/campaigns/spring/pause")).status_code == 200
    assert (await client.post("/v1/campaigns/spring/pause")).status_code == 409
    assert (await client.post("/v1/campaigns/spring/resume")).status_code == 200
    second = await client.post("/v1/campaigns/spring/launch", json={})
    assert second.status_code == 200
    assert (await client.post("/v1/campaigns/spring/stop")).status_code == 200
    campaign = (await client.get("/v1/campaigns/spring")).json()
    assert campaign["status"] == "stopped"
    assert [w["wave"] for w in campaign["waves"]] == [1, 2]
    assert (await client.post("/v1/campaigns/spring/resume")).status_code == 409


async def test_a_retried_command_repeats_its_first_answer(
    api: tuple[httpx.AsyncClient, ApplyingPublisher],
) -> None:
    client, publisher = api
    key = {"Idempotency-Key": "create-spring-1"}
    first = await client.post("/v1/campaigns", json=SPRING, headers=key)
    again = await client.post("/v1/campaigns", json=SPRING, headers=key)
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["replayed"] is True
    assert again.json()["event_ids"] == first.json()["event_ids"]
    assert len(publisher.sent["campaigns.events.v1"]) == 1
    assert (await client.post("/v1/campaigns", json=SPRING)).status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**SPRING, "channel": "fax"}, "channel"),
        ({**SPRING, "audience": {"rule": {"customer_for_days": 0}}}, "customer_for_days"),
        (
            {**SPRING, "starts_at": "2026-05-01T00:00:00Z", "ends_at": "2026-04-01T00:00:00Z"},
            "ends_at",
        ),
        ({**SPRING, "surprise": 1}, "surprise"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    api: tuple[httpx.AsyncClient, ApplyingPublisher], body: dict[str, Any], field: str
) -> None:
    client, _ = api
    answer = await client.post("/v1/campaigns", json=body)
    assert answer.status_code == 422, answer.text
    assert field in answer.text


async def test_unknown_campaigns_are_404_and_lists_page(
    api: tuple[httpx.AsyncClient, ApplyingPublisher],
) -> None:
    client, _ = api
    assert (await client.get("/v1/campaigns/nope")).status_code == 404
    assert (await client.post("/v1/campaigns/nope/launch")).status_code == 404
    for n in range(3):
        await client.post("/v1/campaigns", json={**SPRING, "campaign_id": f"c-{n}"})
    await client.post("/v1/campaigns/c-1/launch")
    page = (await client.get("/v1/campaigns", params={"limit": 2})).json()
    assert [c["campaign_id"] for c in page["campaigns"]] == ["c-0", "c-1"]
    rest = (await client.get("/v1/campaigns", params={"cursor": page["next_cursor"]})).json()
    assert [c["campaign_id"] for c in rest["campaigns"]] == ["c-2"]
    assert rest["next_cursor"] is None
    running = (await client.get("/v1/campaigns", params={"status": "running"})).json()
    assert [c["campaign_id"] for c in running["campaigns"]] == ["c-1"]
    assert (await client.get("/v1/campaigns", params={"status": "odd"})).status_code == 422
