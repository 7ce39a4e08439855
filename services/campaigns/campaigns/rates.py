"""Response, conversion and opt-out rates of dispatched outreach.

Counted per outreach over dispatched outreach (`dispatched_at` set), never per response entry:
an outreach has responded if its `responses` list holds at least one entry, converted if one of
them is `purchased`, opted out if one is `unsubscribed`. `responses` counts the entries
themselves (an outreach answered twice counts twice there, once in `responded`). Rates are
`responded / dispatched`, `converted / dispatched`, `opted_out / dispatched`, rounded to four
decimals, and null without dispatched outreach. Responses to outreach not recorded as dispatched
are not counted. Days are UTC days of dispatch: a day's figures are the outreach dispatched
that day and what came back on it since (a cohort), so the days add up to the total.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time
from typing import Any

from pydantic import BaseModel

COHORTS = (
    "SELECT wave, channel, (dispatched_at AT TIME ZONE 'UTC')::date AS day, count(*) AS dispatched,"
    " count(*) FILTER (WHERE jsonb_array_length(responses) > 0) AS responded,"
    " coalesce(sum(jsonb_array_length(responses)), 0) AS responses,"
    """ count(*) FILTER (WHERE responses @> '[{"kind": "purchased"}]') AS converted,"""
    """ count(*) FILTER (WHERE responses @> '[{"kind": "unsubscribed"}]') AS opted_out"""
    " FROM outreach WHERE dispatched_at IS NOT NULL AND {where} GROUP BY 1, 2, 3"
)
COUNTS = ("dispatched", "responded", "responses", "converted", "opted_out")


class Rates(BaseModel):
    dispatched: int
    responded: int
    """Dispatched outreach with at least one response."""
    responses: int
    """Response entries of dispatched outreach."""
    converted: int
    """Dispatched outreach with a `purchased` response."""
    opted_out: int
    """Dispatched outreach with an `unsubscribed` response."""
    response_rate: float | None
    conversion_rate: float | None
    opt_out_rate: float | None


class WaveRates(Rates):
    wave: int | None
    channel: str


class ChannelRates(Rates):
    channel: str


class DayRates(Rates):
    day: date
    """UTC day of dispatch."""


def rate(part: int, whole: int) -> float | None:
    """`part / whole` rounded to four decimals (a fraction, not a percentage); None if whole
    is 0."""
    return round(part / whole, 4) if whole else None


def summed(rows: Iterable[Any]) -> dict[str, Any]:
    """The counts of the cohort rows added up, and the rates over them."""
    totals = dict.fromkeys(COUNTS, 0)
    for r in rows:
        for name in COUNTS:
            totals[name] += r[name]
    return {
        **totals,
        "response_rate": rate(totals["responded"], totals["dispatched"]),
        "conversion_rate": rate(totals["converted"], totals["dispatched"]),
        "opt_out_rate": rate(totals["opted_out"], totals["dispatched"]),
    }


def grouped(rows: list[Any], key: Callable[[Any], Any]) -> dict[Any, list[Any]]:
    """Rows by the tuple `key` gives, keys in order (a None last in its place)."""
    groups: dict[Any, list[Any]] = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    return dict(sorted(groups.items(), key=lambda g: tuple((v is None, v) for v in g[0])))


class CampaignRates(BaseModel):
    total: Rates
    waves: list[WaveRates]
    channels: list[ChannelRates]
    days: list[DayRates]


async def cohorts(db: Any, where: str, *args: Any) -> list[Any]:
    """The dispatched outreach matching `where` counted per wave, channel and UTC day."""
    return list(await db.fetch(COHORTS.replace("{where}", where), *args))


async def campaign_rates(db: Any, campaign_id: str) -> CampaignRates:
    """The campaign's rates in total, per wave and channel, per channel and per day of dispatch."""
    rows = await cohorts(db, "campaign_id = $1", campaign_id)
    waves = grouped(rows, lambda r: (r["wave"], r["channel"]))
    return CampaignRates(
        total=Rates(**summed(rows)),
        waves=[WaveRates(wave=w, channel=c, **summed(g)) for (w, c), g in waves.items()],
        channels=channel_rates(rows),
        days=[
            DayRates(day=d, **summed(g)) for (d,), g in grouped(rows, lambda r: (r["day"],)).items()
        ],
    )


def channel_rates(rows: list[Any]) -> list[ChannelRates]:
    """Cohort rows added up per channel, in channel order."""
    return [
        ChannelRates(channel=c, **summed(g))
        for (c,), g in grouped(rows, lambda r: (r["channel"],)).items()
    ]


class ChannelComparison(BaseModel):
    since: date
    until: date
    """Exclusive."""
    channels: list[ChannelRates]


async def compare_channels(db: Any, since: date, until: date) -> ChannelComparison:
    """Every campaign's outreach dispatched from `since` up to `until` (UTC days, `until`
    exclusive), per channel."""
    rows = await cohorts(
        db, "dispatched_at >= $1 AND dispatched_at < $2", midnight(since), midnight(until)
    )
    return ChannelComparison(since=since, until=until, channels=channel_rates(rows))


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)
