"""Process-local counters, exposed in Prometheus text format."""

from __future__ import annotations

from collections import Counter
from threading import Lock

_counts: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()
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


def exposition() -> str:
    """All counters in Prometheus text format."""
    lines = []
    with _lock:
        for (name, labels), count in sorted(_counts.items()):
            rendered = ",".join(f'{k}="{v}"' for k, v in labels)
            lines.append(f"{name}{{{rendered}}} {count}")
    return "\n".join(lines) + "\n"
