"""Access (GDPR Art. 15): one JSON document of everything the platform holds about a customer.

Each service answers for its own read model over its HTTP API; the export asks them all at once
and puts the answers together. A service that cannot answer fails the export with a problem that
names it: an export that silently lacks a part would tell the customer something untrue.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any, cast

import httpx

from contacts.config import Settings
from dialogkit.problems import Problem
from dialogkit.tokens import BearerAuth
from dialogkit.tracing import current_traceparent

PAGE = 500
PEER_SCOPES = {
    "consent": ("consent:read", "consent:proof", "consent:read-personal"),
    "interactions": ("interactions:read", "interactions:read-personal"),
    "campaigns": ("campaigns:read",),
}
"""What the export may do at each other service: read everything held about one customer."""


class Peer:
    """One other service's API, as the export reads it."""

    def __init__(self, name: str, client: httpx.AsyncClient) -> None:
        self.name = name
        self.client = client

    async def get(self, path: str, **params: Any) -> Any | None:
        """The JSON answer, or None where the service holds nothing about the customer (404)."""
        try:
            response = await self.client.get(path, params=params)
        except httpx.HTTPError as error:
            raise Problem(
                503,
                "Export incomplete",
                f"the {self.name} service could not be asked ({type(error).__name__}: {error})",
                service=self.name,
            ) from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise Problem(
                502,
                "Export incomplete",
                f"the {self.name} service answered {response.status_code} to {path}",
                service=self.name,
            )
        return response.json()

    async def pages(self, path: str, items: str) -> list[Any]:
        """Every item of a paged listing, following `next_cursor` to the end."""
        collected: list[Any] = []
        params: dict[str, Any] = {"limit": PAGE}
        while True:
            page = await self.get(path, **params)
            if page is None:
                return collected
            collected += page[items]
            if not page.get("next_cursor"):
                return collected
            params["cursor"] = page["next_cursor"]


def peer(name: str, url: Any, settings: Settings) -> Peer:
    headers = {}
    if traceparent := current_traceparent():
        headers["traceparent"] = traceparent
    client = httpx.AsyncClient(
        base_url=str(url).rstrip("/"),
        headers=headers,
        auth=BearerAuth(settings.service_tokens(PEER_SCOPES[name])),
        timeout=settings.export_timeout_s,
    )
    return Peer(name, client)


async def gather_export(
    customer_id: str, contacts_part: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    """The contacts part given, the others asked for in parallel."""
    consent = peer("consent", settings.consent_url, settings)
    interactions = peer("interactions", settings.interactions_url, settings)
    campaigns = peer("campaigns", settings.campaigns_url, settings)
    customer = f"/v1/customers/{customer_id}"
    asked: list[Awaitable[Any]] = [
        consent.get(f"{customer}/consents"),
        consent.get(f"{customer}/proof"),
        interactions.pages(f"{customer}/timeline", "entries"),
        interactions.pages(f"{customer}/findings", "findings"),
        campaigns.get(f"{customer}/outreach"),
    ]
    try:  # every request ends before the clients close; the first failure is the answer
        answers = await asyncio.gather(*asked, return_exceptions=True)
    finally:
        for p in (consent, interactions, campaigns):
            await p.client.aclose()
    failed = [a for a in answers if isinstance(a, BaseException)]
    if failed:
        raise failed[0]
    consents, proof, timeline, findings, outreach = cast(list[Any], answers)
    return {
        "customer_id": customer_id,
        "generated_at": datetime.now(UTC).isoformat(),
        "contacts": contacts_part,
        "consent": {
            "current": consents,
            "proof": proof,
        },
        "interactions": {"timeline": timeline, "compliance_findings": findings},
        "campaigns": {"outreach": (outreach or {}).get("outreach", [])},
    }
