"""Process-local counters and timings, exposed in Prometheus text format."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from threading import Lock

Key = tuple[str, tuple[tuple[str, str], ...]]
_counts: Counter[Key] = Counter()
_seconds: dict[Key, float] = {}
_observed: Counter[Key] = Counter()
_lock = Lock()


def increment(name: str, amount: int = 1, **labels: str) -> None:
    with _lock:
        _counts[(name, tuple(sorted(labels.items())))] += amount


def value(name: str, **labels: str) -> int:
    with _lock:
        return _counts[(name, tuple(sorted(labels.items())))]


def totals(name: str, by: str) -> dict[str, int]:
    """A counter summed over its other labels, by the value of label `by`."""
    sums: Counter[str] = Counter()
    with _lock:
        for (counter, labels), count in _counts.items():
            value_of = dict(labels).get(by)
            if counter == name and value_of is not None:
                sums[value_of] += count
    return dict(sums)


def observe(name: str, seconds: float, **labels: str) -> None:
    """Add one duration to a summary (`<name>_sum` seconds and `<name>_count`)."""
    key = (name, tuple(sorted(labels.items())))
    with _lock:
        _seconds[key] = _seconds.get(key, 0.0) + seconds
        _observed[key] += 1


@contextmanager
def timed(name: str, **labels: str) -> Iterator[None]:
    """Observe how long the block took, also when it raised."""
    began = time.perf_counter()
    try:
        yield
    finally:
        observe(name, time.perf_counter() - began, **labels)


def exposition() -> str:
    """All counters and summaries in Prometheus text format."""
    lines = []
    with _lock:
        for (name, labels), count in sorted(_counts.items()):
            lines.append(f"{name}{{{_rendered(labels)}}} {count}")
        for (name, labels), seconds in sorted(_seconds.items()):
            lines.append(f"{name}_sum{{{_rendered(labels)}}} {seconds:.6f}")
            lines.append(f"{name}_count{{{_rendered(labels)}}} {_observed[(name, labels)]}")
    return "\n".join(lines) + "\n"


def _rendered(labels: tuple[tuple[str, str], ...]) -> str:
    return ",".join(f'{k}="{v}"' for k, v in labels)
