"""HTTP API of the contacts service: profiles, purchases and contracts, erasure, search."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID, uuid4, uuid5

import orjson
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from contacts.config import Settings
from contacts.domain import (
    CONTACTS_NAMESPACE,
    cancellation_event_id,
    purchase_event_id,
    record_cancellation,
    record_purchase,
)
from contacts.export import gather_export
from contacts.profiles import (
    MergeContacts,
    RegisterContact,
    UpdateContact,
    contact_point_hash,
    merge,
    register,
    update,
)
from contacts.suppression import purchase_emails, suppressed
from dialog_schemas import CustomerId, Envelope, Event
from dialog_schemas.catalog import CONTACTS_EVENTS
from dialog_schemas.common import Channel, ExternalId, Instant, Label
from dialog_schemas.contacts import (
    CancellationFacts,
    ContactErased,
    ContractStarted,
    PurchaseFacts,
    SalesChannel,
)
from dialogkit.auth import scope
from dialogkit.config import DATA_KEYS_SCOPE
from dialogkit.customers import merged_problem, serves_merged_customers
from dialogkit.http import ApiRuntime, IdempotencyKey, Runtime
from dialogkit.pii import PostgresKeyStore
from dialogkit.problems import Problem
from dialogkit.rules import NotFound, not_in_future
from dialogkit.tracing import current_traceparent

router = APIRouter(prefix="/v1", tags=["contacts"])
WRITE = scope("contacts:write")
PROFILE_PERSONAL = (
    *("name", "birth_date", "addresses", "phone_numbers", "email_addresses", "social_handles"),
    *("email_address", "reason"),  # of purchases and cancellations
)
"""Members of the profile document that are personal data (`contacts:read-personal`)."""
WAIT_S = 5.0


class Accepted(BaseModel):
    customer_id: str
    event_id: UUID
    applied: bool = False
    replayed: bool = False
    """True when this command was recorded before and the answer repeats the first one."""
    suppressed_channels: list[Channel] = []


class StartContract(BaseModel):
    contract_id: ExternalId
    product_id: ExternalId
    category: Label
    started_at: Instant
    sales_channel: SalesChannel


async def publish(runtime: ApiRuntime, customer_id: str, event: Event, event_id: UUID) -> None:
    """Publish one event with its personal fields sealed under the customer's data key."""
    data = await runtime.cipher.seal(customer_id, event)
    envelope = Envelope.wrap(
        event,
        id=event_id,
        source=f"/{runtime.service}/api",
        subject=customer_id,
        time=datetime.now(UTC),
        traceparent=current_traceparent(),
    ).model_copy(update={"data": data})
    await runtime.publisher.publish(CONTACTS_EVENTS.name, [envelope])


async def profile_row(runtime: ApiRuntime, customer_id: str) -> Any:
    return await runtime.pool.fetchrow(
        "SELECT kind, profile, registered_at, updated_at, erased_at, merged_into, registered_by"
        " FROM profiles"
        " WHERE customer_id = $1",
        customer_id,
    )


async def visible(runtime: ApiRuntime, customer_id: str) -> bool:
    deadline = time.monotonic() + WAIT_S
    while await profile_row(runtime, customer_id) is None:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def salt(runtime: ApiRuntime) -> str:
    assert isinstance(runtime.settings, Settings)
    return runtime.settings.suppression_salt.get_secret_value()


@router.post("/customers/{customer_id}", status_code=201, dependencies=[WRITE])
async def register_customer(
    customer_id: CustomerId,
    command: RegisterContact,
    runtime: Runtime,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> Accepted:
    """Register a customer; contact points of erased customers come back suppressed.

    Retried with the same Idempotency-Key, the first answer is repeated; without one, a second
    registration of the id is a conflict. Without a key the event id derives from the content,
    so a corrected retry (after a projection refused the first) is a new event, not a duplicate.
    """
    what = (
        idempotency_key
        or f"content:{hashlib.sha256(command.model_dump_json().encode()).hexdigest()}"
    )
    event_id = uuid5(CONTACTS_NAMESPACE, f"{customer_id}/registered/{what}")
    existing = await profile_row(runtime, customer_id)
    if idempotency_key and existing is not None and existing["registered_by"] == event_id:
        first = orjson.loads(existing["profile"])
        return Accepted(
            customer_id=customer_id,
            event_id=event_id,
            applied=True,
            replayed=True,
            suppressed_channels=first.get("suppressed_channels", []),
        )
    event = register(existing is not None, command, datetime.now(UTC))
    found = await suppressed(
        runtime.pool, salt(runtime), phones=command.phone_numbers, emails=command.email_addresses
    )
    event = event.model_copy(update={"suppressed_channels": found.channels})
    await publish(runtime, customer_id, event, event_id)
    applied = await visible(runtime, customer_id)
    if not applied:
        response.status_code = 202
    return Accepted(
        customer_id=customer_id,
        event_id=event_id,
        applied=applied,
        suppressed_channels=found.channels,
    )


@router.get(
    "/customers/{customer_id}",
    dependencies=[scope("contacts:read", personal=PROFILE_PERSONAL, audit="profile")],
)
async def get_customer(customer_id: CustomerId, runtime: Runtime) -> dict[str, Any]:
    """The profile, with purchases and contracts."""
    return await profile_document(runtime, customer_id, await current(runtime, customer_id))


@router.get(
    "/customers/{customer_id}/export", dependencies=[scope("contacts:export", audit="export")]
)
async def export_customer(customer_id: CustomerId, runtime: Runtime) -> dict[str, Any]:
    """Everything held about the customer in every service, as one document (GDPR Art. 15).

    An erased customer's export shows what remains: facts without personal data.
    """
    row = await profile_row(runtime, customer_id)
    if row is None:
        raise NotFound(f"customer {customer_id} is not registered")
    if row["merged_into"] is not None:
        raise merged_problem(customer_id, row["merged_into"])
    assert isinstance(runtime.settings, Settings)
    own = await profile_document(runtime, customer_id, row)
    return await gather_export(customer_id, own, runtime.settings)


async def profile_document(runtime: ApiRuntime, customer_id: str, row: Any) -> dict[str, Any]:
    products = await runtime.pool.fetch(
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


@router.patch("/customers/{customer_id}", status_code=202, dependencies=[WRITE])
async def update_customer(
    customer_id: CustomerId,
    command: UpdateContact,
    runtime: Runtime,
    idempotency_key: IdempotencyKey = None,
) -> Accepted:
    """Change some details; a retried request with the same Idempotency-Key records once."""
    await current(runtime, customer_id)
    event = update(True, command, datetime.now(UTC))
    found = await suppressed(
        runtime.pool,
        salt(runtime),
        phones=command.phone_numbers or [],
        emails=command.email_addresses or [],
    )
    event = event.model_copy(update={"suppressed_channels": found.channels})
    event_id = uuid5(CONTACTS_NAMESPACE, f"{customer_id}/update/{idempotency_key or uuid4()}")
    await publish(runtime, customer_id, event, event_id)
    return Accepted(customer_id=customer_id, event_id=event_id, suppressed_channels=found.channels)


@router.post("/customers/{customer_id}/purchases", status_code=202, dependencies=[WRITE])
async def record_customer_purchase(
    customer_id: CustomerId, facts: PurchaseFacts, runtime: Runtime
) -> Accepted:
    """Record a purchase; the same purchase id is recorded once."""
    await current(runtime, customer_id)
    event_id = purchase_event_id(customer_id, facts.purchase_id)
    event = record_purchase(facts, datetime.now(UTC))
    found = await suppressed(runtime.pool, salt(runtime), emails=purchase_emails(event))
    event = event.model_copy(update={"suppressed_channels": found.channels})
    await publish(runtime, customer_id, event, event_id)
    return Accepted(customer_id=customer_id, event_id=event_id, suppressed_channels=found.channels)


@router.post("/customers/{customer_id}/contracts", status_code=202, dependencies=[WRITE])
async def start_contract(
    customer_id: CustomerId, command: StartContract, runtime: Runtime
) -> Accepted:
    """Record the start of a contract."""
    await current(runtime, customer_id)
    not_in_future("started_at", command.started_at, datetime.now(UTC))
    event = ContractStarted(**command.model_dump())
    event_id = uuid5(CONTACTS_NAMESPACE, f"{customer_id}/contract/{command.contract_id}")
    await publish(runtime, customer_id, event, event_id)
    return Accepted(customer_id=customer_id, event_id=event_id)


@router.post("/customers/{customer_id}/cancellations", status_code=202, dependencies=[WRITE])
async def cancel_contract(
    customer_id: CustomerId, facts: CancellationFacts, runtime: Runtime
) -> Accepted:
    """Record a cancellation: the trigger for a retention campaign."""
    await current(runtime, customer_id)
    event_id = cancellation_event_id(customer_id, facts.contract_id)
    await publish(runtime, customer_id, record_cancellation(facts, datetime.now(UTC)), event_id)
    return Accepted(customer_id=customer_id, event_id=event_id)


@router.post(
    "/customers/{customer_id}/merge",
    status_code=202,
    dependencies=[scope("contacts:write", audit="merge")],
)
async def merge_customers(
    customer_id: CustomerId, command: MergeContacts, runtime: Runtime
) -> Accepted:
    """Merge a duplicate into this customer; its history, contact points and products follow.

    The same merge again repeats the first answer."""
    event_id = uuid5(CONTACTS_NAMESPACE, f"{customer_id}/merge/{command.merged_customer_id}")
    survivor = await profile_row(runtime, customer_id)
    duplicate = await profile_row(runtime, command.merged_customer_id)
    if duplicate is not None and duplicate["merged_into"] == customer_id:
        return Accepted(customer_id=customer_id, event_id=event_id, applied=True, replayed=True)
    event = merge(customer_id, active(survivor), active(duplicate), command, datetime.now(UTC))
    taken = orjson.loads(duplicate["profile"])  # the contact points the survivor takes
    found = await suppressed(
        runtime.pool,
        salt(runtime),
        phones=taken.get("phone_numbers") or [],
        emails=taken.get("email_addresses") or [],
    )
    event = event.model_copy(update={"suppressed_channels": found.channels})
    await publish(runtime, customer_id, event, event_id)
    return Accepted(customer_id=customer_id, event_id=event_id, suppressed_channels=found.channels)


def active(row: Any) -> bool:
    return row is not None and row["erased_at"] is None and row["merged_into"] is None


@router.post(
    "/customers/{customer_id}/erasure",
    status_code=202,
    dependencies=[scope("contacts:erase", audit="erasure")],
)
async def erase_customer(customer_id: CustomerId, runtime: Runtime) -> Accepted:
    """Erase (GDPR Art. 17): destroy the data keys, keep contact points only as salted hashes.

    The keys of duplicates merged into the customer go too: their events are theirs as well.
    """
    row = await profile_row(runtime, customer_id)
    if row is None:
        raise NotFound(f"customer {customer_id} is not registered")
    if row["merged_into"] is not None:
        raise merged_problem(customer_id, row["merged_into"])
    profile = orjson.loads(row["profile"])
    values = [*(profile.get("phone_numbers") or []), *(profile.get("email_addresses") or [])]
    keys = PostgresKeyStore(runtime.pool)
    merged = await runtime.pool.fetch(
        "SELECT duplicate FROM customer_merges WHERE survivor = $1", customer_id
    )
    for owner in [customer_id, *(r["duplicate"] for r in merged)]:
        await keys.destroy(owner)
    event = ContactErased(
        erased_at=datetime.now(UTC),
        request_id=uuid5(CONTACTS_NAMESPACE, f"{customer_id}/erasure"),
        suppressed_contact_points=sorted({contact_point_hash(v, salt(runtime)) for v in values}),
    )
    event_id = uuid5(CONTACTS_NAMESPACE, f"{customer_id}/erased")
    await publish(runtime, customer_id, event, event_id)
    return Accepted(customer_id=customer_id, event_id=event_id)


class DataKeyView(BaseModel):
    customer_id: str
    key_id: str
    secret: str
    """Base64 of the 256-bit AES-GCM key."""


@router.get("/data-keys/{customer_id}", dependencies=[scope(DATA_KEYS_SCOPE)])
@serves_merged_customers  # a duplicate's events stay sealed with its own key
async def get_data_key(customer_id: CustomerId, runtime: Runtime) -> DataKeyView:
    """The customer's data key, for services that read personal data; 410 once erased."""
    return await data_key(runtime, customer_id, create=False)


@router.post("/data-keys/{customer_id}", dependencies=[scope(DATA_KEYS_SCOPE)])
@serves_merged_customers
async def get_or_create_data_key(customer_id: CustomerId, runtime: Runtime) -> DataKeyView:
    """The customer's data key, made on first use, for services that seal personal data."""
    return await data_key(runtime, customer_id, create=True)


async def data_key(runtime: ApiRuntime, customer_id: str, *, create: bool) -> DataKeyView:
    keys = PostgresKeyStore(runtime.pool)
    key = await keys.key_for(customer_id, create=create)
    if key is None:
        destroyed = await runtime.pool.fetchval(
            "SELECT destroyed_at FROM data_keys WHERE customer_id = $1", customer_id
        )
        if destroyed is not None:
            raise Problem(
                410, "Erased", f"the data key of {customer_id} was destroyed by an erasure"
            )
        raise NotFound(f"customer {customer_id} has no data key")
    secret = base64.b64encode(key.secret).decode()
    return DataKeyView(customer_id=customer_id, key_id=key.key_id, secret=secret)


@router.get("/contact-points", dependencies=[scope("contacts:read")])
async def search_contact_point(
    runtime: Runtime,
    phone: Annotated[str | None, Query(max_length=64)] = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
) -> dict[str, list[str]]:
    """Customers with this phone number (any format) or email address."""
    from dialogkit.contactpoints import normalize_email, normalize_phone

    try:
        if phone is not None:
            kind, value = "phone", normalize_phone(phone)
        elif email is not None:
            kind, value = "email", normalize_email(email).lower()
        else:
            raise Problem(422, "Invalid request", "give phone or email", field="phone")
    except ValueError as error:
        raise Problem(
            422, "Invalid request", str(error), field="phone" if phone else "email"
        ) from None
    rows = await runtime.pool.fetch(
        "SELECT customer_id FROM contact_points WHERE kind = $1 AND value = $2 ORDER BY 1",
        kind,
        value,
    )
    return {"customer_ids": [r["customer_id"] for r in rows]}


async def current(runtime: ApiRuntime, customer_id: str) -> Any:
    """The customer's profile row; 404 if never registered, 410 if erased or merged."""
    row = await profile_row(runtime, customer_id)
    if row is None:
        raise NotFound(f"customer {customer_id} is not registered")
    if row["erased_at"] is not None:
        raise Problem(
            410, "Erased", f"customer {customer_id} was erased", erased_at=str(row["erased_at"])
        )
    if row["merged_into"] is not None:
        raise merged_problem(customer_id, row["merged_into"])
    return row
