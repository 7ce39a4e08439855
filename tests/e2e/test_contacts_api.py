"""Contacts as processes: sealed personal data, erasure by crypto-shredding, suppression after."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from dialog_schemas.catalog import CONTACTS_EVENTS
from dialogkit.keys import KeyDestroyed, PostgresKeyStore
from dialogkit.pii import PersonalDataCipher
from tests.support import AUTH, Service, eventually, read_topic, service_processes

PERSON = {
    "kind": "consumer",
    "name": "Alex Muster",
    "phone_numbers": ["030 1234567"],
    "email_addresses": ["Alex.Muster@Example.org"],
    "time_zone": "Europe/Berlin",
    "addresses": [
        {"street": "Hauptstraße 1", "postal_code": "10115", "city": "Berlin", "country": "DE"}
    ],
}


@pytest.fixture
async def contacts_dsn(new_database) -> str:
    return await new_database("contacts")


@pytest.fixture
def contacts_api(platform_topics_ready: str, contacts_dsn: str, tmp_path: Path) -> Iterator[str]:
    with service_processes(
        platform_topics_ready,
        Service("contacts", "worker", contacts_dsn, tmp_path / "worker.log"),
        Service("contacts", "api", contacts_dsn, tmp_path / "api.log"),
    ) as (_, api):
        yield api


async def raw_events(bootstrap: str, customer: str) -> list[dict[str, Any]]:
    return [
        orjson.loads(r.value)
        for r in await read_topic(bootstrap, CONTACTS_EVENTS.name)
        if r.key == customer.encode()
    ]


async def test_register_erase_and_register_again(
    contacts_api: str, contacts_dsn: str, platform_topics_ready: str
) -> None:
    first, second = f"erase-{uuid.uuid4().hex[:10]}", f"again-{uuid.uuid4().hex[:10]}"
    async with httpx.AsyncClient(base_url=contacts_api, headers=AUTH, timeout=30) as client:
        registered = await client.post(f"/v1/customers/{first}", json=PERSON)
        assert registered.status_code == 201, registered.text
        assert registered.json()["suppressed_channels"] == []
        profile = (await client.get(f"/v1/customers/{first}")).json()
        assert profile["phone_numbers"] == ["+49301234567"]
        assert profile["email_addresses"] == ["Alex.Muster@example.org"]
        found = await client.get("/v1/contact-points", params={"phone": "+49 30 1234567"})
        assert found.json()["customer_ids"] == [first]
        purchase = {
            "purchase_id": "o-1",
            "product_id": "fiber",
            "product_name": "Fiber 250",
            "category": "home-internet",
            "purchased_at": "2026-11-01T10:00:00Z",
            "sales_channel": "web_shop",
            "email_address": "alex.muster@example.org",
            "objection_notice_given": True,
        }
        assert (
            await client.post(f"/v1/customers/{first}/purchases", json=purchase)
        ).status_code == 202
        await eventually(
            lambda: client.get(f"/v1/customers/{first}"), lambda r: len(r.json()["products"]) == 1
        )

        [on_topic, *_] = await raw_events(platform_topics_ready, first)
        assert on_topic["data"]["name"].startswith("pii:v1:")
        assert "Muster" not in orjson.dumps(on_topic).decode()

        erased = await client.post(f"/v1/customers/{first}/erasure")
        assert erased.status_code == 202
        gone = await eventually(
            lambda: client.get(f"/v1/customers/{first}"), lambda r: r.status_code == 410
        )
        assert "Muster" not in gone.text
        assert (await client.get("/v1/contact-points", params={"phone": "030 1234567"})).json() == {
            "customer_ids": []
        }

        pool = await asyncpg.create_pool(contacts_dsn, min_size=1, max_size=2)
        try:
            cipher = PersonalDataCipher(PostgresKeyStore(pool))
            for event in await raw_events(platform_topics_ready, first):
                if any(str(v).startswith("pii:v1:") for v in event["data"].values()):
                    with pytest.raises(KeyDestroyed):
                        await cipher.open(first, event["data"])
            leftovers = await pool.fetchval(
                "SELECT count(*) FROM customer_products WHERE customer_id = $1 AND data <> '{}'",
                first,
            )
            assert leftovers == 0
        finally:
            await pool.close()

        again = await client.post(
            f"/v1/customers/{second}",
            json=PERSON
            | {"phone_numbers": ["+4930 1234567"], "email_addresses": ["alex.muster@EXAMPLE.org"]},
        )
        assert again.status_code == 201, again.text
        assert again.json()["suppressed_channels"] == ["email", "phone", "sms"]
        [registration] = [
            e
            for e in await raw_events(platform_topics_ready, second)
            if e["type"] == "ContactRegistered"
        ]
        assert registration["data"]["suppressed_channels"] == ["email", "phone", "sms"]


async def test_contact_errors_are_problems(contacts_api: str) -> None:
    customer = f"bad-{uuid.uuid4().hex[:10]}"
    async with httpx.AsyncClient(base_url=contacts_api, headers=AUTH, timeout=30) as client:
        wrong = await client.post(
            f"/v1/customers/{customer}",
            json=PERSON | {"phone_numbers": ["12"], "time_zone": "Nowhere"},
        )
        assert wrong.status_code == 422
        assert {e["field"] for e in wrong.json()["errors"]} == {
            "body.phone_numbers.0",
            "body.time_zone",
        }
        assert (await client.get(f"/v1/customers/{customer}")).status_code == 404
        assert (await client.post(f"/v1/customers/{customer}/erasure")).status_code == 404
        assert (await client.post(f"/v1/customers/{customer}", json=PERSON)).status_code == 201
        assert (await client.post(f"/v1/customers/{customer}", json=PERSON)).status_code == 409
        nothing = await client.patch(f"/v1/customers/{customer}", json={})
        assert nothing.status_code == 409

        duplicate = f"dup-{uuid.uuid4().hex[:10]}"
        other = PERSON | {
            "phone_numbers": ["+4940 7654321"],
            "email_addresses": ["dup@example.org"],
        }
        assert (await client.post(f"/v1/customers/{duplicate}", json=other)).status_code == 201
        itself = await client.post(
            f"/v1/customers/{customer}/merge", json={"merged_customer_id": customer}
        )
        assert (itself.status_code, itself.json()["field"]) == (422, "merged_customer_id")
        merged = await client.post(
            f"/v1/customers/{customer}/merge", json={"merged_customer_id": duplicate}
        )
        assert merged.status_code == 202
        gone = await eventually(
            lambda: client.get(f"/v1/customers/{duplicate}"), lambda r: r.status_code == 410
        )
        assert (gone.json()["title"], gone.json()["merged_into"]) == ("Merged", customer)
        survivor = (await client.get(f"/v1/customers/{customer}")).json()
        assert survivor["phone_numbers"] == ["+49301234567", "+49407654321"]
        assert survivor["name"] == PERSON["name"]
        found = await client.get("/v1/contact-points", params={"email": "dup@example.org"})
        assert found.json()["customer_ids"] == [customer]
        late = await client.patch(f"/v1/customers/{duplicate}", json={"interests": ["golf"]})
        assert (late.status_code, late.json()["merged_into"]) == (410, customer)
        again = await client.post(
            f"/v1/customers/{customer}/merge", json={"merged_customer_id": duplicate}
        )
        assert (again.status_code, again.json()["replayed"]) == (202, True), "the same merge"
        other_way = await client.post(
            f"/v1/customers/{duplicate}/merge", json={"merged_customer_id": customer}
        )
        assert (other_way.status_code, other_way.json()["merged_into"]) == (410, customer)

        keyed, retry = f"keyed-{uuid.uuid4().hex[:10]}", {"Idempotency-Key": "signup-77"}
        first = await client.post(f"/v1/customers/{keyed}", json=PERSON, headers=retry)
        assert (first.status_code, first.json()["replayed"]) == (201, False)
        repeated = await client.post(f"/v1/customers/{keyed}", json=PERSON, headers=retry)
        assert repeated.status_code == 201
        assert repeated.json() == first.json() | {"replayed": True}
        fresh = await client.post(
            f"/v1/customers/{keyed}", json=PERSON, headers={"Idempotency-Key": "signup-78"}
        )
        assert fresh.status_code == 409, "another request for a registered id is a conflict"
