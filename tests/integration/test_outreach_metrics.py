"""The outreach-decision counter, read through prometheus_client's registry, after real rounds
on the real broker and database (the dispatch scenario's customers and campaign)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from prometheus_client import REGISTRY

from campaigns import dispatcher
from campaigns.phone_zones import PhoneZones
from dialogkit.metrics import exposition
from tests.integration.test_campaign_dispatch import Scenario

DECISIONS = "dialog_outreach_decisions_total"
ROUNDS = "dialog_dispatch_round_duration_seconds_count"
LABELS = {"channel": "phone", "purpose": "marketing"}
EXPECTED = {
    ("authorized", ""): 5,  # ok, biz, revoked, erased, cap: nothing changed since planning
    ("dispatched", ""): 5,
    ("blocked", "no_consent"): 1,
    ("blocked", "suppressed"): 1,
    ("deferred", "outside_calling_hours"): 1,  # la: night in Los Angeles
}
CANCELLED = {("cancelled", "campaign_stopped"): 8}


def counted(outcomes: dict[tuple[str, str], int]) -> dict[tuple[str, str], float]:
    return {
        key: REGISTRY.get_sample_value(DECISIONS, {"outcome": key[0], "reason": key[1], **LABELS})
        or 0.0
        for key in outcomes
    }


def rounds() -> float:
    return REGISTRY.get_sample_value(ROUNDS) or 0.0


@pytest.fixture
async def planned(
    new_database: Any, pool_for: Any, publisher: Any, platform_topics_ready: str
) -> AsyncIterator[Scenario]:
    """The scenario with its wave planned and the customers' zones known: all of it due, and
    nothing else."""
    pool = await pool_for(await new_database("campaigns"))
    made = Scenario(pool, publisher, platform_topics_ready)
    await made.customers()
    await made.launch()
    await made.catch_up()
    await made.planner.run(made.pool, made.publisher)
    await PhoneZones(made.keys).run(made.pool, made.publisher)
    await made.pool.execute(  # other tests' campaigns share the topics: only this one is due
        "DELETE FROM outreach_due WHERE campaign_id <> $1", made.campaign
    )
    yield made
    await made.ends.stop()


async def test_decisions_are_counted_by_outcome_and_reason_once_their_round_committed(
    planned: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    before, rounds_before = counted(EXPECTED), rounds()

    async def fails(*_: Any) -> None:
        raise ConnectionError("the database went away before the commit")

    with monkeypatch.context() as patch:
        patch.setattr(dispatcher, "record", fails)
        with pytest.raises(ConnectionError):
            await planned.dispatcher.run(planned.pool, planned.publisher)
    assert counted(EXPECTED) == before, "a rolled-back round counts nothing"
    assert rounds() == rounds_before

    await planned.dispatcher.run(planned.pool, planned.publisher)
    after = counted(EXPECTED)
    assert {key: after[key] - before[key] for key in EXPECTED} == EXPECTED
    assert rounds() == rounds_before + 1
    page = exposition()  # what the worker's /metrics serves
    assert 'dialog_outreach_decisions_total{channel="phone",outcome="blocked"' in page


async def test_outreach_of_a_stopped_campaign_counts_cancelled_with_its_reason(
    planned: Scenario,
) -> None:
    before = counted(CANCELLED)
    await planned.pool.execute(
        "UPDATE campaigns SET status = 'stopped' WHERE campaign_id = $1", planned.campaign
    )
    await planned.dispatcher.run(planned.pool, planned.publisher)
    after = counted(CANCELLED)
    assert {key: after[key] - before[key] for key in CANCELLED} == CANCELLED
