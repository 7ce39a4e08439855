"""HTTP API of the consent service: commands, state, eligibility and the proof bundle.

Commands are idempotent by the `Idempotency-Key` header: event ids (and the new consent's id)
are derived from customer and key, so a retried POST publishes nothing new once its events are
recorded, and events published twice are applied once. A command waits up to
`command_wait_s` to see its events in the read model (then 200/201) and otherwise answers 202.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID, uuid4, uuid5

from fastapi import APIRouter, Query, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from consent import commands
from consent.config import Settings
from consent.proof import open_contact_points, proof_bundle, render_html
from consent.suppression import erased_matches, suppressions
from consentledger.domain import DOUBLE_OPT_IN, ConsentState
from consentledger.eligibility import eligibility
from consentledger.store import load_state, recorded
from dialog_schemas import CustomerId, Envelope, Event
from dialog_schemas.catalog import CONSENT_EVENTS
from dialog_schemas.common import BlockReason, Channel, Instant, LegalBasis, Purpose
from dialog_schemas.consent import ConsentStatus
from dialogkit.audit import without
from dialogkit.auth import Caller, scope
from dialogkit.http import ApiRuntime, IdempotencyKey, Runtime
from dialogkit.problems import Problem
from dialogkit.rules import NotFound
from dialogkit.tracing import current_traceparent

router = APIRouter(prefix="/v1/customers/{customer_id}", tags=["consent"])
READ = scope("consent:read")
WRITE = scope("consent:write")
PROOF_PERSONAL = ("contact_point",)
"""Members of the proof bundle that are personal data (`consent:read-personal`)."""
COMMAND_NAMESPACE = UUID("8a6f2e1c-3d4b-4c5a-9e7f-0b1c2d3e4f50")
MAX_EVENTS_PER_COMMAND = 256


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


class Ids:
    """Ids derived from the customer and the idempotency key."""

    def __init__(self, customer_id: str, key: str | None) -> None:
        self.base = f"{customer_id}/{key or uuid4()}"

    def __call__(self, name: str) -> UUID:
        return uuid5(COMMAND_NAMESPACE, f"{self.base}/{name}")


Decide = Callable[[ConsentState, datetime], list[Event]]


async def execute(
    runtime: ApiRuntime, response: Response, customer_id: str, ids: Ids, decide: Decide
) -> CommandResult:
    earlier = await recorded(
        runtime.pool, [ids(f"event-{i}") for i in range(MAX_EVENTS_PER_COMMAND)]
    )
    if earlier:
        return CommandResult(
            event_ids=[r["event_id"] for r in earlier], applied=True, replayed=True
        )
    state = await known_state(runtime, customer_id)
    if state.erased_at is not None:
        raise Problem(
            410, "Erased", f"customer {customer_id} was erased", erased_at=str(state.erased_at)
        )
    now = datetime.now(UTC)
    envelopes = [
        Envelope.wrap(
            event,
            id=ids(f"event-{i}"),
            source=f"/{runtime.service}/api",
            subject=customer_id,
            time=now,
            traceparent=current_traceparent(),
        )
        for i, event in enumerate(decide(state, now))
    ]
    envelopes = await runtime.cipher.seal_envelopes(envelopes)
    await runtime.publisher.publish(CONSENT_EVENTS.name, envelopes)
    event_ids = [e.id for e in envelopes]
    applied = await wait_applied(runtime, event_ids)
    if not applied:
        response.status_code = 202
    return CommandResult(event_ids=event_ids, applied=applied)


async def wait_applied(runtime: ApiRuntime, event_ids: list[UUID]) -> bool:
    assert isinstance(runtime.settings, Settings)
    deadline = time.monotonic() + runtime.settings.command_wait_s
    while True:
        if len(await recorded(runtime.pool, event_ids)) == len(event_ids):
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.02)


async def known_state(
    runtime: ApiRuntime, customer_id: str, at: datetime | None = None
) -> ConsentState:
    state = await load_state(runtime.pool, customer_id, at)
    if state is None:
        raise NotFound(
            f"customer {customer_id} is not known; customers become known when contacts"
            " registers them"
        )
    return state


def settings_of(runtime: ApiRuntime) -> Settings:
    assert isinstance(runtime.settings, Settings)
    return runtime.settings


def issue_token(settings: Settings, consent_id: UUID) -> str:
    """The double opt-in token of a consent: HMAC of its id, so a retried grant gets the same."""
    key = settings.confirmation_secret.get_secret_value().encode()
    return hmac.new(key, consent_id.bytes, hashlib.sha256).hexdigest()


@router.post("/consents", status_code=201, dependencies=[WRITE])
async def grant_consent(
    customer_id: CustomerId,
    command: commands.GrantConsent,
    runtime: Runtime,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Record a consent with its evidence; email and SMS consents stay pending until confirmed
    with their token (issued here unless the command brings its own)."""
    ids = Ids(customer_id, idempotency_key)
    consent_id = ids("consent")
    assert runtime.erased_contact_points is not None
    matches = await erased_matches(runtime.erased_contact_points, command.contact_point)
    issued = None
    if command.channel in DOUBLE_OPT_IN and command.confirmation_token is None:
        issued = issue_token(settings_of(runtime), consent_id)
    result = await execute(
        runtime,
        response,
        customer_id,
        ids,
        lambda state, now: [
            *suppressions(matches, now),
            *commands.grant(state, command, consent_id=consent_id, now=now, issued_token=issued),
        ],
    )
    return result.model_copy(update={"consent_id": consent_id, "confirmation_token": issued})


@router.post("/consents/{consent_id}/confirmation", dependencies=[WRITE])
async def confirm_consent(
    customer_id: CustomerId,
    consent_id: UUID,
    command: commands.ConfirmConsent,
    runtime: Runtime,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """The double opt-in confirmation arrived: 422 unless `source_ref` is the grant's token,
    409 once confirmed or after the confirmation period (`CONSENT_CONFIRMATION_EXPIRY_DAYS`)."""
    settings = settings_of(runtime)
    return await execute(
        runtime,
        response,
        customer_id,
        Ids(customer_id, idempotency_key),
        lambda state, now: commands.confirm(
            state,
            consent_id,
            command,
            now=now,
            expiry=settings.expiry,
            confirm_within=settings.confirm_within,
        ),
    )


@router.post("/withdrawals", dependencies=[WRITE])
async def withdraw_consent(
    customer_id: CustomerId,
    command: commands.WithdrawConsent,
    runtime: Runtime,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Withdraw one consent, or every consent on a channel; effective for every later decision."""
    expiry = settings_of(runtime).expiry
    return await execute(
        runtime,
        response,
        customer_id,
        Ids(customer_id, idempotency_key),
        lambda state, now: commands.withdraw(state, command, now=now, expiry=expiry),
    )


@router.post("/objections", dependencies=[WRITE])
async def record_objection(
    customer_id: CustomerId,
    command: commands.RecordObjection,
    runtime: Runtime,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Object to direct marketing on every channel, or on one (`channel`)."""
    ids = Ids(customer_id, idempotency_key)
    return await execute(
        runtime,
        response,
        customer_id,
        ids,
        lambda state, now: commands.object_to_marketing(
            state, command, objection_id=ids("objection"), now=now
        ),
    )


@router.post("/consents/{consent_id}/uses", dependencies=[WRITE])
async def record_use(
    customer_id: CustomerId,
    consent_id: UUID,
    command: commands.RecordUse,
    runtime: Runtime,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Record that a consent was relied on to contact the customer (§7a proof)."""
    expiry = settings_of(runtime).expiry
    return await execute(
        runtime,
        response,
        customer_id,
        Ids(customer_id, idempotency_key),
        lambda state, now: commands.record_use(state, consent_id, command, now=now, expiry=expiry),
    )


class ConsentView(BaseModel):
    consent_id: UUID
    channel: Channel
    purpose: Purpose
    status: ConsentStatus
    granted_at: datetime
    confirmed_at: datetime | None
    revoked_at: datetime | None
    expired_at: datetime | None
    last_used_at: datetime | None
    evidence: dict[str, Any]


class ConsentsView(BaseModel):
    customer_id: str
    as_of: datetime
    kind: str | None
    objection: bool
    channel_objections: dict[Channel, datetime]
    suppressed_channels: list[Channel]
    erased_at: datetime | None = None
    """Set once the customer was erased: every decision from then on is blocked (`erased`)."""
    consents: list[ConsentView]


@router.get("/consents", dependencies=[READ])
async def get_consents(
    customer_id: CustomerId, runtime: Runtime, as_of: Instant | None = None
) -> ConsentsView:
    """The customer's consents and objections, now or as they stood at `as_of`."""
    at = as_of or datetime.now(UTC)
    state = await known_state(runtime, customer_id, at)
    expiry = settings_of(runtime).expiry
    return ConsentsView(
        customer_id=customer_id,
        as_of=at,
        kind=state.kind,
        objection=state.objecting,
        channel_objections=dict(state.channel_objections),
        suppressed_channels=sorted(state.suppressed),
        erased_at=state.erased_at,
        consents=[
            ConsentView(
                consent_id=c.consent_id,
                channel=c.channel,
                purpose=c.purpose,
                status=state.status(c, at, expiry),
                granted_at=c.granted_at,
                confirmed_at=c.confirmed_at,
                revoked_at=c.revoked_at,
                expired_at=c.expired_at,
                last_used_at=c.last_used_at,
                evidence=c.evidence.model_dump(mode="json"),
            )
            for c in sorted(state.consents.values(), key=lambda c: c.granted_at)
        ],
    )


class EligibilityView(BaseModel):
    customer_id: str
    channel: Channel
    purpose: Purpose
    at: datetime
    allowed: bool
    legal_basis: LegalBasis | None
    blocking_reason: BlockReason | None
    consent_id: UUID | None


@router.get("/eligibility", dependencies=[READ])
async def get_eligibility(
    customer_id: CustomerId,
    runtime: Runtime,
    channel: Channel,
    purpose: Purpose,
    at: Instant | None = None,
    product_category: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> EligibilityView:
    """May we contact the customer on this channel for this purpose, now or at `at`, and why?"""
    when = at or datetime.now(UTC)
    state = await known_state(runtime, customer_id, when)
    decision = eligibility(
        state,
        channel,
        purpose,
        when,
        product_category=product_category,
        expiry=settings_of(runtime).expiry,
    )
    return EligibilityView(
        customer_id=customer_id,
        channel=channel,
        purpose=purpose,
        at=when,
        allowed=decision.allowed,
        legal_basis=decision.legal_basis,
        blocking_reason=decision.reason,
        consent_id=decision.consent_id,
    )


@router.get("/proof", dependencies=[scope("consent:proof", personal=PROOF_PERSONAL, audit="proof")])
async def get_proof(customer_id: CustomerId, runtime: Runtime) -> dict[str, Any]:
    """The §7a proof bundle as JSON: consents, evidence, confirmations, uses, withdrawals."""
    state = await known_state(runtime, customer_id)
    bundle = await proof_bundle(runtime.pool, customer_id, state, datetime.now(UTC))
    merged = await runtime.pool.fetch(
        "SELECT duplicate FROM customer_merges WHERE survivor = $1 ORDER BY 1", customer_id
    )
    owners = [customer_id, *(r["duplicate"] for r in merged)]
    return await open_contact_points(bundle, owners, runtime.cipher)


@router.get(
    "/proof.html",
    response_class=HTMLResponse,
    dependencies=[scope("consent:proof", personal=PROOF_PERSONAL, audit="proof")],
)
async def get_proof_html(customer_id: CustomerId, runtime: Runtime, caller: Caller) -> HTMLResponse:
    """The proof bundle rendered for printing; contact points need `consent:read-personal`."""
    bundle = await get_proof(customer_id, runtime)
    if not caller.has("consent:read-personal"):
        bundle = without(bundle, frozenset(PROOF_PERSONAL))
    return HTMLResponse(render_html(bundle))
