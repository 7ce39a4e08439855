"""Data keys over HTTP, for the services that seal or open personal data (crypto-shredding).

Only tokens with the `data-keys` scope reach these routes. A duplicate merged into a survivor
keeps its own key: its events stay sealed with it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from contacts import views
from contacts.config import Settings
from dialog_schemas import CustomerId
from dialogkit.auth import scope
from dialogkit.config import DATA_KEYS_SCOPE
from dialogkit.customers import serves_merged_customers
from dialogkit.http import ApiRuntime, get_runtime
from dialogkit.keys import BATCH_LIMIT, PostgresKeyStore
from dialogkit.problem_docs import PUBLISHES_NOTHING

router = APIRouter(prefix="/v1", tags=["data keys"], dependencies=[scope(DATA_KEYS_SCOPE)])
Runtime = Annotated[ApiRuntime[Settings], Depends(get_runtime)]


class DataKeysRequest(BaseModel):
    customer_ids: list[CustomerId] = Field(min_length=1, max_length=BATCH_LIMIT)
    create: bool = False
    """Make a key for each customer who has none yet (for sealing)."""


class DataKeys(BaseModel):
    keys: list[views.DataKeyView]
    erased: list[str]
    """Customers whose key an erasure destroyed."""
    missing: list[str]
    """Customers without a key (never sealed for, and `create` was false)."""


@router.get("/data-keys/{customer_id}")
@serves_merged_customers  # a duplicate's events stay sealed with its own key
async def get_data_key(customer_id: CustomerId, runtime: Runtime) -> views.DataKeyView:
    """The customer's data key, for services that read personal data; 404 if none was ever
    made, 410 once erased."""
    return await views.data_key(runtime.pool, customer_id, create=False)


@router.post("/data-keys/{customer_id}", openapi_extra=PUBLISHES_NOTHING)
@serves_merged_customers
async def get_or_create_data_key(customer_id: CustomerId, runtime: Runtime) -> views.DataKeyView:
    """The customer's data key, made on first use, for services that seal personal data; 410
    once erased."""
    return await views.data_key(runtime.pool, customer_id, create=True)


@router.post("/data-keys", openapi_extra=PUBLISHES_NOTHING)
async def data_keys(request: DataKeysRequest, runtime: Runtime) -> DataKeys:
    """The data keys of up to 1,000 customers in one request (made on first use with
    `create`): one answer per customer, in `keys`, `erased` or `missing`. A batch of a stream
    worker asks once instead of once per customer."""
    store = PostgresKeyStore(runtime.pool)
    keys = await store.keys_for(request.customer_ids, create=request.create)
    erased = await views.erased_keys(runtime.pool, [c for c, k in keys.items() if k is None])
    gone = set(erased)
    return DataKeys(
        keys=[views.key_view(c, k) for c, k in keys.items() if k is not None],
        erased=erased,
        missing=[c for c, k in keys.items() if k is None and c not in gone],
    )
