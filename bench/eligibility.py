"""Eligibility latency of the consent API under a steady request rate (open loop)."""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

from bench.tokens import AUTH
from consent.domain import ConfirmConsent, GrantConsent, RecordUse, confirm, grant, record_use
from consent.projections import ConsentStateProjection
from consentledger.domain import state_as_of
from devstack.broker import start_broker
from devstack.processes import free_port, spawn, wait_until
from devstack.stack import database_dsn, ready
from dialog_schemas import Envelope, Event
from dialog_schemas.catalog import CONSENT_EVENTS
from dialog_schemas.common import Channel, Purpose
from dialog_schemas.consent import CaptureMedium, Evidence
from dialogkit.codec import encode
from dialogkit.db import ensure_database, migrate
from dialogkit.deadletters import DeadLetters
from dialogkit.projection import ProjectionRunner
from dialogkit.publishing import FakePublisher
from dialogkit.records import SourceRecord

T0 = datetime.now(UTC) - timedelta(days=200)
TOKEN = AUTH
EXPIRY = timedelta(days=730)
"""The consent service's default expiry period, which its API and worker run with here."""


def history(customer: int) -> list[Event]:
    """A customer with a confirmed email consent, a phone consent and ten uses."""
    evidence = Evidence(
        medium=CaptureMedium.WEB_FORM,
        wording_version="v1",
        wording_sha256="aa" * 32,
        captured_at=T0,
        source_ref="form",
        actor="bench",
    )
    email, phone = uuid.uuid4(), uuid.uuid4()
    events: list[Event] = []

    def run(new: list[Event]) -> None:
        events.extend(new)

    command = GrantConsent(
        channel=Channel.EMAIL,
        purpose=Purpose.MARKETING,
        evidence=evidence,
        contact_point=f"c{customer}@example.org",
    )
    token = f"doi-token-{email}"
    run(grant(state_as_of(events), command, consent_id=email, now=T0, issued_token=token))
    confirmation = ConfirmConsent(source_ref=token)
    run(
        confirm(
            state_as_of(events),
            email,
            confirmation,
            now=T0,
            expiry=EXPIRY,
            confirm_within=timedelta(days=30),
        )
    )
    phone_grant = GrantConsent(channel=Channel.PHONE, purpose=Purpose.SURVEYS, evidence=evidence)
    run(grant(state_as_of(events), phone_grant, consent_id=phone, now=T0))
    for n in range(10):
        use = RecordUse(reference=f"o-{n}", purpose=Purpose.MARKETING)
        run(record_use(state_as_of(events), email, use, now=T0 + timedelta(days=n), expiry=EXPIRY))
    return events


async def seed(dsn: str, customers: int) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    await pool.executemany(
        "INSERT INTO customer_facts (customer_id, kind, registered_at) VALUES ($1, 'consumer', $2)",
        [(f"c{n}", T0) for n in range(customers)],
    )
    records = []
    for n in range(customers):
        for event in history(n):
            envelope = Envelope.wrap(event, id=uuid.uuid4(), source="/b", subject=f"c{n}", time=T0)
            records.append(
                SourceRecord(CONSENT_EVENTS.name, 0, len(records), b"k", encode(envelope))
            )
    projection = ConsentStateProjection(FakePublisher(), EXPIRY)
    runner = ProjectionRunner(pool, projection, DeadLetters(FakePublisher(), "dl", "b"))
    for start in range(0, len(records), 2000):
        await runner.handle(records[start : start + 2000])
    await pool.close()


async def load(base: str, customers: int, rate: float, seconds: float) -> tuple[list[float], int]:
    """Requests started every 1/rate s regardless of answers; returns latencies and errors."""
    latencies: list[float] = []
    errors = 0
    channels = list(Channel)
    purposes = [Purpose.MARKETING, Purpose.SURVEYS, Purpose.CROSS_SELL]
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, headers=TOKEN, limits=limits, timeout=30) as client:

        async def one() -> None:
            nonlocal errors
            customer = random.randrange(customers)
            params = {"channel": random.choice(channels), "purpose": random.choice(purposes)}
            began = time.perf_counter()
            response = await client.get(f"/v1/customers/c{customer}/eligibility", params=params)
            latencies.append(time.perf_counter() - began)
            if response.status_code != 200:
                errors += 1

        tasks = []
        start = time.perf_counter()
        for n in range(int(rate * seconds)):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    return latencies, errors


async def eligibility_latency(
    work: Path, admin_dsn: str, customers: int, rates: list[float], seconds: float
) -> None:
    name = f"bench_consent_{uuid.uuid4().hex[:8]}"
    await ensure_database(admin_dsn, name)
    dsn = database_dsn(admin_dsn, name)
    await migrate(dsn, "consent")
    await seed(dsn, customers)
    broker_port, api_port = free_port(), free_port()
    broker = start_broker(broker_port, work / "consent-broker.log")
    env = {
        **os.environ,
        "CONSENT_KAFKA_BOOTSTRAP": f"127.0.0.1:{broker_port}",
        "CONSENT_DATABASE_URL": dsn,
        "CONSENT_HTTP_PORT": str(api_port),
        "CONSENT_LOG_LEVEL": "WARNING",
    }
    api = spawn("consent-api", [sys.executable, "-m", "consent", "api"], work / "api.log", env=env)
    base = f"http://127.0.0.1:{api_port}"
    try:
        wait_until(lambda: ready(f"{base}/readyz"), timeout=60, what="consent api", child=api)
        await load(base, customers, 50, 3)  # warm-up
        for rate in rates:
            latencies, errors = await load(base, customers, rate, seconds)
            cuts = statistics.quantiles(latencies, n=100)
            print(
                f"consent eligibility, {customers} customers of 13 events each, {rate:.0f} req/s"
                f" for {seconds:.0f} s ({len(latencies)} requests, {errors} errors): "
                f"p50 {cuts[49] * 1000:.1f} ms, p99 {cuts[98] * 1000:.1f} ms"
            )
    finally:
        api.stop()
        broker.stop()
