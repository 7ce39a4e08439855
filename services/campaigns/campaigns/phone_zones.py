"""The phone-zones job: the time zones a customer's phone number implies, for calling hours.

Phone numbers are sealed on the contacts topic, so the facts projection cannot look at them.
This periodic job reads customers without a profile time zone whose phone numbers it has not
read yet, asks for their data keys (outside any transaction), opens the first number and stores
the zones libphonenumber gives for it (an erased customer's or an unknown number's: none). The
dispatcher does not take a call of such a customer before the job has read the number, so no
call is decided on a zone guessed too early. A changed number is read again.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import orjson

from campaigns.calling_hours import phone_zone_names
from dialogkit.pii import PREFIX, KeyStore, decrypt
from dialogkit.publishing import EventPublisher

UNREAD = (
    "f.phone_zones IS NULL AND f.time_zone IS NULL AND NOT f.erased"
    " AND f.contact_points ? 'phone_numbers'"
)
"""Facts whose phone number's zones are still to be read (alias `f` for audience_facts)."""


class PhoneZones:
    """The periodic job that reads the zones of customers' phone numbers."""

    name = "phone-zones"

    def __init__(
        self, keys: KeyStore, *, interval_s: float = 0.5, batch: int = 2000, parallel: int = 16
    ) -> None:
        self.interval_s = interval_s
        self._keys = keys
        self._batch = batch
        self._gate = asyncio.Semaphore(parallel)

    async def run(self, pool: asyncpg.Pool, publisher: EventPublisher) -> int:
        """Read every unread number; the number of customers whose zones were stored."""
        total = 0
        while rows := await pool.fetch(
            f"SELECT f.customer_id, f.contact_points->'phone_numbers' AS numbers"
            f" FROM audience_facts f WHERE {UNREAD} ORDER BY f.customer_id LIMIT $1",
            self._batch,
        ):
            found = await asyncio.gather(
                *(self._zones(r["customer_id"], r["numbers"]) for r in rows)
            )
            await pool.executemany(
                "UPDATE audience_facts SET phone_zones = $2"
                " WHERE customer_id = $1 AND contact_points->'phone_numbers' = $3::jsonb",
                [
                    (r["customer_id"], zones, r["numbers"])
                    for r, zones in zip(rows, found, strict=True)
                ],
            )
            total += len(rows)
        return total

    async def _zones(self, customer: str, stored: str) -> list[str]:
        numbers: Any = orjson.loads(stored)
        if isinstance(numbers, str) and numbers.startswith(PREFIX):
            async with self._gate:
                key = await self._keys.key_for(customer)
            if key is None:
                return []
            try:
                numbers = decrypt(key, customer, "phone_numbers", numbers)
            except (LookupError, ValueError):
                return []
        if not isinstance(numbers, list) or not numbers:
            return []
        return phone_zone_names(str(numbers[0]))
