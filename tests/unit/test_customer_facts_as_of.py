"""Customer facts (kind, purchases) count as they stood at the time asked about, like consents:
a kind corrected later, a purchase made later, a registration later do not apply before."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from consentledger.domain import ConsentState, Purchase, state_as_of, with_customer_facts
from consentledger.eligibility import Decision, eligibility
from dialog_schemas.common import BlockReason, Channel, CustomerKind, LegalBasis, Purpose
from dialog_schemas.contacts import ContactRegistered, ContactUpdated
from tests.unit.test_consent_rules import EXPIRY, LATER, T0, Customer

REGISTERED = T0 - timedelta(days=30)
CORRECTED = T0 + timedelta(days=5)


def may_call(state: ConsentState, at=LATER) -> Decision:  # type: ignore[no-untyped-def]
    return eligibility(state, Channel.PHONE, Purpose.MARKETING, at, expiry=EXPIRY)


def test_a_corrected_kind_applies_from_the_correction_on() -> None:
    customer = Customer(CustomerKind.CONSUMER)
    customer.record([ContactUpdated(kind=CustomerKind.BUSINESS, updated_at=CORRECTED)])
    before, after = CORRECTED - timedelta(seconds=1), CORRECTED + timedelta(seconds=1)
    assert customer.may(Channel.PHONE, Purpose.MARKETING, before) == Decision.block(
        BlockReason.NO_CONSENT
    )
    assert customer.may(Channel.PHONE, Purpose.MARKETING, after) == Decision.allow(
        LegalBasis.PRESUMED_BUSINESS_CONSENT
    )


def test_a_business_corrected_to_a_consumer_loses_presumed_consent_from_then_on() -> None:
    customer = Customer(CustomerKind.BUSINESS)
    customer.record([ContactUpdated(kind=CustomerKind.CONSUMER, updated_at=CORRECTED)])
    assert customer.may(Channel.PHONE, Purpose.MARKETING, LATER).allowed
    assert not customer.may(Channel.PHONE, Purpose.MARKETING, CORRECTED).allowed


def test_an_update_without_a_kind_keeps_the_kind() -> None:
    customer = Customer(CustomerKind.BUSINESS)
    customer.record([ContactUpdated(name="Kim Doe GmbH", updated_at=CORRECTED)])
    assert customer.state.kind is CustomerKind.BUSINESS


def test_before_registration_nothing_was_known() -> None:
    customer = Customer(CustomerKind.BUSINESS)
    customer.purchase("internet", REGISTERED + timedelta(days=1))
    before = REGISTERED - timedelta(days=1)
    state = state_as_of(customer.history, before)
    assert (state.kind, state.purchases) == (None, ())
    assert may_call(state, before) == Decision.block(BlockReason.NO_CONSENT)


def test_the_latest_effective_kind_wins_whatever_the_order_it_was_recorded_in() -> None:
    late = ContactUpdated(kind=CustomerKind.BUSINESS, updated_at=CORRECTED)
    early = ContactUpdated(kind=CustomerKind.CONSUMER, updated_at=CORRECTED - timedelta(days=1))
    registered = ContactRegistered(kind=CustomerKind.CONSUMER, name="Kim", registered_at=REGISTERED)
    for history in ([registered, late, early], [registered, early, late]):
        assert state_as_of(history).kind is CustomerKind.BUSINESS
        assert state_as_of(history, CORRECTED - timedelta(hours=1)).kind is CustomerKind.CONSUMER


def purchase(category: str, at) -> Purchase:  # type: ignore[no-untyped-def]
    return Purchase(str(uuid4()), category, at, email_obtained=True, objection_notice_given=True)


def test_facts_from_the_read_model_are_applied_as_of_the_time_asked_about() -> None:
    kinds = [(CustomerKind.CONSUMER, REGISTERED), (CustomerKind.BUSINESS, CORRECTED)]
    purchases = [purchase("internet", T0), purchase("mobile", CORRECTED)]
    now = with_customer_facts(ConsentState(), kinds, purchases)
    assert (now.kind, len(now.purchases)) == (CustomerKind.BUSINESS, 2)
    then = with_customer_facts(ConsentState(), kinds, purchases, LATER)
    assert (then.kind, [p.category for p in then.purchases]) == (
        CustomerKind.CONSUMER,
        ["internet"],
    )
    unknown = with_customer_facts(ConsentState(), kinds, purchases, REGISTERED - timedelta(1))
    assert (unknown.kind, unknown.purchases) == (None, ())
    assert not eligibility(
        unknown, Channel.EMAIL, Purpose.MARKETING, LATER, product_category="internet", expiry=EXPIRY
    ).allowed
