"""Planning: a launched wave becomes one due outreach per audience member, in batches.

`WaveLaunched` read from the campaigns topic records the wave in `wave_plans` (once). The
planner, a periodic job of the worker, takes one unfinished wave at a time (`FOR UPDATE SKIP
LOCKED`: replicas plan different waves), reads the next page of customer facts in id order,
selects the audience members (`audience.exclusion`, the pure rule), and in one transaction adds
their outreach to `outreach_due`, writes `OutreachPlanned` into the outbox and advances the
wave's cursor. Outreach ids derive from campaign, wave and customer and rows are inserted with
`ON CONFLICT DO NOTHING`, so a relaunch or a crash at any point plans nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid5

import asyncpg

from campaigns.audience import exclusion
from campaigns.audience_store import facts_page
from campaigns.barrier import ReadBarrier
from campaigns.outbox import OutboxRelay, event_row, outreach_envelope, write
from dialog_schemas.campaigns import Audience, CampaignDefinition, OutreachPlanned, WaveLaunched
from dialog_schemas.catalog import CAMPAIGNS_EVENTS
from dialogkit.merges import survivors
from dialogkit.projection import Decoded
from dialogkit.publishing import EventPublisher

OUTREACH_NAMESPACE = UUID("6a1f4f0e-3c1b-4d8e-8f3a-52b7c0e9d614")


def outreach_id(campaign_id: str, wave: int, customer_id: str) -> UUID:
    """The outreach of a wave to a customer: the same id however often it is planned."""
    return uuid5(OUTREACH_NAMESPACE, f"{campaign_id}/{wave}/{customer_id}")


class WavesProjection:
    """Waves to plan, from `WaveLaunched` on the campaigns topic."""

    name = "campaigns.waves"
    source = CAMPAIGNS_EVENTS

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        await connection.executemany(
            "INSERT INTO wave_plans (campaign_id, wave, launched_at, due_from)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            [
                (e.campaign_id, e.wave, e.launched_at, e.due_from)
                for d in events
                if isinstance(e := d.event, WaveLaunched)
            ],
        )


@dataclass(frozen=True)
class Wave:
    campaign_id: str
    wave: int
    due_from: datetime
    planned_after: str
    definition: CampaignDefinition
    ended: bool


class Planner:
    """The periodic job that plans launched waves."""

    name = "plan-waves"

    def __init__(
        self,
        relay: OutboxRelay,
        barrier: ReadBarrier,
        *,
        interval_s: float = 0.5,
        batch: int = 2000,
    ) -> None:
        self.interval_s = interval_s
        self._relay = relay
        self._barrier = barrier
        self._batch = batch

    async def run(self, pool: asyncpg.Pool, publisher: EventPublisher) -> int:
        """Plan every launched wave to its end; the number of outreach planned.

        The audience reflects every objection and erasure acknowledged before planning began
        (the read barrier, as for dispatch)."""
        if not await pool.fetchval("SELECT EXISTS (SELECT 1 FROM wave_plans WHERE NOT done)"):
            return 0
        await self._barrier.wait(pool)
        planned = 0
        while (step := await self.step(pool)) is not None:
            planned += step
            await self._relay.flush(pool, publisher)
        if planned:  # the table's statistics count the wave: rounds take it by the index
            await pool.execute("ANALYZE outreach_due")
        return planned

    async def step(self, pool: asyncpg.Pool) -> int | None:
        """Plan the next page of one wave; None when no wave is left to plan."""
        async with pool.acquire() as connection, connection.transaction():
            wave = await _next_wave(connection)
            if wave is None:
                return None
            if wave.ended:
                await _finish(connection, wave, "")
                return 0
            return await self._page(connection, wave)

    async def _page(self, connection: asyncpg.Connection, wave: Wave) -> int:
        audience = wave.definition.audience
        effective = await resolved(connection, audience)
        page = await facts_page(connection, wave.planned_after, self._batch)
        now = datetime.now(UTC)
        members = [
            f.customer_id
            for f in page
            if exclusion(effective, f, wave.definition.channel, wave.definition.purpose, now)
            is None
        ]
        ids = [outreach_id(wave.campaign_id, wave.wave, c) for c in members]
        inserted = await connection.fetch(
            "INSERT INTO outreach_due (outreach_id, campaign_id, wave, customer_id, channel,"
            " purpose, due_at) SELECT o, $2, $3, c, $4, $5, $6"
            " FROM unnest($1::uuid[], $7::text[]) AS t(o, c)"
            " ON CONFLICT DO NOTHING RETURNING outreach_id, customer_id",
            ids,
            wave.campaign_id,
            wave.wave,
            wave.definition.channel.value,
            wave.definition.purpose.value,
            wave.due_from,
            members,
        )
        await write(
            connection, [_planned(wave, r["outreach_id"], r["customer_id"]) for r in inserted]
        )
        last = page[-1].customer_id if page else wave.planned_after
        await connection.execute(
            "UPDATE wave_plans SET planned_after = $3, audience = audience + $4,"
            " planned = planned + $5, done = $6 WHERE campaign_id = $1 AND wave = $2",
            wave.campaign_id,
            wave.wave,
            last,
            len(members),
            len(inserted),
            len(page) < self._batch,
        )
        return len(inserted)


async def _next_wave(connection: asyncpg.Connection) -> Wave | None:
    row = await connection.fetchrow(
        "SELECT w.campaign_id, w.wave, w.due_from, w.planned_after, c.definition, c.status"
        " FROM wave_plans w JOIN campaigns c USING (campaign_id)"
        " WHERE NOT w.done AND c.definition IS NOT NULL"
        " ORDER BY w.launched_at, w.campaign_id, w.wave LIMIT 1 FOR UPDATE OF w SKIP LOCKED"
    )
    if row is None:
        return None
    return Wave(
        row["campaign_id"],
        row["wave"],
        row["due_from"],
        row["planned_after"],
        CampaignDefinition.model_validate_json(row["definition"]),
        row["status"] in ("stopped", "completed"),
    )


async def _finish(connection: asyncpg.Connection, wave: Wave, _: str) -> None:
    await connection.execute(
        "UPDATE wave_plans SET done = true WHERE campaign_id = $1 AND wave = $2",
        wave.campaign_id,
        wave.wave,
    )


async def resolved(connection: asyncpg.Connection, audience: Audience) -> Audience:
    """The audience with its ids resolved to their survivors (a merged duplicate counts once)."""
    named = await survivors(connection, [*audience.include_ids, *audience.exclude_ids])
    return audience.model_copy(
        update={
            "include_ids": sorted({named[c] for c in audience.include_ids}),
            "exclude_ids": sorted({named[c] for c in audience.exclude_ids}),
        }
    )


def _planned(wave: Wave, outreach: UUID, customer: str) -> tuple[object, ...]:
    event = OutreachPlanned(
        outreach_id=outreach,
        campaign_id=wave.campaign_id,
        channel=wave.definition.channel,
        purpose=wave.definition.purpose,
        planned_for=wave.due_from,
        wave=wave.wave,
    )
    return event_row(CAMPAIGNS_EVENTS.name, outreach_envelope(event, customer, outreach, "planned"))
