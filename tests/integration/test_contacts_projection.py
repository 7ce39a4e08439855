"""The contacts read model on real PostgreSQL: merges, in the orders live and rebuilds read them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import orjson
import pytest

from contacts.projections import ProfileProjection
from dialog_schemas import Envelope, Event
from dialog_schemas.catalog import CONTACTS_EVENTS
from dialog_schemas.common import CustomerKind
from dialog_schemas.contacts import ContactRegistered, ContactsMerged, ProductPurchased
from dialogkit.codec import encode
from dialogkit.deadletters import DeadLetters
from dialogkit.pii import PersonalDataCipher, PostgresKeyStore
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
