"""A consent grant carrying a contact point is checked against erased contact points.

Contacts keeps the salted hashes of erased customers' phone numbers and email addresses and
answers, for any contact point, whether it is one of them (`POST /v1/contact-points/suppression`,
the same check its own registration, updates, merges and purchases make). A grant whose contact
point matches records `ContactPointSuppressed` for each channel the point reaches before the
grant: the new express consent itself allows contact, but once it ends the channel stays
suppressed instead of falling back to a consent-free basis (UWG §7(2), GDPR Art. 17).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from dialog_schemas import Event
from dialog_schemas.common import Channel
from dialog_schemas.consent import ContactPointSuppressed
from dialogkit.config import PersonalDataReaderSettings
from dialogkit.pii import PREFIX
from dialogkit.problems import Problem

LIST_NAME = "erased-contact-points"


async def erased_matches(
    settings: PersonalDataReaderSettings, contact_point: str | None
) -> list[dict[str, Any]]:
    """The contacts service's matches for this phone number or email address (none if absent)."""
    if contact_point is None or contact_point.startswith(PREFIX):
        return []
    field = "email_addresses" if "@" in contact_point else "phone_numbers"
    try:
        async with httpx.AsyncClient(
            base_url=str(settings.contacts_url),
            headers={"Authorization": f"Bearer {settings.contacts_api_token.get_secret_value()}"},
            timeout=10,
        ) as client:
            response = await client.post(
                "/v1/contact-points/suppression", json={field: [contact_point]}
            )
            response.raise_for_status()
    except httpx.HTTPError as error:
        raise Problem(
            503,
            "Contacts unavailable",
            f"cannot check the contact point against erased ones: {error}",
        ) from None
    matches: list[dict[str, Any]] = response.json()["matches"]
    return matches


def suppressions(matches: list[dict[str, Any]], now: datetime) -> list[Event]:
    """One `ContactPointSuppressed` per matched contact point and channel it reaches."""
    return [
        ContactPointSuppressed(
            channel=Channel(channel),
            list_name=LIST_NAME,
            list_version=match["erased_at"],
            matched_at=now,
            contact_point_hash=match["contact_point_hash"],
        )
        for match in matches
        for channel in match["channels"]
    ]
