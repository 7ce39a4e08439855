"""An erased customer (GDPR Art. 17) is eligible for nothing, from the erasure on."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from consentledger.domain import evolve, state_as_of
from consentledger.eligibility import eligibility
from dialog_schemas.common import BlockReason, Channel, CustomerKind, LegalBasis, Purpose
from dialog_schemas.contacts import ContactErased
from tests.unit.test_consent_rules import EXPIRY, T0, Customer

ERASED_AT = T0 + timedelta(days=10)


def erased(customer: Customer) -> Customer:
    customer.record([ContactErased(erased_at=ERASED_AT, request_id=uuid4())])
    return customer


def consenting_customer() -> Customer:
    customer = Customer(CustomerKind.BUSINESS)
    for channel in Channel:
        consent_id = customer.grant(channel, Purpose.MARKETING, at=T0)
        if channel in (Channel.EMAIL, Channel.SMS):
            customer.confirm(consent_id, T0 + timedelta(hours=1))
    customer.grant(Channel.PHONE, Purpose.SURVEYS, at=T0)
    customer.purchase("internet", T0)
    return customer


@pytest.mark.parametrize("channel", list(Channel))
@pytest.mark.parametrize("purpose", list(Purpose))
def test_an_erased_customer_is_blocked_as_erased_on_every_channel_and_purpose(
    channel: Channel, purpose: Purpose
) -> None:
    customer = erased(consenting_customer())
    for at in (ERASED_AT, ERASED_AT + timedelta(seconds=1), ERASED_AT + timedelta(days=3650)):
        decision = customer.may(channel, purpose, at, product_category="internet")
        assert not decision.allowed
        assert decision.reason is BlockReason.ERASED
        assert decision.legal_basis is None


def test_before_the_erasure_the_answer_is_what_it_was_then() -> None:
    customer = erased(consenting_customer())
    before = ERASED_AT - timedelta(seconds=1)
    decision = customer.may(Channel.EMAIL, Purpose.MARKETING, before)
    assert decision.allowed
    assert decision.legal_basis is LegalBasis.EXPRESS_CONSENT


def test_a_whole_state_with_an_erasure_blocks_any_later_time_even_with_a_new_consent() -> None:
    customer = erased(consenting_customer())
    customer.grant(Channel.LETTER, Purpose.MARKETING, at=ERASED_AT + timedelta(days=1))
    state = state_as_of(customer.history)
    later = ERASED_AT + timedelta(days=2)
    assert eligibility(state, Channel.LETTER, Purpose.MARKETING, later, expiry=EXPIRY).reason is (
        BlockReason.ERASED
    )


def test_the_first_erasure_counts_when_the_event_is_seen_twice() -> None:
    state = state_as_of(erased(Customer()).history)
    state = evolve(
        state, ContactErased(erased_at=ERASED_AT + timedelta(days=1), request_id=uuid4())
    )
    assert state.erased_at == ERASED_AT
