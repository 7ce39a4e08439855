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

from dialog_schemas import Event
from dialog_schemas.common import Channel
from dialog_schemas.consent import ContactPointSuppressed
from dialogkit.erasures import ErasedContactPoints
from dialogkit.pii import PREFIX

LIST_NAME = "erased-contact-points"


async def erased_matches(
    erased: ErasedContactPoints, contact_point: str | None
) -> list[dict[str, Any]]:
    """The contacts service's matches for this phone number or email address (none if absent
    or already sealed); Problem 503 when contacts cannot be asked."""
    if contact_point is None or contact_point.startswith(PREFIX):
        return []
    return await erased.matches(contact_point)


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
