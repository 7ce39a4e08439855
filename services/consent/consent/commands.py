"""The consent service's commands: for each, the state it decides on, its decision, its ids.

Every command decides on the customer's current consent state, waits until the consent history
shows its events (`command_wait_s`; then 200/201, else 202), and derives its event ids from the
customer and the Idempotency-Key (a new consent's and objection's ids too).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from fastapi import Response
from pydantic import BaseModel

from consent import domain
from consent.config import Settings
from consent.suppression import erased_matches, suppressions
from consent.views import known_state
from consentledger.domain import DOUBLE_OPT_IN, ConsentState
from dialog_schemas.catalog import CONSENT_EVENTS
from dialogkit.commands import CommandTable, Context, Handler, Ids, Outcome, Ports
from dialogkit.http import answered
from dialogkit.problems import Problem

COMMAND_NAMESPACE = UUID("8a6f2e1c-3d4b-4c5a-9e7f-0b1c2d3e4f50")


class CommandResult(BaseModel):
    event_ids: list[UUID]
    applied: bool
    """True once the read model shows the events; false (HTTP 202) while it does not yet."""
    replayed: bool = False
    """True when the key was used before and this answer repeats the first one."""
    consent_id: UUID | None = None
    confirmation_token: str | None = None
    """Email and SMS grants without a token of their own: the token for the double opt-in link
    (only its holder can confirm; the service keeps only its hash)."""

    @classmethod
    def of(cls, outcome: Outcome, response: Response) -> CommandResult:
        answered(response, outcome)
        return cls(
            event_ids=outcome.event_ids,
            applied=outcome.applied,
            replayed=outcome.replayed,
            **outcome.answer,
        )


@dataclass(frozen=True)
class Confirm:
    """Confirm the consent `consent_id` (the path names it, the body says how)."""

    consent_id: UUID
    body: domain.ConfirmConsent


@dataclass(frozen=True)
class Use:
    """Record a use of the consent `consent_id`."""

    consent_id: UUID
    body: domain.RecordUse


async def current(ports: Ports[Settings], customer_id: str, command: Any) -> ConsentState:
    """The customer's consent state; 404 if never registered, 410 once erased."""
    state = await known_state(ports.pool, customer_id)
    if state.erased_at is not None:
        raise Problem(
            410, "Erased", f"customer {customer_id} was erased", erased_at=str(state.erased_at)
        )
    return state


@dataclass(frozen=True)
class Granting:
    """What a grant decides on: the state, and erased contact points its own one matches."""

    state: ConsentState
    erased: list[dict[str, Any]]


async def granting(
    ports: Ports[Settings], customer_id: str, command: domain.GrantConsent
) -> Granting:
    """The state, and contacts' answer whether the grant's contact point was erased (503 if
    contacts cannot be asked)."""
    state = await current(ports, customer_id, command)
    assert ports.erased_contact_points is not None
    return Granting(state, await erased_matches(ports.erased_contact_points, command.contact_point))


def ids(customer_id: str, command: Any, key: str | None) -> Ids:
    return Ids.numbered(COMMAND_NAMESPACE, f"{customer_id}/{key or uuid4()}")


Ctx = Context[Settings]
State = ConsentState


def issue_token(settings: Settings, consent_id: UUID) -> str:
    """The double opt-in token of a consent: HMAC of its id, so a retried grant gets the same."""
    key = settings.confirmation_secret.get_secret_value().encode()
    return hmac.new(key, consent_id.bytes, hashlib.sha256).hexdigest()


def issued_token(command: domain.GrantConsent, ctx: Ctx) -> str | None:
    """The token this service issues for a double opt-in grant that brings none of its own."""
    if command.channel in DOUBLE_OPT_IN and command.confirmation_token is None:
        return issue_token(ctx.settings, ctx.ids("consent"))
    return None


def _grant(given: Granting, command: domain.GrantConsent, ctx: Ctx) -> list[Any]:
    """An erased contact point is suppressed on its channels first, then the grant (UWG §7(2))."""
    consent_id, issued = ctx.ids("consent"), issued_token(command, ctx)
    return [
        *suppressions(given.erased, ctx.now),
        *domain.grant(
            given.state, command, consent_id=consent_id, now=ctx.now, issued_token=issued
        ),
    ]


def _confirm(state: State, command: Confirm, ctx: Ctx) -> list[Any]:
    return domain.confirm(
        state,
        command.consent_id,
        command.body,
        now=ctx.now,
        expiry=ctx.settings.expiry,
        confirm_within=ctx.settings.confirm_within,
    )


def _withdraw(state: State, command: domain.WithdrawConsent, ctx: Ctx) -> list[Any]:
    return domain.withdraw(state, command, now=ctx.now, expiry=ctx.settings.expiry)


def _object(state: State, command: domain.RecordObjection, ctx: Ctx) -> list[Any]:
    return domain.object_to_marketing(
        state, command, objection_id=ctx.ids("objection"), now=ctx.now
    )


def _use(state: State, command: Use, ctx: Ctx) -> list[Any]:
    expiry = ctx.settings.expiry
    return domain.record_use(state, command.consent_id, command.body, now=ctx.now, expiry=expiry)


def _new_consent(given: Granting, command: domain.GrantConsent, ctx: Ctx) -> dict[str, Any]:
    return {"consent_id": str(ctx.ids("consent")), "confirmation_token": issued_token(command, ctx)}


COMMANDS: CommandTable[Settings] = CommandTable(
    topic=CONSENT_EVENTS,
    confirmed_by="consent.history",
    handlers={
        domain.GrantConsent: Handler(granting, _grant, ids, answer=_new_consent, wait=True),
        Confirm: Handler(current, _confirm, ids, wait=True),
        domain.WithdrawConsent: Handler(current, _withdraw, ids, wait=True),
        domain.RecordObjection: Handler(current, _object, ids, wait=True),
        Use: Handler(current, _use, ids, wait=True),
    },
)
