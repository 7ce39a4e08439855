"""The benchmark table: each figure with the ceiling measured in the same run, and its goal."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

README_START = "<!-- bench:start -->"
README_END = "<!-- bench:end -->"


def load_average() -> float:
    """The machine's 1-minute load average (other processes share its cores)."""
    return round(os.getloadavg()[0], 2)


@dataclass
class Figure:
    """One row: a measured value, the ceiling it is compared with, and the goal."""

    key: str
    name: str
    goal: str
    unit: str = ""
    value: float | None = None
    ceiling: float | None = None
    ceiling_name: str = ""
    higher_is_better: bool = True
    detail: str = ""
    not_measured: str | None = None
    load: float = field(default_factory=load_average)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """value / ceiling; a share of the ceiling for rates, a multiple of it for latencies."""
        if self.value is None or not self.ceiling:
            return None
        return self.value / self.ceiling

    @property
    def produced(self) -> bool:
        return self.value is not None or self.not_measured is not None

    def row(self) -> list[str]:
        if self.not_measured is not None:
            return [self.name, "not measured", self.not_measured, "", self.goal, ""]
        ratio = self.ratio
        shown = (
            "" if ratio is None else (f"{ratio:.0%}" if self.higher_is_better else f"{ratio:.1f}x")
        )
        ceiling = (
            ""
            if self.ceiling is None
            else f"{number(self.ceiling)} {self.unit} ({self.ceiling_name})"
        )
        return [
            self.name,
            f"{number(self.value)} {self.unit}",
            ceiling,
            shown,
            self.goal,
            f"{self.load:.1f}",
        ]


HEADERS = ["figure", "value", "ceiling (same run)", "ratio", "goal", "load"]


def number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def markdown(figures: list[Figure]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for figure in figures:
        cells = [c.replace("|", "/") for c in figure.row()]
        lines.append("| " + " | ".join(cells) + " |")
    details = [f"- {f.name}: {f.detail}" for f in figures if f.detail]
    return "\n".join(lines + (["", *details] if details else []))


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": sys.version.split()[0],
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def machine_line(info: dict[str, Any]) -> str:
    load = ", ".join(f"{x:.1f}" for x in info["load_average"])
    return (
        f"{info['cpus']} CPUs, {info['platform']}, Python {info['python']};"
        f" load average at the end {load}"
    )


def write_results(figures: list[Figure], folder: Path, mode: str, started: float) -> Path:
    """The run as JSON in `folder/<date>.json` (a smoke run: `<date>-smoke.json`)."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    path = folder / (f"{stamp}.json" if mode == "full" else f"{stamp}-{mode}.json")
    document = {
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - started, 1),
        "mode": mode,
        "machine": machine(),
        "figures": [asdict(f) | {"ratio": f.ratio} for f in figures],
    }
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return path


def update_readme(readme: Path, figures: list[Figure], info: dict[str, Any]) -> None:
    """Put the table between the README's bench markers."""
    text = readme.read_text()
    start, end = text.index(README_START), text.index(README_END)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    body = f"\nMeasured {stamp} on {machine_line(info)}.\n\n{markdown(figures)}\n"
    readme.write_text(text[: start + len(README_START)] + body + text[end:])


class Progress:
    """Progress lines on stderr: step, elapsed time, load average, what is running."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.step = 0
        self.began = time.monotonic()

    def next(self, what: str) -> None:
        self.step += 1
        self.say(what)

    def say(self, what: str) -> None:
        elapsed = time.monotonic() - self.began
        print(
            f"[{self.step}/{self.steps} {elapsed:6.1f} s, load {load_average():.1f}] {what}",
            file=sys.stderr,
            flush=True,
        )
