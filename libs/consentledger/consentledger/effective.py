"""When an event takes effect: the time the fact it records holds from.

It differs from when the event was recorded: a consent captured on paper is granted when it was
captured, a purchase reported late was made when it was made. Histories are folded by this
time, so a later record of an earlier fact counts from when it happened.
"""

from __future__ import annotations

from datetime import datetime
from functools import singledispatch

from dialog_schemas import Event
from dialog_schemas.consent import (
    ChannelObjectionRecorded,
    ConsentConfirmed,
    ConsentExpired,
    ConsentGranted,
    ConsentRevoked,
    ConsentUsed,
    ContactPointSuppressed,
    ObjectionLifted,
    ObjectionRecorded,
)
from dialog_schemas.contacts import (
    ContactErased,
    ContactRegistered,
    ContactUpdated,
    ProductPurchased,
)


@singledispatch
def effective_at(event: Event) -> datetime | None:
    """When an event takes effect; None for events without a time of their own."""
    return None


effective_at.register(ConsentGranted, lambda e: e.evidence.captured_at)
effective_at.register(ConsentConfirmed, lambda e: e.confirmed_at)
effective_at.register(ConsentRevoked, lambda e: e.revoked_at)
effective_at.register(ConsentUsed, lambda e: e.used_at)
effective_at.register(ConsentExpired, lambda e: e.expired_at)
effective_at.register(ObjectionRecorded, lambda e: e.objected_at)
effective_at.register(ObjectionLifted, lambda e: e.lifted_at)
effective_at.register(ChannelObjectionRecorded, lambda e: e.objected_at)
effective_at.register(ContactPointSuppressed, lambda e: e.matched_at)
effective_at.register(ContactRegistered, lambda e: e.registered_at)
effective_at.register(ContactUpdated, lambda e: e.updated_at)
effective_at.register(ProductPurchased, lambda e: e.purchased_at)
effective_at.register(ContactErased, lambda e: e.erased_at)
