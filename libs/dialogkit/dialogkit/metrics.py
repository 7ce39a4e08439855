"""The process's metrics on `prometheus_client`, exposed in Prometheus text format.

Counters and summaries named by callers (`increment`, `observe`, `timed`) are made on first use
with the label names of that first use; the fixed metrics of the platform (requests, events,
lag) are declared here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from threading import Lock

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    Summary,
    generate_latest,
)

CONTENT_TYPE = CONTENT_TYPE_LATEST
MEDIA_TYPE = CONTENT_TYPE.split(";charset")[0].split("; charset")[0]
"""The content type without its charset (aiohttp, under faust's pages, adds that itself)."""
_counters: dict[str, Counter] = {}
_summaries: dict[str, Summary] = {}
_newest: dict[str, float] = {}
_lock = Lock()

HTTP_REQUESTS = Counter(
    "dialog_http_requests_total",
    "HTTP requests answered, by route template and status.",
    ["service", "method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "dialog_http_request_duration_seconds",
    "Time from request to response, by route template and status.",
    ["service", "method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_CONSUMED = Counter(
    "dialog_events_consumed_total", "Records a worker took from a topic.", ["consumer", "topic"]
)
EVENTS_PRODUCED = Counter(
    "dialog_events_produced_total", "Records the broker confirmed, per topic.", ["topic"]
)
PROJECTION_LAG = Gauge(
    "dialog_projection_lag_records",
    "Log end offset minus the position stored with the read model (refreshed on scrape).",
    ["projection", "topic", "partition"],
)
PROJECTION_LAST_EVENT = Gauge(
    "dialog_projection_last_event_timestamp_seconds",
    "Time (`time` of the envelope) of the newest event a projection applied.",
    ["projection"],
)
PROJECTION_FRESHNESS = Gauge(
    "dialog_projection_freshness_seconds",
    "Age of the newest event a projection applied: now minus its envelope `time`.",
    ["projection"],
)
SERVICE_CALLS = Histogram(
    "dialog_service_call_duration_seconds",
    "Calls to another service (e.g. the contacts key service), by target, operation, outcome.",
    ["target", "operation", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


def _counter(name: str, labels: tuple[str, ...]) -> Counter:
    with _lock:
        counter = _counters.get(name)
        if counter is None:
            counter = Counter(name, name.removeprefix("dialog_").replace("_", " "), labels)
            _counters[name] = counter
        return counter


# counters that pages show from the start, before anything was counted
for _name, _labels in (
    ("dialog_dead_letters_total", ("consumer", "reason", "topic")),
    ("dialog_projection_dead_letters_total", ("projection", "reason")),
):
    _counter(_name, _labels)


def increment(name: str, amount: int = 1, **labels: str) -> None:
    """Add `amount` to the counter `name` (ending in `_total`) for these labels."""
    counter = _counter(name, tuple(sorted(labels)))
    (counter.labels(**labels) if labels else counter).inc(amount)


def value(name: str, **labels: str) -> int:
    """The counter's current value for these labels (0 if never counted)."""
    return int(REGISTRY.get_sample_value(name, labels) or 0)


def totals(name: str, by: str) -> dict[str, int]:
    """A counter summed over its other labels, by the value of label `by`."""
    sums: dict[str, int] = {}
    counter = _counters.get(name)
    if counter is None:
        return sums
    for metric in counter.collect():
        for sample in metric.samples:
            if sample.name == name and by in sample.labels:
                key = sample.labels[by]
                sums[key] = sums.get(key, 0) + int(sample.value)
    return sums


def observe(name: str, seconds: float, **labels: str) -> None:
    """Add one duration to the summary `name` (`<name>_sum` seconds and `<name>_count`)."""
    with _lock:
        summary = _summaries.get(name)
        if summary is None:
            documentation = name.removeprefix("dialog_").replace("_", " ")
            summary = Summary(name, documentation, tuple(sorted(labels)))
            _summaries[name] = summary
    (summary.labels(**labels) if labels else summary).observe(seconds)


@contextmanager
def timed(name: str, **labels: str) -> Iterator[None]:
    """Observe how long the block took, also when it raised."""
    began = time.perf_counter()
    try:
        yield
    finally:
        observe(name, time.perf_counter() - began, **labels)


def applied_event(projection: str, event_time: float) -> None:
    """Record that `projection` applied an event of this time (seconds since the epoch)."""
    with _lock:
        if event_time <= _newest.get(projection, 0.0):
            return
        _newest[projection] = event_time
    PROJECTION_LAST_EVENT.labels(projection=projection).set(event_time)


def _refresh_freshness() -> None:
    now = time.time()
    with _lock:
        newest = dict(_newest)
    for projection, event_time in newest.items():
        PROJECTION_FRESHNESS.labels(projection=projection).set(max(0.0, now - event_time))


def exposition() -> str:
    """Every metric of the process in Prometheus text format."""
    _refresh_freshness()
    return generate_latest(REGISTRY).decode()
