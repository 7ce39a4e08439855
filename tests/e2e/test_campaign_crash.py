"""The campaigns worker SIGKILLed while it dispatches a large wave, then started again: every
outreach is decided exactly once, none is lost. An event may reach the topic twice after the
kill (published, then killed before the outbox row was deleted), always with the same id."""

from __future__ import annotations

import signal
import uuid
from collections import defaultdict
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from devstack.processes import Child
from dialog_schemas.campaigns import CampaignDefinition
from dialog_schemas.catalog import CAMPAIGNS_EVENTS
from dialog_schemas.common import Channel, Purpose
from dialogkit.codec import decode_envelope
from tests.support import eventually, read_topic, service_process

WAVE = 5_000  # about 20 rounds: the kill lands mid-dispatch, with most still due
ENV = {"CAMPAIGNS_DISPATCH_BATCH": "250", "CAMPAIGNS_DISPATCH_INTERVAL_S": "0.2"}


async def plan(pool: asyncpg.Pool, campaign: str) -> None:
    """A running campaign with a wave of outreach due now (customers nobody gave consent)."""
    definition = CampaignDefinition(name="Crash", channel=Channel.PHONE, purpose=Purpose.MARKETING)
    now = datetime.now(UTC)
    await pool.execute(
        "INSERT INTO campaigns (campaign_id, name, channel, purpose, created_at, status,"
        " definition) VALUES ($1, 'Crash', 'phone', 'marketing', $2, 'running', $3::jsonb)",
        campaign,
        now,
        definition.model_dump_json(),
    )
    await pool.copy_records_to_table(
        "outreach_due",
        records=[
            (uuid.uuid4(), campaign, 1, f"k-{campaign}-{n}", "phone", "marketing", now)
            for n in range(WAVE)
        ],
        columns=[
            "outreach_id",
            "campaign_id",
            "wave",
            "customer_id",
            "channel",
            "purpose",
            "due_at",
        ],
    )


async def test_a_worker_killed_mid_dispatch_decides_each_outreach_once(
    new_database, pool_for, platform_topics_ready: str, tmp_path: Path
) -> None:
    dsn = await new_database("campaigns")
    pool = await pool_for(dsn)
    campaign = f"crash-{uuid.uuid4().hex[:8]}"
    await plan(pool, campaign)
    planned = {r["outreach_id"] for r in await pool.fetch("SELECT outreach_id FROM outreach_due")}
    assert len(planned) == WAVE

    async def left() -> int:  # (the worker also decides other tests' waves on the shared topics)
        return int(
            await pool.fetchval(
                "SELECT count(*) FROM outreach_due WHERE campaign_id = $1", campaign
            )
        )

    def worker(name: str) -> AbstractContextManager[tuple[Child, str]]:
        return service_process(
            "campaigns",
            "worker",
            bootstrap=platform_topics_ready,
            dsn=dsn,
            logs=tmp_path / f"{name}.log",
            extra_env=ENV,
        )

    with worker("first") as (child, _):
        await eventually(left, lambda n: n < WAVE * 0.8, interval=0.02, timeout=120)
        child.process.send_signal(signal.SIGKILL)
        child.process.wait(10)
    remaining = await left()
    assert 0 < remaining < WAVE, "killed during the dispatch"
    # the killed worker's outbox leases end as they would `LEASE_S` later (nobody holds them)
    await pool.execute("UPDATE outbox SET claimed_until = now() WHERE claimed_until > now()")

    with worker("second"):
        await eventually(left, lambda n: n == 0, timeout=180)
        await eventually(
            lambda: pool.fetchval(
                "SELECT count(*) FROM outbox WHERE envelope->'data'->>'campaign_id' = $1",
                campaign,
            ),
            lambda n: n == 0,
            timeout=60,
        )

    decisions: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for record in await read_topic(platform_topics_ready, CAMPAIGNS_EVENTS.name):
        envelope = decode_envelope(record.value, tuple(record.headers))
        if envelope.type == "OutreachBlocked" and envelope.data["campaign_id"] == campaign:
            decisions[uuid.UUID(envelope.data["outreach_id"])].add(envelope.id)
            assert envelope.data["reason"] == "no_consent"
    assert set(decisions) == planned, "none lost"
    assert all(len(ids) == 1 for ids in decisions.values()), "each decided once"
