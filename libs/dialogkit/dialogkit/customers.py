"""A merged duplicate's id means the same in every service: 410 Gone, pointing to the survivor.

Contacts merges a duplicate into a survivor (`ContactsMerged`); every service records the merge
in its own `customer_merges` table and moves the duplicate's rows to the survivor. A request that
names the duplicate, read or command alike, is answered `410 Gone` (problem+json, title
`Merged`) with `merged_into` set to the survivor, so that callers follow instead of reading an
empty history or writing to an id nothing reads any more.

`create_api` applies `refuse_merged_customers` to every route with a `customer_id` path
parameter; a route that must still serve the duplicate's own id (its data key, say) says so with
`@serves_merged_customers`. A customer id in a request body is checked with `refuse_merged`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request

from dialogkit.merges import survivor_of
from dialogkit.problems import Problem

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
_SERVES_MERGED = "serves_merged_customers"


def serves_merged_customers(endpoint: Endpoint) -> Endpoint:
    """Mark a route that answers for a merged duplicate's id itself (no 410)."""
    setattr(endpoint, _SERVES_MERGED, True)
    return endpoint


def merged_problem(customer_id: str, survivor: str) -> Problem:
    """410 Gone with the survivor's id in `merged_into`."""
    return Problem(
        410, "Merged", f"customer {customer_id} was merged into {survivor}", merged_into=survivor
    )


async def refuse_merged(db: Any, customer_id: str) -> None:
    """Raise the 410 problem if `customer_id` was merged into another customer."""
    survivor = await survivor_of(db, customer_id)
    if survivor is not None:
        raise merged_problem(customer_id, survivor)


async def refuse_merged_customers(request: Request) -> None:
    """Route dependency: a `customer_id` path parameter naming a merged duplicate answers 410."""
    customer_id = request.path_params.get("customer_id")
    route = request.scope.get("route")
    if customer_id is None or getattr(getattr(route, "endpoint", None), _SERVES_MERGED, False):
        return
    await refuse_merged(request.app.state.runtime.pool, customer_id)
