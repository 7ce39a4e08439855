"""The campaign report for marketing: one model, answered as JSON and rendered as a page.

Every figure comes from the statistics (what was planned and decided) or the rates (what was
dispatched and what came back), both counted from the outreach read model; the report only
arranges them. The funnel narrows: audience, planned, authorized, dispatched, responded,
converted (audience is what the planner found; an audience member without a channel or outside
the rules is not planned).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from campaigns.rates import (
    ChannelComparison,
    ChannelRates,
    DayRates,
    Rates,
    WaveRates,
    campaign_rates,
    compare_channels,
)
from campaigns.reports import Counts, statistics

FUNNEL = ("audience", "planned", "authorized", "dispatched", "responded", "converted")


class Funnel(BaseModel):
    audience: int
    planned: int
    authorized: int
    dispatched: int
    responded: int
    converted: int


class Legal(BaseModel):
    """What the dispatch decision held back (BRIEF section 3: UWG § 7, GDPR Art. 6, 7, 21)."""

    blocked: int
    blocked_by_reason: dict[str, int]
    deferred: int
    deferred_by_reason: dict[str, int]
    cancelled: int
    pending: int


class WaveReport(BaseModel):
    wave: int | None
    channel: str
    counts: Counts
    rates: Rates


class Report(BaseModel):
    campaign_id: str
    name: str
    channel: str
    status: str
    funnel: Funnel
    legal: Legal
    rates: Rates
    channels: list[ChannelRates]
    """Rates per outreach channel of this campaign."""
    days: list[DayRates]
    """Rates per UTC day of dispatch, days without dispatch left out."""
    waves: list[WaveReport]
    compared: ChannelComparison | None
    """Every campaign's outreach per channel, dispatched on the days this campaign dispatched
    (from its first to its last day of dispatch); null before it dispatched anything."""


async def campaign_report(
    db: Any, campaign_id: str, name: str, channel: str, status: str
) -> Report:
    """The report of an existing campaign (the caller has checked it exists)."""
    counts = await statistics(db, campaign_id)
    rates = await campaign_rates(db, campaign_id)
    total = counts.total
    wave_rates = {(w.wave, w.channel): w for w in rates.waves}
    compared = None
    if rates.days:
        until = rates.days[-1].day + timedelta(days=1)
        compared = await compare_channels(db, rates.days[0].day, until)
    return Report(
        campaign_id=campaign_id,
        name=name,
        channel=channel,
        status=status,
        funnel=Funnel(
            audience=total.audience,
            planned=total.planned,
            authorized=total.authorized,
            dispatched=total.dispatched,
            responded=rates.total.responded,
            converted=rates.total.converted,
        ),
        legal=Legal(
            blocked=total.blocked,
            blocked_by_reason=total.blocked_by_reason,
            deferred=total.deferred,
            deferred_by_reason=total.deferred_by_reason,
            cancelled=total.cancelled,
            pending=total.pending,
        ),
        rates=rates.total,
        channels=rates.channels,
        days=rates.days,
        waves=[
            WaveReport(
                wave=w.wave,
                channel=w.channel,
                counts=w,
                rates=_rates_of(wave_rates.get((w.wave, w.channel))),
            )
            for w in counts.waves
        ],
        compared=compared,
    )


def _rates_of(found: WaveRates | None) -> Rates:
    if found is None:
        return Rates(
            dispatched=0,
            responded=0,
            responses=0,
            converted=0,
            opted_out=0,
            response_rate=None,
            conversion_rate=None,
            opt_out_rate=None,
        )
    return Rates(**found.model_dump(exclude={"wave", "channel"}))
