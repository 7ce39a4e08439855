"""The contacts read model on real PostgreSQL: merges, in the orders live and rebuilds read them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
import pytest

from contacts.projections import ProfileProjection
from dialog_schemas import Envelope, Event
from dialog_schemas.catalog import CONTACTS_EVENTS
from dialog_schemas.common import CustomerKind
from dialog_schemas.contacts import (
    ContactRegistered,
    ContactsMerged,
    ContactUpdated,
    ProductPurchased,
)
from dialogkit.codec import encode
from dialogkit.deadletters import DeadLetters
from dialogkit.keys import PostgresKeyStore
from dialogkit.pii import PersonalDataCipher
from dialogkit.projection import ProjectionRunner
from dialogkit.publishing import FakePublisher
from dialogkit.records import SourceRecord

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


async def sealed(pool: asyncpg.Pool, customer: str, event: Event) -> bytes:
    data = await PersonalDataCipher(PostgresKeyStore(pool)).seal(customer, event)
    envelope = Envelope.wrap(event, id=uuid.uuid4(), source="/t", subject=customer, time=T0)
    return encode(envelope.model_copy(update={"data": data}))


@pytest.mark.parametrize("merge_read_first", [False, True], ids=["live-order", "rebuild-order"])
async def test_a_merged_duplicate_folds_into_its_survivor(
    new_database, pool_for, merge_read_first: bool
) -> None:
    pool = await pool_for(await new_database("contacts"))
    runner = ProjectionRunner(
        pool, ProfileProjection(), DeadLetters(FakePublisher(), "contacts.deadletter.v1", "t")
    )
    survivor, duplicate = f"s-{uuid.uuid4().hex[:8]}", f"d-{uuid.uuid4().hex[:8]}"
    own = [
        await sealed(
            pool,
            survivor,
            ContactRegistered(
                kind=CustomerKind.CONSUMER,
                name="Kim Muster",
                phone_numbers=["+49301234567"],
                registered_at=T0,
            ),
        ),
        await sealed(
            pool,
            survivor,
            ContactsMerged(merged_customer_id=duplicate, merged_at=T0 + timedelta(days=1)),
        ),
    ]
    theirs = [
        await sealed(
            pool,
            duplicate,
            ContactRegistered(
                kind=CustomerKind.CONSUMER,
                name="K. Muster",
                birth_date=datetime(1980, 5, 17).date(),
                phone_numbers=["+49401234567", "+49301234567"],
                email_addresses=["kim@example.org"],
                registered_at=T0,
            ),
        ),
        await sealed(
            pool,
            duplicate,
            ProductPurchased(
                purchase_id="p-1",
                product_id="tariff-m",
                product_name="Tariff M",
                category="mobile",
                purchased_at=T0,
                sales_channel="phone",
            ),
        ),
    ]
    # live, the duplicate's events come before the merge; a rebuild may read the survivor's
    # partition, merge and all, before the duplicate's
    batches = [own, theirs] if merge_read_first else [theirs, own]
    for partition, values in enumerate(batches):
        await runner.handle(
            [
                SourceRecord(CONTACTS_EVENTS.name, partition, n, b"k", v)
                for n, v in enumerate(values)
            ]
        )

    rows = {
        r["customer_id"]: r
        for r in await pool.fetch(
            "SELECT customer_id, profile, merged_into FROM profiles WHERE customer_id = ANY($1)",
            [survivor, duplicate],
        )
    }
    profile = orjson.loads(rows[survivor]["profile"])
    assert profile["name"] == "Kim Muster"  # the survivor keeps its own
    assert profile["birth_date"] == "1980-05-17"  # and takes what it lacked
    assert profile["phone_numbers"] == ["+49301234567", "+49401234567"]
    assert profile["email_addresses"] == ["kim@example.org"]
    assert (rows[duplicate]["merged_into"], orjson.loads(rows[duplicate]["profile"])) == (
        survivor,
        {},
    )
    points = await pool.fetch(
        "SELECT DISTINCT customer_id FROM contact_points WHERE value = ANY($1)",
        ["+49301234567", "+49401234567", "kim@example.org"],
    )
    assert [p["customer_id"] for p in points] == [survivor]
    owners = await pool.fetch("SELECT customer_id FROM customer_products")
    assert [o["customer_id"] for o in owners] == [survivor]


async def test_an_erasure_read_with_a_merge_leaves_nothing_of_either(
    new_database, pool_for
) -> None:
    from dialog_schemas.contacts import ContactErased

    pool = await pool_for(await new_database("contacts"))
    runner = ProjectionRunner(
        pool, ProfileProjection(), DeadLetters(FakePublisher(), "contacts.deadletter.v1", "t")
    )
    survivor, duplicate = f"s-{uuid.uuid4().hex[:8]}", f"d-{uuid.uuid4().hex[:8]}"
    registered = ContactRegistered(
        kind=CustomerKind.CONSUMER, name="Kim", phone_numbers=["+49301234567"], registered_at=T0
    )
    bought = ProductPurchased(
        purchase_id="p-9",
        product_id="tariff-m",
        product_name="Tariff M",
        category="mobile",
        purchased_at=T0,
        sales_channel="phone",
        email_address="d@example.org",
    )
    theirs = [await sealed(pool, duplicate, registered), await sealed(pool, duplicate, bought)]
    await runner.handle(
        [SourceRecord(CONTACTS_EVENTS.name, 1, n, b"d", v) for n, v in enumerate(theirs)]
    )
    merged = ContactsMerged(merged_customer_id=duplicate, merged_at=T0)
    erased = ContactErased(erased_at=T0, request_id=uuid.uuid4(), suppressed_contact_points=[])
    own = [
        await sealed(pool, survivor, registered),
        await sealed(pool, survivor, merged),
        await sealed(pool, survivor, erased),  # the merge not yet seen by the API's erasure
    ]
    await runner.handle(
        [SourceRecord(CONTACTS_EVENTS.name, 0, n, b"s", v) for n, v in enumerate(own)]
    )

    products = await pool.fetch("SELECT customer_id, data FROM customer_products")
    assert [(p["customer_id"], orjson.loads(p["data"])) for p in products] == [(survivor, {})]
    assert await pool.fetchval("SELECT count(*) FROM contact_points") == 0
    keys = await pool.fetch("SELECT customer_id FROM data_keys WHERE secret IS NOT NULL")
    assert [k["customer_id"] for k in keys] == [survivor], "the duplicate's key is destroyed"


async def test_a_customer_is_merged_once_and_never_into_itself(new_database, pool_for) -> None:
    from dialogkit.merges import record_merges, survivors
    from dialogkit.projection import decode

    pool = await pool_for(await new_database("contacts"))

    def merging(survivor: str, duplicate: str) -> Any:
        envelope = Envelope.wrap(
            ContactsMerged(merged_customer_id=duplicate, merged_at=T0),
            id=uuid.uuid4(),
            source="/t",
            subject=survivor,
            time=T0,
        )
        record = SourceRecord(CONTACTS_EVENTS.name, 0, 0, b"k", encode(envelope))
        return decode(record, CONTACTS_EVENTS, strict=True)

    async with pool.acquire() as connection:
        taken = await record_merges(
            connection,
            [merging("b", "a"), merging("a", "b"), merging("c", "a"), merging("c", "b")],
        )
        assert taken == ["a", "b"], "a into b holds; b into a is a cycle; a into c comes too late"
        assert await survivors(connection, ["a", "b", "c"]) == {"a": "c", "b": "c", "c": "c"}


async def test_a_corrected_kind_reaches_the_profile(new_database, pool_for) -> None:
    pool = await pool_for(await new_database("contacts"))
    runner = ProjectionRunner(
        pool, ProfileProjection(), DeadLetters(FakePublisher(), "contacts.deadletter.v1", "t")
    )
    customer = f"k-{uuid.uuid4().hex[:8]}"
    events: list[Event] = [
        ContactRegistered(kind=CustomerKind.CONSUMER, name="Kim Muster", registered_at=T0),
        ContactUpdated(kind=CustomerKind.BUSINESS, updated_at=T0 + timedelta(days=1)),
    ]
    await runner.handle(
        [
            SourceRecord(CONTACTS_EVENTS.name, 0, n, b"k", await sealed(pool, customer, e))
            for n, e in enumerate(events)
        ]
    )
    row = await pool.fetchrow("SELECT kind, profile FROM profiles WHERE customer_id = $1", customer)
    assert (row["kind"], orjson.loads(row["profile"])["kind"]) == ("business", "business")
