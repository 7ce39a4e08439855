"""A consent grant that answers once its read model shows it: the command's round trip."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import asyncpg

from bench.load import Requests, percentile
from bench.stack import Bench
from bench.table import Figure

EVIDENCE = {
    "medium": "web_form",
    "wording_version": "newsletter-v2",
    "wording_sha256": "0f" * 32,
    "source_ref": "form-snapshot-1",
    "actor": "web-shop",
}


async def known_customers(dsn: str, count: int) -> list[str]:
    """Customers the consent service knows (as if contacts had registered them)."""
    customers = [f"grant-{n}" for n in range(count)]
    connection = await asyncpg.connect(dsn)
    try:
        await connection.executemany(
            "INSERT INTO customer_facts (customer_id, kind, registered_at)"
            " VALUES ($1, 'consumer', $2)",
            [(c, datetime.now(UTC) - timedelta(days=1)) for c in customers],
        )
    finally:
        await connection.close()
    return customers


async def measure(bench: Bench) -> list[Figure]:
    count = bench.sizes.commands
    await bench.key_service()
    dsn = await bench.database("consent")
    customers = await known_customers(dsn, count + 5)
    await bench.start("consent", "worker", dsn)
    _, api = await bench.start("consent", "api", dsn)
    round_trips: list[float] = []
    answered: dict[int, int] = {}
    async with Requests(api) as client:
        for n, customer in enumerate(customers):  # one after another, as a web shop would
            body = {
                "channel": "email",
                "purpose": "marketing",
                "contact_point": f"{customer}@example.org",
                "evidence": EVIDENCE | {"captured_at": datetime.now(UTC).isoformat()},
            }
            began = time.perf_counter()
            response = await client.post(f"/v1/customers/{customer}/consents", json=body)
            if n >= 5:  # the first few warm connections and caches
                round_trips.append(time.perf_counter() - began)
                answered[response.status_code] = answered.get(response.status_code, 0) + 1
        reads = []
        for customer in customers[5:]:
            began = time.perf_counter()
            await client.get(f"/v1/customers/{customer}/consents")
            reads.append(time.perf_counter() - began)
    statuses = ", ".join(f"{code}: {times}" for code, times in sorted(answered.items()))
    return [
        Figure(
            "command_round_trip",
            "consent grant that waits for its read model, round trip p99",
            "p99 < 100 ms",
            unit="ms",
            value=percentile(round_trips, 0.99) * 1000,
            ceiling=percentile(reads, 0.99) * 1000,
            ceiling_name="reading that customer's consents p99",
            higher_is_better=False,
            detail=f"{len(round_trips)} grants one after another, p50"
            f" {percentile(round_trips, 0.5) * 1000:.0f} ms; answers {statuses}"
            " (201: applied; 202: not applied within command_wait_s)",
        )
    ]
