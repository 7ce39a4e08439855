"""The campaign report page in a real browser: headless Chromium (the operating system's package,
installed by `make browser`) driven by Playwright opens the page the campaigns API serves over
HTTP for a campaign written through the worker's projections, and the charts render with a bar,
a label and a value for each figure of the JSON.

`DIALOG_REPORT_SCREENSHOT=docs/images/campaign-report.png` saves a screenshot of the page.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from playwright.async_api import Browser, Page, async_playwright

from campaigns.bootstrap import DEFINITION
from dialog_schemas.common import Channel
from dialogkit.config import ServiceSettings
from dialogkit.http import ApiRuntime, Probe, create_api
from dialogkit.publishing import FakePublisher
from tests.campaign_outcomes import (
    PHONE,
    PHONE_AUDIENCES,
    PHONE_OUTREACH,
    feed,
    others,
    plan_waves,
    story,
)
from tests.support import AUTH

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = os.environ.get("DIALOG_REPORT_SCREENSHOT")


@pytest.fixture(scope="module")
def chromium() -> str:
    """The operating system's Chromium; Playwright never downloads a browser here."""
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: `make browser` installs it (apt-get)")
    return str(CHROMIUM)


@pytest.fixture(scope="module")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    """One headless Chromium for the module."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def served(new_database, pool_for) -> AsyncIterator[str]:
    """The campaigns API over HTTP on 127.0.0.1, on a database holding three campaigns."""
    pool: asyncpg.Pool = await pool_for(await new_database("campaigns"))
    phone = story(PHONE, "Spring tariffs by phone", Channel.PHONE, PHONE_OUTREACH)
    await feed(pool, [*phone, *others()])
    await plan_waves(pool, PHONE, PHONE_AUDIENCES)

    @asynccontextmanager
    async def on_test_database(
        service: str, settings: ServiceSettings
    ) -> AsyncIterator[tuple[ApiRuntime, dict[str, Probe]]]:
        yield ApiRuntime(service, settings, pool, FakePublisher()), {}

    app = create_api(
        DEFINITION.name, DEFINITION.settings(), DEFINITION.routers, runtime_factory=on_test_database
    )
    # listening before the server starts: a request waits in the backlog until it serves
    listening = socket.create_server(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    serving = asyncio.create_task(server.serve(sockets=[listening]))
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await serving
    listening.close()


async def opened(browser: Browser, url: str) -> Page:
    context = await browser.new_context(
        extra_http_headers=AUTH, viewport={"width": 1500, "height": 900}
    )
    page = await context.new_page()
    response = await page.goto(url)
    assert response is not None
    assert response.status == 200, await response.text()
    return page


async def texts(page: Page, selector: str) -> list[str]:
    return [t.strip() for t in await page.locator(selector).all_text_contents()]


async def test_the_report_page_draws_a_bar_and_label_for_each_figure(
    browser: Browser, served: str
) -> None:
    async with httpx.AsyncClient(base_url=served, headers=AUTH) as client:
        report: dict[str, Any] = (await client.get(f"/v1/campaigns/{PHONE}/report")).json()
    page = await opened(browser, f"{served}/v1/campaigns/{PHONE}/report.html")

    assert await page.title() == "Campaign report: Spring tariffs by phone"
    compared = report["compared"]["channels"]
    expected = {
        "funnel": (list(report["funnel"]), [str(v) for v in report["funnel"].values()]),
        "blocked": (
            list(report["legal"]["blocked_by_reason"]),
            [str(v) for v in report["legal"]["blocked_by_reason"].values()],
        ),
        "deferred": (
            list(report["legal"]["deferred_by_reason"]),
            [str(v) for v in report["legal"]["deferred_by_reason"].values()],
        ),
        "channels": (["phone"], ["66.67 %"]),
        "compared": ([c["channel"] for c in compared], ["25.00 %", "20.00 %", "66.67 %"]),
        "days": ([d["day"] for d in report["days"]], ["75.00 %", "50.00 %"]),
    }
    assert expected["funnel"][1] == ["16", "13", "7", "6", "4", "2"]
    assert expected["blocked"] == (["no_consent", "objection"], ["2", "1"])
    assert expected["compared"][0] == ["email", "letter", "phone"]
    assert await page.locator("svg.chart").count() == len(expected)
    for name, (labels, values) in expected.items():
        chart = f"svg#chart-{name}"
        assert await page.locator(f"{chart} rect.bar").count() == len(labels), name
        assert await texts(page, f"{chart} text.label") == labels, name
        assert await texts(page, f"{chart} text.value") == values, name
        assert await page.locator(f"{chart} text.axis-label").count() == 2, name
        assert await page.locator(f"{chart} > title").text_content(), name

    # drawn, not only in the document: the largest figure draws the longest bar on screen
    boxes = [await bar.bounding_box() for bar in await page.locator("#chart-funnel rect").all()]
    widths = [box["width"] for box in boxes if box]
    assert len(widths) == 6
    assert widths[0] == max(widths) > widths[-1] > 0

    if SCREENSHOT:
        await page.screenshot(path=SCREENSHOT, full_page=True)


async def test_the_page_needs_the_token_in_the_browser_too(browser: Browser, served: str) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    response = await page.goto(f"{served}/v1/campaigns/{PHONE}/report.html")
    assert response is not None
    assert response.status == 401
    await context.close()
