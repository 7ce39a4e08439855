"""Response rates and the campaign report over the real outreach read model (PostgreSQL).

The campaigns of `tests.campaign_outcomes` go through the worker's projections; the figures
below are worked out by hand from them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest

from campaigns.bootstrap import DEFINITION
from dialog_schemas.common import Channel
from dialogkit.config import ServiceSettings
from dialogkit.http import ApiRuntime, Probe, create_api
from dialogkit.publishing import FakePublisher
from tests.campaign_outcomes import (
    PHONE,
    PHONE_AUDIENCES,
    PHONE_OUTREACH,
    Outreach,
    feed,
    others,
    plan_waves,
    story,
)
from tests.support import AUTH, token


def rates(
    dispatched: int, responded: int, responses: int, converted: int, opted_out: int
) -> dict[str, Any]:
    def rate(part: int) -> float | None:
        return round(part / dispatched, 4) if dispatched else None

    return {
        "dispatched": dispatched,
        "responded": responded,
        "responses": responses,
        "converted": converted,
        "opted_out": opted_out,
        "response_rate": rate(responded),
        "conversion_rate": rate(converted),
        "opt_out_rate": rate(opted_out),
    }


@pytest.fixture
async def pool(new_database, pool_for) -> asyncpg.Pool:
    pool = await pool_for(await new_database("campaigns"))
    await feed(
        pool,
        [
            *story(PHONE, "Spring tariffs by phone", Channel.PHONE, PHONE_OUTREACH),
            *others(),
        ],
    )
    await plan_waves(pool, PHONE, PHONE_AUDIENCES)
    return pool


@pytest.fixture
async def api(pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    """The campaigns API, its routes as the service registers them, on the test database."""

    @asynccontextmanager
    async def on_test_database(
        service: str, settings: ServiceSettings
    ) -> AsyncIterator[tuple[ApiRuntime, dict[str, Probe]]]:
        yield ApiRuntime(service, settings, pool, FakePublisher()), {}

    settings = DEFINITION.settings()
    app = create_api(
        DEFINITION.name, settings, DEFINITION.routers, runtime_factory=on_test_database
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://campaigns", headers=AUTH
        ) as client,
    ):
        yield client


async def test_the_report_counts_the_funnel_the_rules_and_the_rates(
    api: httpx.AsyncClient,
) -> None:
    response = await api.get(f"/v1/campaigns/{PHONE}/report")
    assert response.status_code == 200, response.text
    report = response.json()

    assert report["campaign_id"] == PHONE
    assert (report["name"], report["channel"], report["status"]) == (
        "Spring tariffs by phone",
        "phone",
        "running",
    )
    assert report["funnel"] == {
        "audience": 16,
        "planned": 13,
        "authorized": 7,
        "dispatched": 6,
        "responded": 4,
        "converted": 2,
    }
    assert report["legal"] == {
        "blocked": 3,
        "blocked_by_reason": {"no_consent": 2, "objection": 1},
        "deferred": 1,
        "deferred_by_reason": {"outside_calling_hours": 1},
        "cancelled": 1,
        "pending": 2,
    }
    # c-11's response is not counted: it was never dispatched
    assert report["rates"] == rates(6, 4, 5, 2, 1)
    assert report["rates"]["response_rate"] == 0.6667
    assert report["channels"] == [{"channel": "phone", **rates(6, 4, 5, 2, 1)}]
    # by UTC day of dispatch: c-09's purchase counts on the day c-09 went out; c-10 went out in
    # the last second of day 2
    assert report["days"] == [
        {"day": "2026-03-02", **rates(4, 3, 4, 1, 1)},
        {"day": "2026-03-03", **rates(2, 1, 1, 1, 0)},
    ]
    # every campaign's outreach dispatched on the days this one did (2 and 3 March)
    assert report["compared"] == {
        "since": "2026-03-02",
        "until": "2026-03-04",
        "channels": [
            {"channel": "email", **rates(4, 1, 1, 0, 1)},
            {"channel": "letter", **rates(5, 1, 1, 0, 0)},
            {"channel": "phone", **rates(6, 4, 5, 2, 1)},
        ],
    }
    first, second = report["waves"]
    assert (first["wave"], first["channel"], second["wave"]) == (1, "phone", 2)
    assert first["rates"] == rates(4, 3, 4, 1, 1)
    assert second["rates"] == rates(2, 1, 1, 1, 0)
    assert {k: first["counts"][k] for k in ("audience", "planned", "authorized", "blocked")} == {
        "audience": 10,
        "planned": 8,
        "authorized": 4,
        "blocked": 2,
    }
    assert second["counts"]["pending"] == 1
    assert second["counts"]["blocked_by_reason"] == {"no_consent": 1}


async def test_the_figures_add_up(api: httpx.AsyncClient) -> None:
    report = (await api.get(f"/v1/campaigns/{PHONE}/report")).json()
    statistics = (await api.get(f"/v1/campaigns/{PHONE}/statistics")).json()
    legal, funnel, total = report["legal"], report["funnel"], report["rates"]

    assert funnel["planned"] == (
        funnel["authorized"] + legal["blocked"] + legal["cancelled"] + legal["pending"]
    )
    assert legal["blocked"] == sum(legal["blocked_by_reason"].values())
    assert legal["deferred"] == sum(legal["deferred_by_reason"].values())
    assert funnel["dispatched"] == total["dispatched"] == statistics["total"]["dispatched"]
    assert funnel["audience"] == statistics["total"]["audience"]
    assert funnel["responded"] == total["responded"]
    assert funnel["converted"] == total["converted"]
    counted = ("dispatched", "responded", "responses", "converted", "opted_out")
    for series in ("days", "channels"):
        for name in counted:
            assert sum(part[name] for part in report[series]) == total[name], (series, name)
    for name in counted:
        assert sum(w["rates"][name] for w in report["waves"]) == total[name], name
    for wave in report["waves"]:
        assert wave["counts"]["dispatched"] == wave["rates"]["dispatched"]
    assert [w["counts"] for w in report["waves"]] == statistics["waves"]


async def test_channels_compare_across_campaigns_by_day_of_dispatch(
    api: httpx.AsyncClient,
) -> None:
    response = await api.get("/v1/reports/channels?since=2026-03-02&until=2026-03-04")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "since": "2026-03-02",
        "until": "2026-03-04",
        "channels": [
            {"channel": "email", **rates(4, 1, 1, 0, 1)},
            {"channel": "letter", **rates(5, 1, 1, 0, 0)},
            {"channel": "phone", **rates(6, 4, 5, 2, 1)},
        ],
    }
    one_day = (await api.get("/v1/reports/channels?since=2026-03-04&until=2026-03-05")).json()
    assert one_day["channels"] == [{"channel": "email", **rates(1, 1, 1, 1, 0)}]
    nothing = (await api.get("/v1/reports/channels?since=2026-01-01&until=2026-02-01")).json()
    assert nothing["channels"] == []
    # the calendar's edges (days outside it are refused naming the parameter, see
    # test_input_hardening::test_a_channel_comparison_outside_the_calendar_is_refused...)
    for edge in ("since=2199-12-30&until=2199-12-31", "since=1900-01-01&until=1900-01-02"):
        at_the_edge = await api.get(f"/v1/reports/channels?{edge}")
        assert at_the_edge.status_code == 200, at_the_edge.text
        assert at_the_edge.json()["channels"] == []


async def test_a_campaign_without_dispatch_has_no_rates(
    pool: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    await feed(
        pool,
        story("quiet", "Nothing went out", Channel.SMS, [Outreach("q-1", "blocked:erased")]),
        offset=1000,
    )
    report = (await api.get("/v1/campaigns/quiet/report")).json()
    assert report["rates"] == rates(0, 0, 0, 0, 0)
    assert report["rates"]["response_rate"] is None
    assert (report["channels"], report["days"], report["compared"]) == ([], [], None)
    assert report["waves"][0]["rates"] == rates(0, 0, 0, 0, 0)
    page = await api.get("/v1/campaigns/quiet/report.html")
    assert page.status_code == 200
    assert "n/a" in page.text


async def test_the_page_is_html_and_asks_for_the_same_token(api: httpx.AsyncClient) -> None:
    page = await api.get(f"/v1/campaigns/{PHONE}/report.html")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<svg" in page.text

    for path in (f"/v1/campaigns/{PHONE}/report", f"/v1/campaigns/{PHONE}/report.html"):
        assert (await api.get(path, headers={"Authorization": ""})).status_code == 401
        other = token("campaigns:write")
        assert (await api.get(path, headers=other)).status_code == 403
    channels = "/v1/reports/channels?since=2026-03-02&until=2026-03-03"
    assert (await api.get(channels, headers={"Authorization": ""})).status_code == 401


@pytest.mark.parametrize(
    "path",
    ["/v1/campaigns/nope/report", "/v1/campaigns/nope/report.html"],
)
async def test_an_unknown_campaign_is_a_404_problem(api: httpx.AsyncClient, path: str) -> None:
    response = await api.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "nope" in response.json()["detail"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("since=2026-03-04&until=2026-03-04", "query.until"),
        ("since=2026-03-04&until=2026-03-01", "query.until"),
        ("since=2025-01-01&until=2026-03-01", "query.until"),
        ("since=yesterday&until=2026-03-01", "query.since"),
        ("since=2026-03-01", "query.until"),
        ("since=0001-01-01&until=9999-12-31", "query.until"),
    ],
)
async def test_a_wrong_period_is_a_422_naming_the_field(
    api: httpx.AsyncClient, query: str, field: str
) -> None:
    response = await api.get(f"/v1/reports/channels?{query}")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in response.json()["errors"]]
