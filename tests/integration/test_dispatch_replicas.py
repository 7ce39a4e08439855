"""Dispatcher replicas on one database: one customer is decided by one round at a time, so a
frequency cap holds across replicas as it does within one round (the dispatch scenario's
customers and campaign, the real broker and database)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from campaigns.due import CUSTOMER_DECISIONS
from tests.integration.test_campaign_dispatch import Scenario, decision_time
from tests.integration.test_outreach_metrics import planned  # noqa: F401  (the fixture)


async def due_customers(s: Scenario) -> set[str]:
    rows = await s.pool.fetch("SELECT customer_id FROM outreach_due")
    return {r["customer_id"] for r in rows}


async def test_a_customer_another_round_holds_is_left_due_for_a_later_round(
    planned: Scenario,  # noqa: F811
) -> None:
    ok, business = planned.c["ok"], planned.c["biz"]
    async with planned.pool.acquire() as other, other.transaction():
        await other.execute(  # another replica's round is deciding about `ok`
            "SELECT pg_advisory_xact_lock($1, hashtext($2))", CUSTOMER_DECISIONS, ok
        )
        await planned.dispatcher.round(planned.pool)
        left = await due_customers(planned)
        assert ok in left, "left for a later round"
        assert business not in left, "the others are decided"
    await planned.dispatcher.round(planned.pool)
    assert ok not in await due_customers(planned)


async def test_two_replicas_keep_a_frequency_cap_of_one_together(
    planned: Scenario,  # noqa: F811
) -> None:
    ok = planned.c["ok"]
    second = f"second-{uuid.uuid4().hex[:8]}"
    await planned.pool.execute(  # a second campaign of the same kind, cap 1 call a week
        "INSERT INTO campaigns (campaign_id, name, channel, purpose, created_at, status,"
        " definition) SELECT $2, name, channel, purpose, created_at, status, definition"
        " FROM campaigns WHERE campaign_id = $1",
        planned.campaign,
        second,
    )
    due = decision_time() - timedelta(minutes=1)
    await planned.pool.execute("DELETE FROM outreach_due WHERE customer_id <> $1", ok)
    await planned.pool.execute("UPDATE outreach_due SET due_at = $1", due)
    await planned.pool.execute(
        "INSERT INTO outreach_due (outreach_id, campaign_id, wave, customer_id, channel,"
        " purpose, due_at) VALUES ($1, $2, 1, $3, 'phone', 'marketing', $4)",
        uuid.uuid4(),
        second,
        ok,
        due,
    )
    planned.dispatcher._batch = 1  # each replica's round takes one of the two calls
    await asyncio.gather(*(planned.dispatcher.round(planned.pool) for _ in range(2)))
    await planned.dispatcher.run(planned.pool, planned.publisher)

    called = await planned.pool.fetchval(
        "SELECT count(*) FROM customer_contacts WHERE customer_id = $1", ok
    )
    deferred = await planned.pool.fetch(
        "SELECT deferrals FROM outreach_due WHERE customer_id = $1", ok
    )
    assert called == 1, "one call authorized in the week"
    assert [r["deferrals"] for r in deferred] == [1], "the other deferred by the cap"
