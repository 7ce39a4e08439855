"""No stale decisions: a withdrawal the consent API acknowledged is reflected in the dispatch
decision that begins the next moment (the read barrier), on the real broker and database.

The consent API runs in process on its own database, caught up with the topics; the campaigns
worker's dispatcher starts right after the API's answer, while its consent view has not read
the withdrawal yet and applies it meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from consent.bootstrap import DEFINITION as CONSENT
from dialogkit.config import ServiceSettings
from dialogkit.deadletters import DeadLetters
from dialogkit.http import ApiRuntime, Probe, create_api
from dialogkit.publishing import KafkaPublisher
from dialogkit.replay import replay
from tests.integration.test_campaign_dispatch import Scenario
from tests.integration.test_outreach_metrics import planned  # noqa: F401  (the fixture)
from tests.support import AUTH


@asynccontextmanager
async def consent_api(pool: Any, publisher: KafkaPublisher) -> AsyncIterator[httpx.AsyncClient]:
    """The consent service's routes on its test database; commands do not wait for its own
    read model (no consent worker runs here), they answer once the broker has the event."""

    @asynccontextmanager
    async def on_test_database(
        service: str, settings: ServiceSettings
    ) -> AsyncIterator[tuple[ApiRuntime, dict[str, Probe]]]:
        yield ApiRuntime(service, settings, pool, publisher), {}

    settings = CONSENT.settings(command_wait_s=0)
    app = create_api(CONSENT.name, settings, CONSENT.routers, runtime_factory=on_test_database)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://consent", headers=AUTH
        ) as client,
    ):
        yield client


async def test_a_withdrawal_acknowledged_by_the_api_blocks_the_dispatch_begun_next(
    planned: Scenario,  # noqa: F811
    new_database: Any,
    pool_for: Any,
    publisher: KafkaPublisher,
    platform_topics_ready: str,
) -> None:
    ok = planned.c["ok"]
    consent_pool = await pool_for(await new_database("consent"))
    dead = DeadLetters(publisher, "consent.deadletter.v1", "test")
    projections = CONSENT.projections(CONSENT.settings(), publisher)
    await replay(consent_pool, projections, dead, platform_topics_ready)  # it knows the grant
    async with consent_api(consent_pool, publisher) as consent:
        withdrawn = await consent.post(
            f"/v1/customers/{ok}/withdrawals", json={"channel": "phone", "via_channel": "email"}
        )
    assert withdrawn.status_code in (200, 202), withdrawn.text  # the broker has it

    dispatching = asyncio.create_task(planned.dispatcher.run(planned.pool, planned.publisher))
    await planned.catch_up()  # the campaigns worker's consent view reads it meanwhile
    await asyncio.wait_for(dispatching, 60)
    await planned.catch_up()  # the decisions, into the outreach read model
    outcome, reason, dispatched = (await planned.decisions())["ok"]
    assert (outcome, reason, dispatched) == ("blocked", "revoked", False)
