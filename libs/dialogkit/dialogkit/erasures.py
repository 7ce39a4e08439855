"""Asking whether a contact point belonged to an erased customer: a port, its HTTP adapter and
an in-memory fake.

The contacts service keeps the salted hashes of erased customers' phone numbers and email
addresses (GDPR Art. 17) and answers `POST /v1/contact-points/suppression`. Services that take a
contact point from their own commands (a consent grant) ask it through this port.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from dialogkit.http_metrics import PeerClient
from dialogkit.problems import Problem
from dialogkit.tokens import TokenSource

Match = dict[str, Any]
"""`{"contact_point_hash": str, "channels": [channel, ...], "erased_at": ISO 8601 time}`"""


class ErasedContactPoints(Protocol):
    async def matches(self, contact_point: str) -> list[Match]:
        """The erased contact points this phone number or email address is; [] if none.

        Raises Problem 503 when the contacts service cannot be asked.
        """


class HttpErasedContactPoints:
    """The contacts service's answer, over HTTP with a token of the `contacts:suppression` scope."""

    def __init__(
        self,
        base_url: str,
        token: TokenSource | str,
        timeout_s: float = 10,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.peer = PeerClient(
            base_url,
            token,
            target="contacts",
            operation="suppression",
            timeout_s=timeout_s,
            transport=transport,
        )

    async def matches(self, contact_point: str) -> list[Match]:
        field_name = "email_addresses" if "@" in contact_point else "phone_numbers"
        try:
            response = await self.peer.client().post(
                "/v1/contact-points/suppression", json={field_name: [contact_point]}
            )
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise Problem(
                503,
                "Contacts unavailable",
                f"cannot check the contact point against erased ones: {error}",
            ) from None
        matches: list[Match] = response.json()["matches"]
        return matches


@dataclass
class InMemoryErasedContactPoints:
    """Erased contact points held in memory, for unit tests; keyed by the contact point."""

    erased: dict[str, list[Match]] = field(default_factory=dict)

    async def matches(self, contact_point: str) -> list[Match]:
        return list(self.erased.get(contact_point, []))
