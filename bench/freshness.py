"""Freshness (POST accepted → visible in the timeline), where its milliseconds go, POST latency,
and the highest rates at which freshness stays under a second (API and ingress topic)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from bench.cpu import cost
from bench.load import Requests, mean_seconds, open_loop, percentile, scrape
from bench.observers import Tap, Watcher
from bench.stack import Bench
from bench.table import Figure
from dialog_schemas import Envelope
from dialog_schemas.catalog import INTERACTIONS_EVENTS, INTERACTIONS_INGRESS
from dialog_schemas.common import Channel, Direction
from dialog_schemas.interactions import TouchpointReported
from dialogkit.pii import KEY_REQUEST_SECONDS
from dialogkit.publishing import PUBLISH_SECONDS, KafkaPublisher
from dialogkit.worker import BATCH_SECONDS
from interactions.domain import touchpoint_event_id

MS = 1000


@dataclass
class Trip:
    """One touchpoint's way, perf_counter seconds: POST due (open loop), 202, seen by a plain
    consumer, committed in the read model, returned by GET."""

    sent: float
    accepted: float
    tapped: float
    stored: float
    visible: float


class Freshness:
    def __init__(self, bench: Bench, api: str, dsn: str) -> None:
        self.bench = bench
        self.api = api
        self.tap = Tap(bench.bootstrap, INTERACTIONS_EVENTS.name)
        self.watcher = Watcher(dsn)
        self.client = Requests(api)
        self.errors = 0

    async def __aenter__(self) -> Freshness:
        await self.tap.start()
        await self.watcher.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.client.aclose()
        await self.watcher.stop()
        await self.tap.stop()

    async def trip(self, n: int, scheduled: float) -> Trip | None:
        customer = f"fresh-{uuid.uuid4().hex[:10]}"
        body = {
            "customer_id": customer,
            "touchpoint_id": f"tp-{n}",
            "channel": "phone",
            "direction": "inbound",
            "occurred_at": datetime.now(UTC).isoformat(),
            "purpose": "service",
            "summary": "asked about the invoice of last month",
        }
        response = await self.client.post("/v1/touchpoints", json=body)
        accepted = time.perf_counter()
        if response.status_code != 202:
            self.errors += 1
            return None
        entry = UUID(response.json()["event_id"])
        await self.watcher.expect(entry).wait()
        while True:
            page = await self.client.get(f"/v1/customers/{customer}/timeline", params={"limit": 1})
            if page.json()["entries"]:
                break
        visible = time.perf_counter()
        tapped = self.tap.seen.get(str(entry), accepted)
        return Trip(scheduled, accepted, tapped, self.watcher.found[entry], visible)

    async def run(self, rate: float, seconds: float) -> list[Trip]:
        trips: list[Trip] = []
        self.errors = 0

        async def one(n: int, scheduled: float) -> None:
            if (trip := await self.trip(n, scheduled)) is not None:
                trips.append(trip)

        await open_loop(rate, seconds, one)
        return trips


def p50_p99(values: list[float]) -> str:
    return f"{percentile(values, 0.5) * MS:.0f}/{percentile(values, 0.99) * MS:.0f}"


def breakdown(trips: list[Trip], api: dict[str, float], worker: dict[str, float]) -> str:
    """Where the milliseconds went, p50/p99 per segment and the means the processes report."""

    def mean(metrics: dict[str, float], name: str) -> str:
        value = metrics.get(name)
        return "-" if value is None else f"{value * MS:.1f}"

    return (
        f"p50/p99 ms: POST due → 202 {p50_p99([t.accepted - t.sent for t in trips])}"
        f" (mean per POST: data key for sealing {mean(api, 'seal')}, publish with acks=all"
        f" {mean(api, 'publish')}); 202 → a plain consumer (fetch wait 5 ms) has it"
        f" {p50_p99([max(t.tapped - t.accepted, 0) for t in trips])};"
        f" → committed in the read model {p50_p99([max(t.stored - t.tapped, 0) for t in trips])}"
        f" (worker fetch wait ≤ 20 ms, batch idle 5 ms, then per batch mean {mean(worker, 'batch')}"
        f" incl. data key for opening {mean(worker, 'open')} per request);"
        f" → returned by GET {p50_p99([t.visible - t.stored for t in trips])}"
        f" (read-model watcher polls every 2 ms)"
    )


async def means(url: str, before: dict[str, float], names: dict[str, str]) -> dict[str, float]:
    after = await scrape(url)
    found = {}
    for short, prefix in names.items():
        value = mean_seconds(before, after, prefix)
        if value is not None:
            found[short] = value
    return found


async def ingress_trips(bench: Bench, watcher: Watcher, rate: float, seconds: float) -> list[float]:
    """Touchpoints reported on the ingress topic: seconds from the broker's ack to the entry."""
    publisher = KafkaPublisher(bench.bootstrap, client_id="bench-ingress")
    await publisher.start()
    latencies: list[float] = []

    async def one(n: int, scheduled: float) -> None:
        customer, touchpoint = f"ingress-{uuid.uuid4().hex[:10]}", f"call-{n}"
        report = TouchpointReported(
            touchpoint_id=touchpoint,
            channel=Channel.PHONE,
            direction=Direction.INBOUND,
            occurred_at=datetime.now(UTC),
            summary="asked about the invoice of last month",
        )
        envelope = Envelope.wrap(
            report, id=uuid.uuid4(), source="/telephony", subject=customer, time=datetime.now(UTC)
        )
        arrived = watcher.expect(touchpoint_event_id(customer, touchpoint))
        await publisher.publish(INTERACTIONS_INGRESS.name, [envelope])
        acked = time.perf_counter()
        await arrived.wait()
        latencies.append(time.perf_counter() - acked)

    try:
        await open_loop(rate, seconds, one)
    finally:
        await publisher.stop()
    return latencies


Step = Callable[[float], Awaitable[tuple[list[float], int]]]


async def highest_rate(bench: Bench, step: Step) -> tuple[float | None, list[str]]:
    """The highest of the configured rates whose freshness p99 stays under 1 s."""
    best, notes = None, []
    for rate in bench.sizes.rates:
        bench.progress.say(f"  {rate:.0f}/s for {bench.sizes.rate_step_s:.0f} s")
        latencies, errors = await step(rate)  # type: ignore[operator]
        p99 = percentile(latencies, 0.99)
        notes.append(
            f"{rate:.0f}/s p99 {p99 * MS:,.0f} ms" + (f", {errors} errors" if errors else "")
        )
        if p99 >= 1 or errors or not latencies:
            break
        best = rate
    return best, notes


async def request_latencies(
    api: str, rate: float, seconds: float, post: bool
) -> tuple[list[float], int]:
    """Open-loop POSTs of touchpoints (1,000 customers), or GETs of /healthz: latencies, errors."""
    latencies: list[float] = []
    errors = 0
    async with Requests(api) as client:

        async def one(n: int, scheduled: float) -> None:
            nonlocal errors
            if post:
                body = {
                    "customer_id": f"known-{n % 1000}",
                    "touchpoint_id": f"post-{uuid.uuid4().hex[:12]}",
                    "channel": "email",
                    "direction": "outbound",
                    "occurred_at": datetime.now(UTC).isoformat(),
                    "purpose": "service",
                }
                response = await client.post("/v1/touchpoints", json=body)
            else:
                response = await client.get("/healthz")
            latencies.append(time.perf_counter() - scheduled)
            errors += response.status_code >= 300

        await open_loop(rate, seconds, one)
    return latencies, errors


async def measure(bench: Bench) -> list[Figure]:
    sizes = bench.sizes
    await bench.key_service()
    dsn = await bench.database("interactions")
    worker_child, worker = await bench.start("interactions", "worker", dsn)
    api_child, api = await bench.start("interactions", "api", dsn)
    meter = bench.meter({"interactions API": api_child, "worker": worker_child})
    api_names = {"seal": f"{KEY_REQUEST_SECONDS}", "publish": PUBLISH_SECONDS}
    worker_names = {"batch": BATCH_SECONDS, "open": KEY_REQUEST_SECONDS}
    async with Freshness(bench, api, dsn) as probe:
        await probe.run(10, 1)  # warm-up: connections, caches, the first batch
        api_before, worker_before = await scrape(api), await scrape(worker)
        rate, seconds = sizes.freshness_rate, sizes.freshness_s
        bench.progress.say(f"freshness at {rate:.0f} touchpoints/s for {seconds:.0f} s")
        meter.start()
        trips = await probe.run(rate, seconds)
        trips_cpu, _ = cost(meter.stop(), len(trips) + probe.errors, "touchpoint")
        api_means = await means(api, api_before, api_names)
        worker_means = await means(worker, worker_before, worker_names)
        bench.progress.say("highest rate with freshness p99 < 1 s, via the API")

        async def api_step(step_rate: float) -> tuple[list[float], int]:
            found = await probe.run(step_rate, sizes.rate_step_s)
            return [t.visible - t.accepted for t in found], probe.errors

        best_api, api_notes = await highest_rate(bench, api_step)
        bench.progress.say("highest rate with freshness p99 < 1 s, via the ingress topic")

        async def ingress_step(step_rate: float) -> tuple[list[float], int]:
            return await ingress_trips(bench, probe.watcher, step_rate, sizes.rate_step_s), 0

        best_ingress, ingress_notes = await highest_rate(bench, ingress_step)
    bench.progress.say(f"POST latency at {sizes.post_rate:.0f}/s, and /healthz as its ceiling")
    meter.start()
    posts, post_errors = await request_latencies(api, sizes.post_rate, sizes.post_s, post=True)
    posts_cpu, _ = cost(meter.stop(), len(posts), "POST")
    meter.start()
    health, _ = await request_latencies(api, sizes.post_rate, sizes.post_s, post=False)
    health_cpu, _ = cost(meter.stop(), len(health), "request")
    freshness = [t.visible - t.accepted for t in trips]
    tapped = [max(t.tapped - t.accepted, 0) for t in trips]
    return [
        Figure(
            "freshness",
            f"freshness p99, POST accepted → visible in GET timeline, {rate:.0f} touchpoints/s",
            "p99 < 100 ms",
            unit="ms",
            value=percentile(freshness, 0.99) * MS,
            ceiling=percentile(tapped, 0.99) * MS,
            ceiling_name="p99 until a plain consumer has the event",
            higher_is_better=False,
            detail=f"{len(trips)} touchpoints, {probe.errors} errors; "
            + breakdown(trips, api_means, worker_means)
            + f"; {trips_cpu} (a touchpoint: its POST and the GETs until it shows)",
            extra={"p50_ms": percentile(freshness, 0.5) * MS},
        ),
        Figure(
            "highest_rate_api",
            "highest rate with freshness p99 < 1 s, via the API",
            "report",
            unit="touchpoints/s",
            value=best_api,
            detail="; ".join(api_notes),
            not_measured=None if best_api else f"none of the rates passed: {api_notes}",
        ),
        Figure(
            "highest_rate_ingress",
            "highest rate with freshness p99 < 1 s, via the ingress topic",
            "≥ 1,000/s",
            unit="touchpoints/s",
            value=best_ingress,
            detail="; ".join(ingress_notes) + " (broker ack → committed in the read model)",
            not_measured=None if best_ingress else f"none of the rates passed: {ingress_notes}",
        ),
        Figure(
            "post_latency",
            f"touchpoint POST p99, one API process, {sizes.post_rate:.0f}/s",
            "p99 < 50 ms at 500/s",
            unit="ms",
            value=percentile(posts, 0.99) * MS,
            ceiling=percentile(health, 0.99) * MS,
            ceiling_name="GET /healthz p99, same rate",
            higher_is_better=False,
            detail=f"p50 {percentile(posts, 0.5) * MS:.1f} ms, {post_errors} errors;"
            f" each POST asks the contacts API for the customer's data key; {posts_cpu};"
            f" GET /healthz at the same rate: {health_cpu}",
        ),
    ]
