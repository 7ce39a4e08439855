"""CPU seconds that processes spend between two points: what one operation costs each of them,
and so the most the machine's cores could carry, whatever a shared machine's wall clock says."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import psutil

CpuSource = Callable[[], float]
"""CPU seconds (user + system) a process, or a tree of them, has used so far."""

CLIENT = "bench"
"""The name of the load generator's own source: reported, not counted as the platform's work."""


class Times(Protocol):
    """What psutil's cpu_times() gives; children_* are the ended children the process reaped."""

    user: float
    system: float
    children_user: float
    children_system: float


def own_seconds(times: Times) -> float:
    return times.user + times.system


def tree_seconds(root: Times, descendants: Iterable[Times]) -> float:
    """CPU seconds of a process tree: every living member's own and reaped children's time. A
    child that ended counts in its parent's children_* once the parent has waited for it (as
    PostgreSQL's server does for the backend it forks per connection)."""
    members = [root, *descendants]
    return sum(own_seconds(t) + t.children_user + t.children_system for t in members)


def process_cpu(pid: int) -> CpuSource:
    """One process's own CPU seconds (its threads included, its children not); reading it
    raises psutil.NoSuchProcess once the process is gone."""
    process = psutil.Process(pid)
    return lambda: own_seconds(process.cpu_times())


def tree_cpu(pid: int) -> CpuSource:
    """A process's CPU seconds with its descendants', living and ended (`tree_seconds`)."""
    root = psutil.Process(pid)

    def read() -> float:
        descendants = []
        for child in root.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):  # ended since it was listed
                descendants.append(child.cpu_times())
        return tree_seconds(root.cpu_times(), descendants)

    return read


def child_serving(port: int) -> int:
    """The pid of a child of this process whose command line names `port` (`-p 5432`, or an
    address ending in `:5432`): the database server or broker a bench run started. Raises
    LookupError if there is none."""
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            if any(a == str(port) or a.endswith(f":{port}") for a in child.cmdline()):
                return int(child.pid)
    raise LookupError(f"no child process serves port {port}")


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds per source over a stretch; `one_core` names the sources that run on one core
    at a time (a Python process), whose own time bounds the rate as well."""

    seconds: dict[str, float]
    one_core: frozenset[str] = frozenset()


class CpuMeter:
    """CPU seconds each named source used between `start()` and `stop()`."""

    def __init__(self, sources: dict[str, CpuSource], one_core: Iterable[str] = ()) -> None:
        self.sources = sources
        self.one_core = frozenset(one_core)
        self.began: dict[str, float] = {}

    def start(self) -> None:
        self.began = {name: read() for name, read in self.sources.items()}

    def stop(self) -> CpuUse:
        """Each source's CPU seconds since start(); raises RuntimeError if it was not started."""
        if not self.began:
            raise RuntimeError("the meter was not started")
        used = {name: read() - self.began[name] for name, read in self.sources.items()}
        return CpuUse(used, self.one_core)


def cost(use: CpuUse, count: int, what: str, cores: int | None = None) -> tuple[str, float | None]:
    """A detail line on CPU per operation, and the most operations per second `cores` (the
    machine's, by default) could carry with the platform's processes (every source but CLIENT)
    doing nothing else: the lower of the cores over the platform's CPU per operation and one
    core over that of its busiest one-core process. None if nothing was counted."""
    if count <= 0:
        return f"CPU per {what}: no {what} counted", None
    cores = cores or os.cpu_count() or 1
    used = use.seconds
    shares = ", ".join(f"{name} {seconds / count * 1000:.2f} ms" for name, seconds in used.items())
    line = f"CPU per {what} (user+system): {shares}"
    served = sum(seconds for name, seconds in used.items() if name != CLIENT) / count
    if served <= 0:
        return line, None
    ceiling = cores / served
    line += f"; {cores} cores carry at most {ceiling:,.0f} {what}s/s"
    single = {name: used[name] for name in use.one_core if name in used and used[name] > 0}
    if not single:
        return line, ceiling
    busiest = max(single, key=lambda name: single[name])
    alone = count / single[busiest]
    line += f", {busiest} on its one core {alone:,.0f}/s"
    return line, min(ceiling, alone)
