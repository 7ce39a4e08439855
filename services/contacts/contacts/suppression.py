"""Suppression of erased contact points, checked the same way on every path that adds one.

An erased customer's phone numbers and email addresses stay blocked for marketing as salted
hashes (`suppressed_contact_points`). Whatever gives a customer a contact point (registration,
an update, a merge, a purchase from the API or the shop ingress, a consent grant asked about
over `POST /v1/contact-points/suppression`) asks `suppressed` and carries the channels it
answers on its event; the consent rules keep those channels suppressed for the customer until
a new express consent (UWG §7(2), GDPR Art. 17).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict

from contacts.config import Settings
from contacts.profiles import contact_point_hash
from dialog_schemas.common import Channel
from dialog_schemas.contacts import ProductPurchased
from dialogkit.auth import scope
from dialogkit.config import SUPPRESSION_SCOPE
from dialogkit.contactpoints import Email, Phone, normalize_email, normalize_phone
from dialogkit.http import ApiRuntime, get_runtime
from dialogkit.pii import PREFIX
from dialogkit.problem_docs import PUBLISHES_NOTHING

router = APIRouter(prefix="/v1", tags=["contacts"])
Runtime = Annotated[ApiRuntime[Settings], Depends(get_runtime)]
PHONE_CHANNELS = frozenset({Channel.PHONE, Channel.SMS})
"""A number reaches its holder by call and by SMS."""
EMAIL_CHANNELS = frozenset({Channel.EMAIL})


@dataclass(frozen=True)
class Match:
    contact_point_hash: str
    channels: frozenset[Channel]
    erased_at: datetime


@dataclass(frozen=True)
class Suppression:
    """What a check found: each suppressed contact point, and the channels they block."""

    matches: tuple[Match, ...] = field(default=())

    @property
    def channels(self) -> list[Channel]:
        return sorted({c for m in self.matches for c in m.channels})


async def suppressed(
    db: Any, salt: str, *, phones: Iterable[str] = (), emails: Iterable[str] = ()
) -> Suppression:
    """Which of these normalized contact points belonged to an erased customer; `db` is the
    contacts database (a pool or connection)."""
    channels: dict[str, set[Channel]] = {}
    for phone in phones:
        point = _normalized(normalize_phone, phone)
        channels.setdefault(contact_point_hash(point, salt), set()).update(PHONE_CHANNELS)
    for email in emails:
        point = _normalized(normalize_email, email)
        channels.setdefault(contact_point_hash(point, salt), set()).update(EMAIL_CHANNELS)
    if not channels:
        return Suppression()
    rows = await db.fetch(
        "SELECT hash, erased_at FROM suppressed_contact_points WHERE hash = ANY($1::text[])"
        " ORDER BY hash",
        list(channels),
    )
    return Suppression(
        tuple(Match(r["hash"], frozenset(channels[r["hash"]]), r["erased_at"]) for r in rows)
    )


def _normalized(normalize: Callable[[str], str], value: str) -> str:
    """The form registration stores (and erasure hashes); a value already refused stays as is."""
    try:
        return normalize(value)
    except ValueError:
        return value


def purchase_emails(event: ProductPurchased) -> list[str]:
    """The address obtained with a purchase, if there is one and it is not sealed yet."""
    address = event.email_address
    return [address] if isinstance(address, str) and not address.startswith(PREFIX) else []


class SuppressionQuery(BaseModel):
    """Contact points about to be given to a customer (in any format)."""

    model_config = ConfigDict(extra="forbid")
    phone_numbers: list[Phone] = []
    email_addresses: list[Email] = []


class SuppressionMatch(BaseModel):
    contact_point_hash: str
    channels: list[Channel]
    erased_at: datetime


class SuppressionAnswer(BaseModel):
    suppressed_channels: list[Channel]
    """Channels that stay blocked for marketing without a new express consent."""
    matches: list[SuppressionMatch]


@router.post(
    "/contact-points/suppression",
    dependencies=[scope(SUPPRESSION_SCOPE)],
    openapi_extra=PUBLISHES_NOTHING,
)
async def check_suppression(query: SuppressionQuery, runtime: Runtime) -> SuppressionAnswer:
    """Which of these contact points belonged to an erased customer (GDPR Art. 17, UWG §7).

    For services that give a customer a contact point (a consent grant carrying one): the same
    check registration, updates, merges and purchases make here."""
    found = await suppressed(
        runtime.pool,
        runtime.settings.suppression_salt.get_secret_value(),
        phones=query.phone_numbers,
        emails=query.email_addresses,
    )
    return SuppressionAnswer(
        suppressed_channels=found.channels,
        matches=[
            SuppressionMatch(
                contact_point_hash=m.contact_point_hash,
                channels=sorted(m.channels),
                erased_at=m.erased_at,
            )
            for m in found.matches
        ],
    )
