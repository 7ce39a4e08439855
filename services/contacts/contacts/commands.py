"""The contacts service's commands: for each, the state it decides on, its decision, its ids.

Event ids derive from the customer and the business key (purchase, contract, merged pair) or
the Idempotency-Key, so a retry records nothing twice. A registration waits until the profile
shows it (201, else 202); the others answer 202 once the event is on the topic. A merge and an
erasure are idempotent without a key: the same merge or erasure again repeats the first answer.
Erasure destroys the data keys (the customer's and those of duplicates merged into them) only
after `ContactErased` is on the topic; if that fails, a retry completes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4, uuid5

import orjson
from fastapi import Response
from pydantic import BaseModel

from contacts import domain, profiles, views
from contacts.config import Settings
from contacts.suppression import suppressed
from dialog_schemas import Event
from dialog_schemas.catalog import CONTACTS_EVENTS
from dialog_schemas.common import Channel
from dialog_schemas.contacts import CancellationFacts, PurchaseFacts, WithdrawalFacts
from dialogkit.commands import CommandTable, Context, Handler, Ids, Outcome, Ports, execute
from dialogkit.http import answered
from dialogkit.keys import PostgresKeyStore
from dialogkit.pii import PREFIX

NS = domain.CONTACTS_NAMESPACE
Ctx = Context[Settings]


class Accepted(BaseModel):
    customer_id: str
    event_id: UUID
    applied: bool = False
    replayed: bool = False
    """True when this command was recorded before and the answer repeats the first one."""
    suppressed_channels: list[Channel] = []

    @classmethod
    def of(cls, customer_id: str, outcome: Outcome, response: Response) -> Accepted:
        answered(response, outcome)
        return cls(
            customer_id=customer_id,
            event_id=outcome.event_ids[0],
            applied=outcome.applied,
            replayed=outcome.replayed,
            **outcome.answer,
        )


async def run(
    ports: Ports[Settings],
    response: Response,
    customer_id: str,
    command: Any,
    key: str | None = None,
) -> Accepted:
    """Execute a contacts command on the shared path and shape its answer."""
    outcome = await execute(ports, COMMANDS, customer_id, command, key)
    return Accepted.of(customer_id, outcome, response)


@dataclass(frozen=True)
class Erase:
    """Erase the customer (GDPR Art. 17)."""


@dataclass(frozen=True)
class Known:
    """What a command decides on: the customer's profile row (None if never registered), and
    the channels on which the contact points the command adds belonged to an erased customer."""

    row: Any
    suppressed: list[Channel]


@dataclass(frozen=True)
class Merging:
    survivor_active: bool
    duplicate_active: bool
    suppressed: list[Channel]
    """Channels of the duplicate's contact points (which the survivor takes) that were erased."""


@dataclass(frozen=True)
class Erasable:
    contact_points: list[str]
    owners: list[str]
    """The customer and the duplicates merged into them: each has a data key to destroy."""


def salt(settings: Settings) -> str:
    return settings.suppression_salt.get_secret_value()


async def erased_channels(
    ports: Ports[Settings], phones: Iterable[str] = (), emails: Iterable[str] = ()
) -> list[Channel]:
    """Suppression on every path that adds a contact point (GDPR Art. 17, UWG §7)."""
    found = await suppressed(ports.pool, salt(ports.settings), phones=phones, emails=emails)
    return found.channels


async def registration(
    ports: Ports[Settings], customer_id: str, command: profiles.RegisterContact
) -> Known:
    row = await views.profile_row(ports.pool, customer_id)
    phones, emails = command.phone_numbers, command.email_addresses
    return Known(row, await erased_channels(ports, phones, emails))


async def updating(
    ports: Ports[Settings], customer_id: str, command: profiles.UpdateContact
) -> Known:
    row = await views.current(ports.pool, customer_id)
    phones, emails = command.phone_numbers or [], command.email_addresses or []
    return Known(row, await erased_channels(ports, phones, emails))


async def purchasing(ports: Ports[Settings], customer_id: str, facts: PurchaseFacts) -> Known:
    row = await views.current(ports.pool, customer_id)
    address = facts.email_address
    emails = [address] if isinstance(address, str) and not address.startswith(PREFIX) else []
    return Known(row, await erased_channels(ports, emails=emails))


async def active(ports: Ports[Settings], customer_id: str, command: Any) -> Known:
    return Known(await views.current(ports.pool, customer_id), [])


async def pair(
    ports: Ports[Settings], customer_id: str, command: profiles.MergeContacts
) -> Merging:
    """Whether survivor and duplicate are both registered, not erased, not merged away."""
    survivor = await views.profile_row(ports.pool, customer_id)
    duplicate = await views.profile_row(ports.pool, command.merged_customer_id)
    taken = orjson.loads(duplicate["profile"]) if _active(duplicate) else {}
    phones, emails = taken.get("phone_numbers") or [], taken.get("email_addresses") or []
    suppressed_there = await erased_channels(ports, phones, emails)
    return Merging(_active(survivor), _active(duplicate), suppressed_there)


def _active(row: Any) -> bool:
    return row is not None and row["erased_at"] is None and row["merged_into"] is None


async def erasable(ports: Ports[Settings], customer_id: str, command: Erase) -> Erasable:
    row = await views.registered(ports.pool, customer_id)
    profile = orjson.loads(row["profile"])
    merged = await ports.pool.fetch(
        "SELECT duplicate FROM customer_merges WHERE survivor = $1", customer_id
    )
    return Erasable(
        [*(profile.get("phone_numbers") or []), *(profile.get("email_addresses") or [])],
        [customer_id, *(r["duplicate"] for r in merged)],
    )


async def destroy_keys(ports: Ports[Settings], customer_id: str, state: Erasable) -> None:
    keys = PostgresKeyStore(ports.pool)
    for owner in state.owners:
        await keys.destroy(owner)


def keyed(name: str, fresh: bool = False) -> Any:
    """Ids chained from `<customer>/<name>/<key>`; without a key, from the command's content
    (a corrected retry is a new event) or, if `fresh`, random."""

    def ids(customer_id: str, command: Any, key: str | None) -> Ids:
        content = hashlib.sha256(command.model_dump_json().encode()).hexdigest()
        what = key or (uuid4() if fresh else f"content:{content}")
        return Ids.chained(uuid5(NS, f"{customer_id}/{name}/{what}"))

    return ids


def _register(known: Known, command: profiles.RegisterContact, ctx: Ctx) -> list[Event]:
    event = profiles.register(known.row is not None, command, ctx.now)
    return [event.model_copy(update={"suppressed_channels": known.suppressed})]


def _update(known: Known, command: profiles.UpdateContact, ctx: Ctx) -> list[Event]:
    event = profiles.update(True, command, ctx.now)
    return [event.model_copy(update={"suppressed_channels": known.suppressed})]


def _purchase(known: Known, facts: PurchaseFacts, ctx: Ctx) -> list[Event]:
    event = domain.record_purchase(facts, ctx.now)
    return [event.model_copy(update={"suppressed_channels": known.suppressed})]


def _merge(given: Merging, command: profiles.MergeContacts, ctx: Ctx) -> list[Event]:
    active = (given.survivor_active, given.duplicate_active)
    event = profiles.merge(ctx.subject, *active, command, ctx.now)
    return [event.model_copy(update={"suppressed_channels": given.suppressed})]


def _suppressed(known: Known | Merging, command: Any, ctx: Ctx) -> dict[str, Any]:
    return {"suppressed_channels": known.suppressed}


def _erase(state: Erasable, command: Erase, ctx: Ctx) -> list[Event]:
    hashes = [profiles.contact_point_hash(v, salt(ctx.settings)) for v in state.contact_points]
    return [domain.erase(ctx.subject, hashes, ctx.now)]


def by(derive: Any) -> Any:
    """Ids chained from a business key: `derive(customer_id, command)` is the event id."""
    return lambda customer_id, command, key: Ids.chained(derive(customer_id, command))


def _contract_id(customer_id: str, command: domain.StartContract) -> UUID:
    return uuid5(NS, f"{customer_id}/contract/{command.contract_id}")


COMMANDS: CommandTable[Settings] = CommandTable(
    topic=CONTACTS_EVENTS,
    confirmed_by="contacts.profiles",
    handlers={
        profiles.RegisterContact: Handler(
            registration, _register, keyed("registered"), answer=_suppressed, wait=True
        ),
        profiles.UpdateContact: Handler(
            updating, _update, keyed("update", fresh=True), answer=_suppressed
        ),
        PurchaseFacts: Handler(
            purchasing,
            _purchase,
            by(lambda customer_id, c: domain.purchase_event_id(customer_id, c.purchase_id)),
            answer=_suppressed,
        ),
        domain.StartContract: Handler(
            active,
            lambda row, command, ctx: [domain.start_contract(command, ctx.now)],
            by(_contract_id),
        ),
        CancellationFacts: Handler(
            active,
            lambda row, command, ctx: [domain.record_cancellation(command, ctx.now)],
            by(lambda customer_id, c: domain.cancellation_event_id(customer_id, c.contract_id)),
        ),
        WithdrawalFacts: Handler(
            active,
            lambda row, command, ctx: [domain.record_withdrawal(command, ctx.now)],
            by(lambda customer_id, c: domain.withdrawal_event_id(customer_id, c.contract_id)),
        ),
        profiles.MergeContacts: Handler(
            pair,
            _merge,
            by(lambda customer_id, c: uuid5(NS, f"{customer_id}/merge/{c.merged_customer_id}")),
            answer=_suppressed,
            natural_key=lambda command: f"merge/{command.merged_customer_id}",
        ),
        Erase: Handler(
            erasable,
            _erase,
            by(lambda customer_id, c: uuid5(NS, f"{customer_id}/erased")),
            natural_key=lambda command: "erasure",
            after=destroy_keys,
        ),
    },
)
