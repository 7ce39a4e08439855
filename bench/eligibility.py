"""Eligibility: latency of one consent API process under a steady rate, and its cost against
the length of a customer's history."""

from __future__ import annotations

import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from bench.cpu import cost
from bench.load import Requests, open_loop, percentile
from bench.stack import Bench
from bench.table import Figure
from consent.domain import ConfirmConsent, GrantConsent, RecordUse, confirm, grant, record_use
from consent.projections import ConsentStateProjection
from consentledger.decisions import Question, decide
from consentledger.domain import state_as_of
from dialog_schemas import Envelope, Event
from dialog_schemas.catalog import CONSENT_EVENTS
from dialog_schemas.common import Channel, Purpose
from dialog_schemas.consent import CaptureMedium, Evidence
from dialogkit.codec import encode
from dialogkit.deadletters import DeadLetters
from dialogkit.projection import ProjectionRunner
from dialogkit.publishing import FakePublisher
from dialogkit.records import SourceRecord

T0 = datetime.now(UTC) - timedelta(days=200)
EXPIRY = timedelta(days=730)
"""The consent service's default expiry period, which its API and worker run with here."""


def history(customer: str, uses: int = 10) -> list[Event]:
    """A confirmed email consent, a phone consent and `uses` uses; (uses < 0: one grant only)."""
    evidence = Evidence(
        medium=CaptureMedium.WEB_FORM,
        wording_version="v1",
        wording_sha256="aa" * 32,
        captured_at=T0,
        source_ref="form",
        actor="bench",
    )
    email, phone = uuid.uuid4(), uuid.uuid4()
    command = GrantConsent(
        channel=Channel.EMAIL,
        purpose=Purpose.MARKETING,
        evidence=evidence,
        contact_point=f"{customer}@example.org",
    )
    token = f"doi-token-{email}"
    events: list[Event] = list(
        grant(state_as_of([]), command, consent_id=email, now=T0, issued_token=token)
    )
    if uses < 0:
        return events
    events += confirm(
        state_as_of(events),
        email,
        ConfirmConsent(source_ref=token),
        now=T0,
        expiry=EXPIRY,
        confirm_within=timedelta(days=30),
    )
    phone_grant = GrantConsent(channel=Channel.PHONE, purpose=Purpose.SURVEYS, evidence=evidence)
    events += grant(state_as_of(events), phone_grant, consent_id=phone, now=T0)
    state = state_as_of(events)  # uses do not change what later uses are checked against
    for n in range(uses):
        use = RecordUse(reference=f"o-{n}", purpose=Purpose.MARKETING)
        events += record_use(state, email, use, now=T0 + timedelta(minutes=n), expiry=EXPIRY)
    return events


async def seed(dsn: str, histories: dict[str, list[Event]]) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    await pool.executemany(
        "INSERT INTO customer_facts (customer_id, kind, registered_at) VALUES ($1, 'consumer', $2)",
        [(customer, T0) for customer in histories],
    )
    records = [
        SourceRecord(
            CONSENT_EVENTS.name,
            0,
            n,
            b"k",
            encode(Envelope.wrap(event, id=uuid.uuid4(), source="/b", subject=customer, time=T0)),
        )
        for n, (customer, event) in enumerate(
            (c, e) for c, events in histories.items() for e in events
        )
    ]
    projection = ConsentStateProjection(FakePublisher(), EXPIRY)
    runner = ProjectionRunner(pool, projection, DeadLetters(FakePublisher(), "dl", "b"))
    for start in range(0, len(records), 2000):
        await runner.handle(records[start : start + 2000])
    await pool.close()


async def latencies(
    client: Requests, customers: list[str], rate: float, seconds: float
) -> tuple[list[float], int]:
    """Open-loop eligibility questions about random customers: latencies and errors."""
    found: list[float] = []
    errors = 0
    channels = list(Channel)
    purposes = [Purpose.MARKETING, Purpose.SURVEYS, Purpose.CROSS_SELL]

    async def one(_: int, scheduled: float) -> None:
        nonlocal errors
        params = {"channel": random.choice(channels), "purpose": random.choice(purposes)}
        path = f"/v1/customers/{random.choice(customers)}/eligibility"
        response = await client.get(path, params=params)
        found.append(time.perf_counter() - scheduled)
        errors += response.status_code != 200

    await open_loop(rate, seconds, one)
    return found, errors


async def health(client: Requests, rate: float, seconds: float) -> list[float]:
    found: list[float] = []

    async def one(_: int, scheduled: float) -> None:
        await client.get("/healthz")
        found.append(time.perf_counter() - scheduled)

    await open_loop(rate, seconds, one)
    return found


async def sequential(client: Requests, customer: str, times: int) -> float:
    """Median seconds of one eligibility question asked `times` times, one after another."""
    found = []
    params = {"channel": "email", "purpose": "marketing"}
    for _ in range(times):
        began = time.perf_counter()
        response = await client.get(f"/v1/customers/{customer}/eligibility", params=params)
        response.raise_for_status()
        found.append(time.perf_counter() - began)
    return statistics.median(found)


BATCH = 1000
"""Questions per batch request: the most the route takes."""


def questions(customers: list[str], count: int) -> list[dict[str, str]]:
    """Random questions about these customers, as the batch route takes them."""
    purposes = [Purpose.MARKETING, Purpose.SURVEYS, Purpose.CROSS_SELL]
    return [
        {
            "customer_id": random.choice(customers),
            "channel": random.choice(list(Channel)).value,
            "purpose": random.choice(purposes).value,
        }
        for _ in range(count)
    ]


async def batched(client: Requests, customers: list[str], batches: int) -> float:
    """Decisions per second through the batch route, batches sent one after another."""
    bodies = [{"questions": questions(customers, BATCH)} for _ in range(batches)]
    began = time.perf_counter()
    for body in bodies:
        response = await client.post("/v1/eligibility/batch", json=body)
        response.raise_for_status()
    return batches * BATCH / (time.perf_counter() - began)


async def in_process(dsn: str, customers: list[str], batches: int) -> float:
    """Decisions per second of the same code called in process (as a dispatcher would)."""
    now = datetime.now(UTC)
    asked = [
        [
            Question(q["customer_id"], Channel(q["channel"]), Purpose(q["purpose"]), now)
            for q in questions(customers, BATCH)
        ]
        for _ in range(batches)
    ]
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
    try:
        began = time.perf_counter()
        for batch in asked:
            await decide(pool, batch, EXPIRY)
        return batches * BATCH / (time.perf_counter() - began)
    finally:
        await pool.close()


async def measure(bench: Bench) -> list[Figure]:
    sizes = bench.sizes
    customers = [f"c{n}" for n in range(sizes.eligibility_customers)]
    histories = {c: history(c) for c in customers}
    histories["short"] = history("short", uses=-1)
    histories["long"] = history("long", uses=sizes.long_history - 3)
    bench.progress.say(f"seeding {len(histories):,} customers' consent histories")
    dsn = await bench.database("consent")
    await seed(dsn, histories)
    api_child, api = await bench.start("consent", "api", dsn)
    meter = bench.meter({"consent API": api_child})
    async with Requests(api) as client:
        await latencies(client, customers, 50, 2)  # warm-up
        rate, seconds = sizes.eligibility_rate, sizes.eligibility_s
        bench.progress.say(f"eligibility at {rate:.0f} req/s for {seconds:.0f} s, then /healthz")
        meter.start()
        answered, errors = await latencies(client, customers, rate, seconds)
        answered_cpu, _ = cost(meter.stop(), len(answered), "question")
        meter.start()
        ceiling = await health(client, rate, seconds)
        ceiling_cpu, _ = cost(meter.stop(), len(ceiling), "request")
        bench.progress.say("eligibility against history length")
        short = await sequential(client, "short", 50)
        long = await sequential(client, "long", 50)
        bench.progress.say(f"batch eligibility: {sizes.batches} batches of {BATCH:,} questions")
        await batched(client, customers, 1)  # warm-up
        through_api = await batched(client, customers, sizes.batches)
    decided_in_process = await in_process(dsn, customers, sizes.batches)
    return [
        Figure(
            "eligibility",
            f"eligibility p99, one API process, {rate:,.0f} req/s",
            "p99 < 10 ms at 1,000 req/s",
            unit="ms",
            value=percentile(answered, 0.99) * 1000,
            ceiling=percentile(ceiling, 0.99) * 1000,
            ceiling_name="GET /healthz p99, same rate",
            higher_is_better=False,
            detail=f"p50 {percentile(answered, 0.5) * 1000:.1f} ms, {len(answered)} requests,"
            f" {errors} errors, {len(customers):,} customers of 13 events; {answered_cpu};"
            f" GET /healthz at the same rate: {ceiling_cpu}",
        ),
        Figure(
            "eligibility_history",
            f"eligibility median at {sizes.long_history:,} events of history",
            "flat (state snapshot + events since)",
            unit="ms",
            value=long * 1000,
            ceiling=short * 1000,
            ceiling_name="median at 1 event",
            higher_is_better=False,
        ),
        Figure(
            "batch_eligibility",
            f"batch eligibility, one API process, {BATCH:,} questions per request",
            "≥ 20,000 decisions/s",
            unit="decisions/s",
            value=through_api,
            ceiling=decided_in_process,
            ceiling_name="the same decisions in process (consentledger.decisions), one connection",
            detail=f"{sizes.batches} batches one after another, {len(customers):,} customers"
            " of 13 events, now",
        ),
    ]
