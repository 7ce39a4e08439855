"""Double opt-in (UWG §7(2) Nr. 2): only the grant's own token confirms it, once, in time; and
a withdrawal is never refused for a consent the configured expiry counts as active."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from consent.domain import ConfirmConsent, GrantConsent, confirm, grant, withdraw
from consentledger.domain import token_sha256
from dialog_schemas.common import BlockReason, Channel, Purpose
from dialog_schemas.consent import ConsentConfirmed, ConsentGranted
from dialogkit.rules import Conflict, RuleViolation
from tests.unit.test_consent_rules import (
    CONFIRM_WITHIN,
    DOI_TOKEN,
    EXPIRY,
    LATER,
    T0,
    Customer,
    evidence,
)


def confirm_with(customer: Customer, consent_id, token: str, at=LATER, **periods):  # type: ignore[no-untyped-def]
    settings = {"expiry": EXPIRY, "confirm_within": CONFIRM_WITHIN} | periods
    command = ConfirmConsent(source_ref=token, confirmed_at=at)
    return confirm(customer.state, consent_id, command, now=at, **settings)


def test_a_grant_records_only_the_hash_of_its_token() -> None:
    customer = Customer()
    consent_id = customer.grant(Channel.EMAIL)
    [granted] = [e for e in customer.history if isinstance(e, ConsentGranted)]
    assert granted.confirmation_token_sha256 == token_sha256(DOI_TOKEN)
    assert DOI_TOKEN not in granted.model_dump_json()
    assert customer.state.consents[consent_id].token_sha256 == token_sha256(DOI_TOKEN)


def test_a_wrong_token_is_refused_and_the_consent_stays_pending() -> None:
    customer = Customer()
    consent_id = customer.grant(Channel.EMAIL)
    with pytest.raises(RuleViolation) as refused:
        confirm_with(customer, consent_id, "wrong-token")
    assert refused.value.field == "source_ref"
    assert customer.may(Channel.EMAIL, Purpose.MARKETING, LATER).reason is (
        BlockReason.PENDING_CONFIRMATION
    )


def test_the_matching_token_confirms_and_only_its_hash_is_kept() -> None:
    customer = Customer()
    consent_id = customer.grant(Channel.EMAIL)
    [confirmed] = customer.record(confirm_with(customer, consent_id, DOI_TOKEN))
    assert isinstance(confirmed, ConsentConfirmed)
    assert confirmed.source_ref == f"sha256:{token_sha256(DOI_TOKEN)}"
    assert customer.may(Channel.EMAIL, Purpose.MARKETING, LATER).allowed


def test_a_token_confirms_once() -> None:
    customer = Customer()
    consent_id = customer.grant(Channel.SMS)
    customer.record(confirm_with(customer, consent_id, DOI_TOKEN))
    with pytest.raises(Conflict, match="confirms once"):
        confirm_with(customer, consent_id, DOI_TOKEN, LATER + timedelta(minutes=1))


def test_a_token_of_another_grant_does_not_confirm() -> None:
    customer = Customer()
    first = customer.grant(Channel.EMAIL)
    command = GrantConsent(
        channel=Channel.EMAIL,
        purpose=Purpose.SURVEYS,
        evidence=evidence(),
        contact_point="kim@example.org",
        confirmation_token="another-token-of-16+",
    )
    second = uuid4()
    customer.record(grant(customer.state, command, consent_id=second, now=T0))
    with pytest.raises(RuleViolation):
        confirm_with(customer, second, DOI_TOKEN)
    with pytest.raises(RuleViolation):
        confirm_with(customer, first, "another-token-of-16+")
    customer.record(confirm_with(customer, second, "another-token-of-16+"))


def test_a_pending_consent_cannot_be_confirmed_after_the_confirmation_period() -> None:
    customer = Customer()
    consent_id = customer.grant(Channel.EMAIL)
    in_time = T0 + CONFIRM_WITHIN
    assert confirm_with(customer, consent_id, DOI_TOKEN, in_time)
    with pytest.raises(Conflict, match="confirmation period"):
        confirm_with(customer, consent_id, DOI_TOKEN, in_time + timedelta(seconds=1))
    with pytest.raises(Conflict, match="confirmation period"):
        confirm_with(
            customer, consent_id, DOI_TOKEN, T0 + timedelta(days=8), confirm_within=timedelta(7)
        )


def test_a_double_opt_in_grant_needs_a_token_and_others_take_none() -> None:
    customer = Customer()
    email = GrantConsent(
        channel=Channel.EMAIL,
        purpose=Purpose.MARKETING,
        evidence=evidence(),
        contact_point="kim@example.org",
    )
    with pytest.raises(RuleViolation, match="confirmation_token"):
        grant(customer.state, email, consent_id=uuid4(), now=T0)
    phone = GrantConsent(
        channel=Channel.PHONE,
        purpose=Purpose.MARKETING,
        evidence=evidence(),
        confirmation_token="a-token-for-a-call",
    )
    with pytest.raises(RuleViolation, match="confirmation_token"):
        grant(customer.state, phone, consent_id=uuid4(), now=T0)


def test_a_grant_recorded_before_tokens_were_hashed_is_confirmed_by_its_evidence_reference() -> (
    None
):
    customer = Customer()
    consent_id = customer.grant(Channel.EMAIL)
    [granted] = [e for e in customer.history if isinstance(e, ConsentGranted)]
    customer.history = [
        e if e is not granted else e.model_copy(update={"confirmation_token_sha256": None})
        for e in customer.history
    ]
    with pytest.raises(RuleViolation):
        confirm_with(customer, consent_id, DOI_TOKEN)
    assert confirm_with(customer, consent_id, "form-1")  # evidence.source_ref of the grant


# GDPR Art. 7(3): the commands count expiry with the configured period, as the state does.


def test_a_consent_active_under_a_long_configured_expiry_can_be_withdrawn_on_day_800() -> None:
    customer = Customer()
    consent_id = customer.grant(Channel.PHONE)
    day_800 = T0 + timedelta(days=800)
    configured = timedelta(days=1000)
    assert customer.may(Channel.PHONE, Purpose.MARKETING, day_800, expiry=configured).allowed
    command = customer.withdraw_command(day_800, consent_id=consent_id)
    [revoked] = withdraw(customer.state, command, now=day_800, expiry=configured)
    assert revoked.consent_id == consent_id  # type: ignore[attr-defined]
