"""The lifecycle step's queries on the real database: erasures recorded, merged and erased found."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from uuid import uuid4

import asyncpg

from dialog_schemas import Envelope, Event
from dialog_schemas.catalog import CONTACTS_EVENTS
from dialog_schemas.contacts import ContactErased
from dialogkit.codec import encode
from dialogkit.lifecycle import merged_and_erased, record_erasures
from dialogkit.projection import Decoded, decode
from dialogkit.records import SourceRecord

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def decoded(event: Event, subject: str) -> Decoded:
    envelope = Envelope.wrap(event, id=uuid4(), source="/test", subject=subject, time=NOW)
    record = SourceRecord(CONTACTS_EVENTS.name, 0, 0, subject.encode(), encode(envelope))
    return decode(record, CONTACTS_EVENTS)


async def test_erasures_are_recorded_once_and_found_with_the_merged(
    new_database: Callable[..., Awaitable[str]],
    pool_for: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    pool = await pool_for(await new_database("interactions"))
    await pool.executemany(
        "INSERT INTO customer_merges (duplicate, survivor) VALUES ($1, $2)",
        [("dup-a", "erased-survivor"), ("dup-b", "kept-survivor")],
    )
    erasures = [
        decoded(ContactErased(erased_at=NOW, request_id=uuid4()), subject)
        for subject in ("erased-survivor", "erased-alone", "erased-alone")
    ]
    async with pool.acquire() as connection:
        await record_erasures(connection, "erased_customers", erasures)
        await record_erasures(connection, "erased_customers", [])
        customers = ["dup-a", "dup-b", "erased-alone", "someone"]
        merged, erased = await merged_and_erased(connection, customers, "erased_customers")
        assert (sorted(merged), sorted(erased)) == (
            ["dup-a", "dup-b"],
            ["erased-alone", "erased-survivor"],
        )
        assert await merged_and_erased(connection, ["dup-b", "someone"], None) == (["dup-b"], [])
        assert await merged_and_erased(connection, ["someone"], "erased_customers") == ([], [])
    stored = await pool.fetch("SELECT customer_id FROM erased_customers ORDER BY customer_id")
    assert [r["customer_id"] for r in stored] == ["erased-alone", "erased-survivor"]
