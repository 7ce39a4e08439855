"""HTTP API of the consent service: commands (see `consent.commands`), state, eligibility, proof."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import HTMLResponse

from consent import views
from consent.commands import COMMANDS, CommandResult, Confirm, Use
from consent.config import Settings
from consent.domain import ConfirmConsent, GrantConsent, RecordObjection, RecordUse, WithdrawConsent
from consent.proof import render_html
from dialog_schemas import CustomerId
from dialog_schemas.common import Channel, Instant, Purpose
from dialogkit.audit import without
from dialogkit.auth import Caller, scope
from dialogkit.commands import execute
from dialogkit.http import ApiRuntime, IdempotencyKey, get_runtime

router = APIRouter(prefix="/v1/customers/{customer_id}", tags=["consent"])
Runtime = Annotated[ApiRuntime[Settings], Depends(get_runtime)]
READ = scope("consent:read")
WRITE = scope("consent:write")
PROOF_PERSONAL = ("contact_point",)
"""Members of the proof bundle that are personal data (`consent:read-personal`)."""
PROOF = scope("consent:proof", personal=PROOF_PERSONAL, audit="proof")


@router.post("/consents", status_code=201, dependencies=[WRITE])
async def grant_consent(
    customer_id: CustomerId,
    command: GrantConsent,
    runtime: Runtime,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Record a consent with its evidence; email and SMS consents stay pending until confirmed
    with their token (issued here unless the command brings its own)."""
    outcome = await execute(runtime, COMMANDS, customer_id, command, idempotency_key)
    return CommandResult.of(outcome, response)


@router.post("/consents/{consent_id}/confirmation", dependencies=[WRITE])
async def confirm_consent(
    customer_id: CustomerId,
    consent_id: UUID,
    command: ConfirmConsent,
    runtime: Runtime,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """The double opt-in confirmation arrived: 422 unless `source_ref` is the grant's token,
    409 once confirmed or after the confirmation period (`CONSENT_CONFIRMATION_EXPIRY_DAYS`)."""
    confirm = Confirm(consent_id, command)
    outcome = await execute(runtime, COMMANDS, customer_id, confirm, idempotency_key)
    return CommandResult.of(outcome, response)


@router.post("/withdrawals", dependencies=[WRITE])
async def withdraw_consent(
    customer_id: CustomerId,
    command: WithdrawConsent,
    runtime: Runtime,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Withdraw one consent, or every consent on a channel; effective for every later decision."""
    outcome = await execute(runtime, COMMANDS, customer_id, command, idempotency_key)
    return CommandResult.of(outcome, response)


@router.post("/objections", dependencies=[WRITE])
async def record_objection(
    customer_id: CustomerId,
    command: RecordObjection,
    runtime: Runtime,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Object to direct marketing on every channel, or on one (`channel`)."""
    outcome = await execute(runtime, COMMANDS, customer_id, command, idempotency_key)
    return CommandResult.of(outcome, response)


@router.post("/consents/{consent_id}/uses", dependencies=[WRITE])
async def record_use(
    customer_id: CustomerId,
    consent_id: UUID,
    command: RecordUse,
    runtime: Runtime,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Record that a consent was relied on to contact the customer (§7a proof)."""
    use = Use(consent_id, command)
    outcome = await execute(runtime, COMMANDS, customer_id, use, idempotency_key)
    return CommandResult.of(outcome, response)


@router.get("/consents", dependencies=[READ])
async def get_consents(
    customer_id: CustomerId, runtime: Runtime, as_of: Instant | None = None
) -> views.ConsentsView:
    """The customer's consents and objections, now or as they stood at `as_of`."""
    at = as_of or datetime.now(UTC)
    return await views.consents(runtime.pool, customer_id, at, runtime.settings.expiry)


@router.get("/eligibility", dependencies=[READ], response_model=views.EligibilityView)
async def get_eligibility(
    customer_id: CustomerId,
    runtime: Runtime,
    channel: Channel,
    purpose: Purpose,
    at: Instant | None = None,
    product_category: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> Response:
    """May we contact the customer on this channel for this purpose, now or at `at`, and why?"""
    when, expiry = at or datetime.now(UTC), runtime.settings.expiry
    view = await views.may_contact(
        runtime.pool, customer_id, channel, purpose, when, product_category, expiry=expiry
    )
    # serialized once, as built (the route is on every dispatcher's hot path)
    return Response(view.model_dump_json(), media_type="application/json")


@router.get("/proof", dependencies=[PROOF])
async def get_proof(customer_id: CustomerId, runtime: Runtime) -> dict[str, Any]:
    """The §7a proof bundle as JSON: consents, evidence, confirmations, uses, withdrawals."""
    key_id = runtime.settings.ledger_verifier().key_id
    return await views.proof(runtime.pool, customer_id, datetime.now(UTC), runtime.cipher, key_id)


@router.get("/proof.html", response_class=HTMLResponse, dependencies=[PROOF])
async def get_proof_html(customer_id: CustomerId, runtime: Runtime, caller: Caller) -> HTMLResponse:
    """The proof bundle rendered for printing; contact points need `consent:read-personal`."""
    bundle = await get_proof(customer_id, runtime)
    if not caller.has("consent:read-personal"):
        bundle = without(bundle, frozenset(PROOF_PERSONAL))
    return HTMLResponse(render_html(bundle))
