"""Read queries of the contacts service: profiles, contact-point search, data keys."""

from __future__ import annotations

import base64
from typing import Any

import orjson
from pydantic import BaseModel

from dialogkit.contactpoints import normalize_email, normalize_phone
from dialogkit.customers import merged_problem
from dialogkit.keys import DataKey, PostgresKeyStore
from dialogkit.problems import Problem
from dialogkit.rules import NotFound

PROFILE_PERSONAL = (
    *("name", "birth_date", "addresses", "phone_numbers", "email_addresses", "social_handles"),
    *("email_address", "reason"),  # of purchases and cancellations
)
"""Members of the profile document that are personal data (`contacts:read-personal`)."""


class DataKeyView(BaseModel):
    customer_id: str
    key_id: str
    secret: str
    """Base64 of the 256-bit AES-GCM key."""


async def profile_row(db: Any, customer_id: str) -> Any:
    """The customer's profile row, whatever became of them; None if never registered."""
    return await db.fetchrow(
        "SELECT kind, profile, registered_at, updated_at, erased_at, merged_into, registered_by"
        " FROM profiles WHERE customer_id = $1",
        customer_id,
    )


async def current(db: Any, customer_id: str) -> Any:
    """The customer's profile row; 404 if never registered, 410 if erased or merged."""
    row = await registered(db, customer_id)
    if row["erased_at"] is not None:
        raise Problem(
            410, "Erased", f"customer {customer_id} was erased", erased_at=str(row["erased_at"])
        )
    return row


async def registered(db: Any, customer_id: str) -> Any:
    """The profile row of a customer registered and not merged away (erased ones too)."""
    row = await profile_row(db, customer_id)
    if row is None:
        raise NotFound(f"customer {customer_id} is not registered")
    if row["merged_into"] is not None:
        raise merged_problem(customer_id, row["merged_into"])
    return row


async def profile_document(db: Any, customer_id: str, row: Any) -> dict[str, Any]:
    """The profile with its purchases and contracts, as the API shows it."""
    products = await db.fetch(
        "SELECT type, occurred_at, data FROM customer_products WHERE customer_id = $1"
        " ORDER BY occurred_at",
        customer_id,
    )
    return {
        "customer_id": customer_id,
        "kind": row["kind"],
        "registered_at": row["registered_at"],
        "updated_at": row["updated_at"],
        "erased_at": row["erased_at"],
        **orjson.loads(row["profile"]),
        "products": [
            {"type": p["type"], "at": p["occurred_at"], **orjson.loads(p["data"])} for p in products
        ],
    }


async def customers_at(db: Any, *, phone: str | None, email: str | None) -> list[str]:
    """Customers with this phone number (any format) or email address; 422 naming the field."""
    try:
        if phone is not None:
            kind, value = "phone", normalize_phone(phone)
        elif email is not None:
            kind, value = "email", normalize_email(email).lower()
        else:
            raise Problem(422, "Invalid request", "give phone or email", field="phone")
    except ValueError as error:
        field = "phone" if phone else "email"
        raise Problem(422, "Invalid request", str(error), field=field) from None
    rows = await db.fetch(
        "SELECT customer_id FROM contact_points WHERE kind = $1 AND value = $2 ORDER BY 1",
        kind,
        value,
    )
    return [r["customer_id"] for r in rows]


async def data_key(db: Any, customer_id: str, *, create: bool) -> DataKeyView:
    """The customer's data key (made on first use with `create`); 410 once erased."""
    key = await PostgresKeyStore(db).key_for(customer_id, create=create)
    if key is None:
        destroyed = await db.fetchval(
            "SELECT destroyed_at FROM data_keys WHERE customer_id = $1", customer_id
        )
        if destroyed is not None:
            raise Problem(
                410, "Erased", f"the data key of {customer_id} was destroyed by an erasure"
            )
        raise NotFound(f"customer {customer_id} has no data key")
    return key_view(customer_id, key)


def key_view(customer_id: str, key: DataKey) -> DataKeyView:
    return DataKeyView(
        customer_id=customer_id, key_id=key.key_id, secret=base64.b64encode(key.secret).decode()
    )


async def erased_keys(db: Any, customer_ids: list[str]) -> list[str]:
    """Those of these customers whose data key an erasure destroyed."""
    rows = await db.fetch(
        "SELECT customer_id FROM data_keys WHERE customer_id = ANY($1::text[]) AND secret IS NULL",
        customer_ids,
    )
    return [r["customer_id"] for r in rows]
