"""What marketing reads about a campaign: statistics, an audience preview, its outreach.

Statistics count the outreach read model (one row per outreach, from the campaign's events) per
wave and channel, so they always add up: planned = authorized + blocked + cancelled + pending,
where pending is planned and not decided yet (deferred outreach is pending, and also counted
under `deferred`). `audience` is the number of audience members the planner found for the wave.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from pydantic import BaseModel

from campaigns.audience import exclusion
from campaigns.audience_store import facts_page
from campaigns.calling_hours import zones_from
from campaigns.dispatch import Blocked, Deferred, DueOutreach, Policy, decide, effective_caps
from campaigns.due import phone_zones, recent_contacts
from campaigns.planning import resolved
from consentledger.domain import ConsentState
from consentledger.store import load_states
from dialog_schemas.campaigns import CampaignDefinition, FrequencyCaps


class Counts(BaseModel):
    wave: int | None
    channel: str
    audience: int
    planned: int
    authorized: int
    blocked: int
    blocked_by_reason: dict[str, int]
    cancelled: int
    pending: int
    deferred: int
    """Pending outreach waiting for a later moment (calling hours, frequency cap)."""
    deferred_by_reason: dict[str, int]
    dispatched: int


class Statistics(BaseModel):
    campaign_id: str
    total: Counts
    waves: list[Counts]


async def statistics(db: Any, campaign_id: str) -> Statistics:
    """The campaign's counts per wave and channel, and in total."""
    rows = await db.fetch(
        "SELECT wave, channel, decision, block_reason, cancelled_at IS NOT NULL AS cancelled,"
        " deferral_reason, dispatched_at IS NOT NULL AS dispatched, count(*) AS n"
        " FROM outreach WHERE campaign_id = $1 GROUP BY 1, 2, 3, 4, 5, 6, 7",
        campaign_id,
    )
    audiences = {
        r["wave"]: r["audience"]
        for r in await db.fetch(
            "SELECT wave, audience FROM wave_plans WHERE campaign_id = $1", campaign_id
        )
    }
    groups: dict[tuple[int | None, str], list[Any]] = {}
    for r in rows:
        groups.setdefault((r["wave"], r["channel"]), []).append(r)
    waves = [
        counts(wave, channel, audiences.get(wave, 0), group)
        for (wave, channel), group in sorted(groups.items(), key=lambda g: (g[0][0] or 0, g[0][1]))
    ]
    channel = waves[0].channel if waves else ""
    total = counts(None, channel, sum(audiences.values()), rows)
    return Statistics(campaign_id=campaign_id, total=total, waves=waves)


def counts(wave: int | None, channel: str, audience: int, rows: list[Any]) -> Counts:
    def count(pick: Any) -> int:
        return sum(r["n"] for r in rows if pick(r))

    def undecided(r: Any) -> bool:
        return r["decision"] is None and not r["cancelled"]

    blocked: Counter[str] = Counter()
    deferred: Counter[str] = Counter()
    for r in rows:
        if r["decision"] == "blocked":
            blocked[r["block_reason"]] += r["n"]
        elif undecided(r) and r["deferral_reason"]:
            deferred[r["deferral_reason"]] += r["n"]
    return Counts(
        wave=wave,
        channel=channel,
        audience=audience,
        planned=count(lambda r: True),
        authorized=count(lambda r: r["decision"] == "authorized"),
        blocked=sum(blocked.values()),
        blocked_by_reason=dict(sorted(blocked.items())),
        cancelled=count(lambda r: r["decision"] is None and r["cancelled"]),
        pending=count(undecided),
        deferred=sum(deferred.values()),
        deferred_by_reason=dict(sorted(deferred.items())),
        dispatched=count(lambda r: r["dispatched"]),
    )


class Preview(BaseModel):
    count: int
    sample: list[str]
    blocked_now: int
    blocked_now_by_reason: dict[str, int]
    deferred_now_by_reason: dict[str, int]
    """Members who may be contacted, but not at this moment (calling hours, frequency cap)."""


@dataclass(frozen=True)
class PreviewPolicy:
    policy: Policy
    caps: FrequencyCaps
    default_zone: str


async def preview(
    db: Any, definition: CampaignDefinition, rules: PreviewPolicy, now: datetime, sample: int
) -> Preview:
    """Who the audience is now, and how the dispatch decision would go for each of them now."""
    audience = await resolved(db, definition.audience)
    caps = effective_caps(rules.caps, definition.frequency_caps)
    count, members, blocked, deferred = 0, list[str](), Counter[str](), Counter[str]()
    after = ""
    while page := await facts_page(db, after, 2000):
        after = page[-1].customer_id
        chosen = [
            f
            for f in page
            if exclusion(audience, f, definition.channel, definition.purpose, now) is None
        ]
        count += len(chosen)
        members += [f.customer_id for f in chosen][: max(sample - len(members), 0)]
        ids = [f.customer_id for f in chosen]
        states = await load_states(db, ids, now)
        contacts = await recent_contacts(db, ids, now, [caps])
        implied = await phone_zones(db, ids)
        due = DueOutreach(
            definition.channel,
            definition.purpose,
            definition.product_category,
            definition.ends_at,
            caps,
        )
        for f in chosen:
            outcome = decide(
                due,
                states.get(f.customer_id, ConsentState()),
                erased=f.erased,
                zones=zones_from(f.time_zone, implied.get(f.customer_id, []), rules.default_zone),
                contacts=contacts.get(f.customer_id, []),
                now=now,
                policy=rules.policy,
            )
            if isinstance(outcome, Blocked):
                blocked[outcome.reason.value] += 1
            elif isinstance(outcome, Deferred):
                deferred[outcome.reason.value] += 1
    return Preview(
        count=count,
        sample=members,
        blocked_now=sum(blocked.values()),
        blocked_now_by_reason=dict(sorted(blocked.items())),
        deferred_now_by_reason=dict(sorted(deferred.items())),
    )


OUTCOMES = ("authorized", "blocked", "deferred", "pending", "cancelled")
OUTCOME_SQL = {
    "authorized": "decision = 'authorized'",
    "blocked": "decision = 'blocked'",
    "cancelled": "decision IS NULL AND cancelled_at IS NOT NULL",
    "pending": "decision IS NULL AND cancelled_at IS NULL",
    "deferred": "decision IS NULL AND cancelled_at IS NULL AND deferred_until IS NOT NULL",
}


class OutreachDecision(BaseModel):
    outreach_id: UUID
    customer_id: str
    wave: int | None
    channel: str
    outcome: str
    planned_for: datetime | None
    decided_at: datetime | None
    legal_basis: str | None
    consent_id: UUID | None
    reason: str | None
    """The block, deferral or cancellation reason."""
    deferred_until: datetime | None
    deferrals: int
    dispatched_at: datetime | None
    responses: list[dict[str, Any]]


async def outreach_page(
    db: Any,
    campaign_id: str,
    outcome: str | None,
    reason: str | None,
    after: UUID | None,
    limit: int,
) -> list[OutreachDecision]:
    """The campaign's outreach in id order after `after`, of one outcome and reason if given."""
    where = OUTCOME_SQL[outcome] if outcome else "true"
    rows = await db.fetch(
        "SELECT outreach_id, customer_id, wave, channel, decision, cancelled_at, planned_for,"
        " decided_at, legal_basis, consent_id, block_reason, deferral_reason, cancel_reason,"
        " deferred_until, deferrals, dispatched_at, responses FROM outreach"
        f" WHERE campaign_id = $1 AND ({where}) AND ($2::uuid IS NULL OR outreach_id > $2)"
        " AND ($3::text IS NULL OR $3 IN (block_reason, deferral_reason, cancel_reason))"
        " ORDER BY outreach_id LIMIT $4",
        campaign_id,
        after,
        reason,
        limit,
    )
    return [_decision(r) for r in rows]


def _decision(r: Any) -> OutreachDecision:
    if r["decision"]:
        outcome = r["decision"]
    elif r["cancelled_at"]:
        outcome = "cancelled"
    else:
        outcome = "deferred" if r["deferred_until"] else "pending"
    reason = {"blocked": r["block_reason"], "cancelled": r["cancel_reason"]}.get(
        outcome, r["deferral_reason"] if outcome == "deferred" else None
    )
    return OutreachDecision(
        outreach_id=r["outreach_id"],
        customer_id=r["customer_id"],
        wave=r["wave"],
        channel=r["channel"],
        outcome=outcome,
        planned_for=r["planned_for"],
        decided_at=r["decided_at"],
        legal_basis=r["legal_basis"],
        consent_id=r["consent_id"],
        reason=reason,
        deferred_until=r["deferred_until"],
        deferrals=r["deferrals"],
        dispatched_at=r["dispatched_at"],
        responses=orjson.loads(r["responses"]),
    )
