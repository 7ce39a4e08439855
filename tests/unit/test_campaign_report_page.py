"""The campaign report page against its JSON: every figure on the page is the JSON's, and the
charts have a bar and a label for each of them. Rates summed without I/O."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from html.parser import HTMLParser
from typing import Any

import pytest

from campaigns.rates import ChannelComparison, Rates, rate, summed
from campaigns.report import FUNNEL, Funnel, Legal, Report, WaveReport
from campaigns.report_page import AREA, render
from campaigns.reports import Counts


def rates(dispatched: int, responded: int, converted: int, opted_out: int) -> dict[str, Any]:
    row = {
        "dispatched": dispatched,
        "responded": responded,
        "responses": responded + converted,
        "converted": converted,
        "opted_out": opted_out,
    }
    return summed([row])


def counts(wave: int, audience: int, planned: int, dispatched: int, **reasons: int) -> Counts:
    blocked = {r: n for r, n in reasons.items() if r != "frequency_cap"}
    deferred = {r: n for r, n in reasons.items() if r == "frequency_cap"}
    return Counts(
        wave=wave,
        channel="letter",
        audience=audience,
        planned=planned,
        authorized=dispatched + 1,
        blocked=sum(blocked.values()),
        blocked_by_reason=blocked,
        cancelled=0,
        pending=planned - dispatched - 1 - sum(blocked.values()),
        deferred=sum(deferred.values()),
        deferred_by_reason=deferred,
        dispatched=dispatched,
    )


REPORT = Report(
    campaign_id="autumn-letters",
    name="Autumn letters",
    channel="letter",
    status="running",
    funnel=Funnel(
        audience=1200, planned=1100, authorized=903, dispatched=900, responded=57, converted=11
    ),
    legal=Legal(
        blocked=180,
        blocked_by_reason={"no_consent": 120, "objection": 40, "suppressed": 20},
        deferred=7,
        deferred_by_reason={"frequency_cap": 7},
        cancelled=2,
        pending=15,
    ),
    rates=Rates(**rates(900, 57, 11, 3)),
    channels=[
        {"channel": "email", **rates(300, 12, 2, 3)},
        {"channel": "letter", **rates(400, 15, 4, 0)},
        {"channel": "phone", **rates(200, 30, 5, 0)},
    ],
    days=[
        {"day": date(2026, 10, 1), **rates(500, 40, 8, 2)},
        {"day": date(2026, 10, 2), **rates(390, 17, 3, 1)},
        {"day": date(2026, 10, 5), **rates(10, 0, 0, 0)},
    ],
    waves=[
        WaveReport(
            wave=1,
            channel="letter",
            counts=counts(1, 1000, 950, 900, no_consent=30, frequency_cap=7),
            rates=Rates(**rates(900, 57, 11, 3)),
        ),
        WaveReport(
            wave=2,
            channel="letter",
            counts=counts(2, 200, 150, 0, objection=40),
            rates=Rates(**rates(0, 0, 0, 0)),
        ),
    ],
    compared=ChannelComparison(
        since=date(2026, 10, 1),
        until=date(2026, 10, 6),
        channels=[
            {"channel": "email", **rates(3000, 90, 20, 30)},
            {"channel": "letter", **rates(4000, 150, 40, 0)},
            {"channel": "phone", **rates(2000, 300, 50, 0)},
            {"channel": "sms", **rates(1000, 20, 1, 10)},
        ],
    ),
)
REPEATED = {"counts.wave", "counts.channel", "counts.dispatched"}
"""A wave's own number and channel, and its dispatched count (the same as its rates')."""


class Page(HTMLParser):
    """The page's figures (data-figure path and text), its SVG charts' bars and labels, and the
    text outside any figure."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.figures: list[tuple[str, str]] = []
        self.loose: list[str] = []
        self.charts: dict[str, dict[str, list[str]]] = {}
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "svg":
            self.chart = str(found["id"])
            self.charts[self.chart] = {"bars": [], "labels": [], "values": []}
        if tag == "rect" and found.get("class") == "bar":
            self.charts[self.chart]["bars"].append(str(found["width"]))
        if tag not in ("rect", "line", "meta"):
            self.stack.append((tag, found))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("rect", "line", "meta"):
            return
        assert self.stack.pop()[0] == tag, f"unbalanced </{tag}>"

    def handle_data(self, data: str) -> None:
        text = data.strip()
        if not text or any(tag in ("style", "head") for tag, _ in self.stack):
            return
        tag, attrs = self.stack[-1]
        kind = attrs.get("class")
        if tag == "text" and kind in ("label", "value"):
            self.charts[self.chart][f"{kind}s"].append(text)
        if "data-figure" in attrs:
            self.figures.append((str(attrs["data-figure"]), text))
        else:
            self.loose.append(text)


def leaves(data: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from leaves(value, f"{path}{key}.")
    elif isinstance(data, list):
        for n, value in enumerate(data):
            yield from leaves(value, f"{path}{n}.")
    else:
        yield path[:-1], data


def read(text: str) -> Any:
    """A figure as printed, read back: `n/a`, `12.34 %` (a fraction of four decimals), a count,
    or a word."""
    if text == "n/a":
        return None
    if text.endswith(" %"):
        return round(float(text.removesuffix(" %")) / 100, 4)
    return int(text) if text.isdigit() else text


@pytest.fixture(scope="module")
def page() -> Page:
    return Page(render(REPORT))


def test_every_figure_on_the_page_is_the_jsons(page: Page) -> None:
    expected = dict(leaves(REPORT.model_dump(mode="json")))
    for path, text in page.figures:
        assert path in expected, f"{path} is not in the JSON"
        assert read(text) == expected[path], f"{path}: page {text!r}, JSON {expected[path]!r}"


def test_every_figure_of_the_json_is_on_the_page(page: Page) -> None:
    shown = {path for path, _ in page.figures}
    expected = dict(leaves(REPORT.model_dump(mode="json")))
    missing = [p for p in expected if p not in shown and p.split(".", 2)[-1] not in REPEATED]
    assert missing == []


def test_no_number_is_printed_outside_a_figure(page: Page) -> None:
    assert [t for t in page.loose if any(c.isdigit() for c in t)] == []


def test_the_rates_print_as_percentages_and_a_missing_one_as_na(page: Page) -> None:
    figures = dict(page.figures)
    assert REPORT.rates.response_rate == 0.0633
    assert figures["rates.response_rate"] == "6.33 %"
    assert figures["waves.1.rates.response_rate"] == "n/a"
    assert figures["days.0.day"] == "2026-10-01"


def test_each_chart_has_a_bar_a_label_and_a_value_per_figure(page: Page) -> None:
    sizes = {
        "chart-funnel": len(FUNNEL),
        "chart-blocked": 3,
        "chart-deferred": 1,
        "chart-channels": 3,
        "chart-compared": 4,
        "chart-days": 3,
    }
    assert {name: len(chart["bars"]) for name, chart in page.charts.items()} == sizes
    assert {name: len(chart["labels"]) for name, chart in page.charts.items()} == sizes
    assert {name: len(chart["values"]) for name, chart in page.charts.items()} == sizes
    assert page.charts["chart-channels"]["labels"] == ["email", "letter", "phone"]
    assert page.charts["chart-channels"]["values"] == ["4.00 %", "3.75 %", "15.00 %"]
    assert page.charts["chart-days"]["labels"] == ["2026-10-01", "2026-10-02", "2026-10-05"]
    assert page.charts["chart-blocked"]["labels"] == ["no_consent", "objection", "suppressed"]


def test_bars_are_as_long_as_their_share_of_the_largest(page: Page) -> None:
    funnel = [float(w) for w in page.charts["chart-funnel"]["bars"]]
    assert funnel[0] == AREA  # the audience is the largest
    assert funnel[3] == round(AREA * 900 / 1200, 1)
    phone = float(page.charts["chart-channels"]["bars"][2])
    assert phone == AREA
    assert float(page.charts["chart-days"]["bars"][2]) == 0


def test_a_chart_without_figures_says_none() -> None:
    quiet = REPORT.model_copy(update={"channels": [], "days": [], "compared": None})
    page = Page(render(quiet))
    assert page.charts["chart-days"]["bars"] == []
    assert page.charts["chart-compared"]["bars"] == []
    assert "none" in page.loose
    assert "Nothing dispatched yet." in page.loose


def test_names_are_escaped() -> None:
    html = render(REPORT.model_copy(update={"name": "<script>alert(1)</script>"}))
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_rates_are_per_outreach_rounded_to_four_decimals() -> None:
    rows = [
        {"dispatched": 2, "responded": 1, "responses": 3, "converted": 1, "opted_out": 0},
        {"dispatched": 1, "responded": 1, "responses": 1, "converted": 0, "opted_out": 1},
    ]
    assert summed(rows) == {
        "dispatched": 3,
        "responded": 2,
        "responses": 4,
        "converted": 1,
        "opted_out": 1,
        "response_rate": 0.6667,
        "conversion_rate": 0.3333,
        "opt_out_rate": 0.3333,
    }
    assert rate(0, 0) is None
    assert summed([])["response_rate"] is None
