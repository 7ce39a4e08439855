"""HTTP API of the contacts service: profiles, purchases and contracts, erasure, search, keys.

Commands go through the shared command path (`contacts.commands`), reads through `views`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from contacts import views
from contacts.commands import Accepted, Erase, run
from contacts.config import Settings
from contacts.domain import StartContract
from contacts.export import gather_export
from contacts.profiles import MergeContacts, RegisterContact, UpdateContact
from dialog_schemas import CustomerId
from dialog_schemas.contacts import CancellationFacts, PurchaseFacts, WithdrawalFacts
from dialogkit.auth import scope
from dialogkit.config import DATA_KEYS_SCOPE
from dialogkit.customers import serves_merged_customers
from dialogkit.http import ApiRuntime, IdempotencyKey, get_runtime
from dialogkit.problem_docs import PUBLISHES_NOTHING

router = APIRouter(prefix="/v1", tags=["contacts"])
WRITE = scope("contacts:write")
PROFILE = scope("contacts:read", personal=views.PROFILE_PERSONAL, audit="profile")
DATA_KEYS = scope(DATA_KEYS_SCOPE)
"""Only the services that seal or open personal data hold it."""
Runtime = Annotated[ApiRuntime[Settings], Depends(get_runtime)]


@router.post("/customers/{customer_id}", status_code=201, dependencies=[WRITE])
async def register_customer(
    customer_id: CustomerId,
    command: RegisterContact,
    runtime: Runtime,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> Accepted:
    """Register a customer; contact points of erased customers come back suppressed. Retried
    with the same Idempotency-Key the first answer repeats; without one, a second is 409."""
    return await run(runtime, response, customer_id, command, idempotency_key)


@router.get("/customers/{customer_id}", dependencies=[PROFILE])
async def get_customer(customer_id: CustomerId, runtime: Runtime) -> dict[str, Any]:
    """The profile, with purchases and contracts."""
    row = await views.current(runtime.pool, customer_id)
    return await views.profile_document(runtime.pool, customer_id, row)


@router.get(
    "/customers/{customer_id}/export", dependencies=[scope("contacts:export", audit="export")]
)
async def export_customer(customer_id: CustomerId, runtime: Runtime) -> dict[str, Any]:
    """Everything held about the customer in every service, as one document (GDPR Art. 15).

    An erased customer's export shows what remains: facts without personal data.
    """
    row = await views.registered(runtime.pool, customer_id)
    own = await views.profile_document(runtime.pool, customer_id, row)
    return await gather_export(customer_id, own, runtime.settings)


@router.patch("/customers/{customer_id}", status_code=202, dependencies=[WRITE])
async def update_customer(
    customer_id: CustomerId,
    command: UpdateContact,
    runtime: Runtime,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> Accepted:
    """Change some details; a retried request with the same Idempotency-Key records once."""
    return await run(runtime, response, customer_id, command, idempotency_key)


@router.post("/customers/{customer_id}/purchases", status_code=202, dependencies=[WRITE])
async def record_customer_purchase(
    customer_id: CustomerId, facts: PurchaseFacts, runtime: Runtime, response: Response
) -> Accepted:
    """Record a purchase; the same purchase id is recorded once."""
    return await run(runtime, response, customer_id, facts)


@router.post("/customers/{customer_id}/contracts", status_code=202, dependencies=[WRITE])
async def start_contract(
    customer_id: CustomerId, command: StartContract, runtime: Runtime, response: Response
) -> Accepted:
    """Record the start of a contract."""
    return await run(runtime, response, customer_id, command)


@router.post("/customers/{customer_id}/cancellations", status_code=202, dependencies=[WRITE])
async def cancel_contract(
    customer_id: CustomerId, facts: CancellationFacts, runtime: Runtime, response: Response
) -> Accepted:
    """Record a cancellation: the trigger for a retention campaign."""
    return await run(runtime, response, customer_id, facts)


@router.post(
    "/customers/{customer_id}/cancellation-withdrawals", status_code=202, dependencies=[WRITE]
)
async def withdraw_cancellation(
    customer_id: CustomerId, facts: WithdrawalFacts, runtime: Runtime, response: Response
) -> Accepted:
    """Record that a cancellation was withdrawn (the contract runs on): a retention outreach it
    triggered and not yet decided is cancelled. Recorded once per contract."""
    return await run(runtime, response, customer_id, facts)


@router.post(
    "/customers/{customer_id}/merge",
    status_code=202,
    dependencies=[scope("contacts:write", audit="merge")],
)
async def merge_customers(
    customer_id: CustomerId, command: MergeContacts, runtime: Runtime, response: Response
) -> Accepted:
    """Merge a duplicate into this customer; its history, contact points and products follow.

    The same merge again repeats the first answer."""
    return await run(runtime, response, customer_id, command)


@router.post(
    "/customers/{customer_id}/erasure",
    status_code=202,
    dependencies=[scope("contacts:erase", audit="erasure")],
)
async def erase_customer(customer_id: CustomerId, runtime: Runtime, response: Response) -> Accepted:
    """Erase (GDPR Art. 17): keep contact points only as salted hashes, then destroy the data
    keys (the customer's and those of duplicates merged into them)."""
    return await run(runtime, response, customer_id, Erase())


@router.get("/data-keys/{customer_id}", dependencies=[DATA_KEYS])
@serves_merged_customers  # a duplicate's events stay sealed with its own key
async def get_data_key(customer_id: CustomerId, runtime: Runtime) -> views.DataKeyView:
    """The customer's data key, for services that read personal data; 410 once erased."""
    return await views.data_key(runtime.pool, customer_id, create=False)


@router.post("/data-keys/{customer_id}", dependencies=[DATA_KEYS], openapi_extra=PUBLISHES_NOTHING)
@serves_merged_customers
async def get_or_create_data_key(customer_id: CustomerId, runtime: Runtime) -> views.DataKeyView:
    """The customer's data key, made on first use, for services that seal personal data."""
    return await views.data_key(runtime.pool, customer_id, create=True)


@router.get("/contact-points", dependencies=[scope("contacts:read")])
async def search_contact_point(
    runtime: Runtime,
    phone: Annotated[str | None, Query(max_length=64)] = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
) -> dict[str, list[str]]:
    """Customers with this phone number (any format) or email address."""
    return {"customer_ids": await views.customers_at(runtime.pool, phone=phone, email=email)}
