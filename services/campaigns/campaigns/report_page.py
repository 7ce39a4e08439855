"""The campaign report as a page: the report model's figures in tables and inline SVG bar charts.

Rendered on the server with Jinja2 from the same `Report` the JSON answer is; no script runs in
the page. Every figure is printed in an element whose `data-figure` names its place in the JSON
(`funnel.audience`, `days.0.response_rate`), so a test can hold each one against the JSON.
Counts print as integers, rates as percentages with two decimals (the JSON's four-decimal
fraction exactly), a missing rate (nothing dispatched) as `n/a`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from campaigns.report import FUNNEL, Report

WIDTH, LABELS, AREA, ROW, TOP, BOTTOM = 540, 150, 300, 26, 34, 44
NOT_AVAILABLE = "n/a"


@dataclass(frozen=True)
class Bar:
    label: str
    label_figure: str | None
    """The JSON path of the label when it is a figure itself (a day, a channel)."""
    figure: str
    text: str
    y: int
    width: float


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    x_label: str
    y_label: str
    bars: list[Bar]

    @property
    def height(self) -> int:
        return TOP + max(len(self.bars), 1) * ROW + BOTTOM

    @property
    def top(self) -> int:
        return TOP

    @property
    def axis_y(self) -> int:
        return TOP + max(len(self.bars), 1) * ROW


def resolve(data: Any, path: str) -> Any:
    """The value at a dotted path of the report's JSON (`channels.0.channel`)."""
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def show(value: Any, path: str) -> str:
    """A figure as the page prints it."""
    if value is None:
        return NOT_AVAILABLE
    if path.endswith("_rate"):
        return f"{value * 100:.2f} %"
    return str(value)


def chart(
    data: dict[str, Any],
    id: str,
    title: str,
    axes: tuple[str, str],
    rows: list[tuple[str, str | None, str]],
) -> Chart:
    """A horizontal bar chart of `rows` (label, label's JSON path or None, value's JSON path),
    bars scaled to the largest value; a missing rate draws no bar."""
    values = [resolve(data, path) or 0 for _, _, path in rows]
    top = max(values, default=0) or 1
    bars = [
        Bar(
            label=str(resolve(data, label_path)) if label_path else label,
            label_figure=label_path,
            figure=path,
            text=show(resolve(data, path), path),
            y=TOP + n * ROW,
            width=round(AREA * value / top, 1),
        )
        for n, ((label, label_path, path), value) in enumerate(zip(rows, values, strict=True))
    ]
    return Chart(id, title, axes[0], axes[1], bars)


def charts(data: dict[str, Any]) -> list[Chart]:
    """The page's charts: funnel, blocked and deferred by reason, response rate per channel (of
    the campaign, and of every campaign on the same days) and per day."""
    legal, compared = data["legal"], data["compared"]
    rate_axis = "response rate (% of dispatched outreach)"
    return [
        chart(
            data,
            "funnel",
            "Funnel",
            ("outreach (count)", "stage"),
            [(stage, None, f"funnel.{stage}") for stage in FUNNEL],
        ),
        chart(
            data,
            "blocked",
            "Blocked by reason",
            ("outreach (count)", "reason"),
            [(r, None, f"legal.blocked_by_reason.{r}") for r in legal["blocked_by_reason"]],
        ),
        chart(
            data,
            "deferred",
            "Deferred by reason",
            ("outreach (count)", "reason"),
            [(r, None, f"legal.deferred_by_reason.{r}") for r in legal["deferred_by_reason"]],
        ),
        chart(
            data,
            "channels",
            "Response rate per channel",
            (rate_axis, "channel"),
            [
                ("", f"channels.{n}.channel", f"channels.{n}.response_rate")
                for n in range(len(data["channels"]))
            ],
        ),
        chart(
            data,
            "compared",
            "Response rate per channel, all campaigns, same days",
            (rate_axis, "channel"),
            [
                ("", f"compared.channels.{n}.channel", f"compared.channels.{n}.response_rate")
                for n in range(len(compared["channels"]) if compared else 0)
            ],
        ),
        chart(
            data,
            "days",
            "Response rate per day of dispatch (UTC)",
            (rate_axis, "day"),
            [("", f"days.{n}.day", f"days.{n}.response_rate") for n in range(len(data["days"]))],
        ),
    ]


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("campaigns", "templates"),
        autoescape=select_autoescape(["html", "svg"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(report: Report) -> str:
    """The report as a self-contained HTML page (inline CSS and SVG, no script)."""
    data = report.model_dump(mode="json")

    def figure(path: str) -> str:
        return show(resolve(data, path), path)

    return (
        _environment()
        .get_template("report.html")
        .render(
            report=data,
            figure=figure,
            charts=charts(data),
            layout={"width": WIDTH, "labels": LABELS, "area": AREA, "row": ROW},
        )
    )
