"""Every consent rule of the brief (section 3) as its own case, on pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from consent.domain import (
    ConfirmConsent,
    GrantConsent,
    RecordObjection,
    RecordUse,
    WithdrawConsent,
    confirm,
    expire,
    grant,
    object_to_marketing,
    record_use,
    withdraw,
)
from consentledger.domain import ConsentState, evolve, state_as_of
from consentledger.eligibility import Decision, eligibility
from dialog_schemas import Event
from dialog_schemas.common import BlockReason, Channel, CustomerKind, LegalBasis, Purpose
from dialog_schemas.consent import (
    CaptureMedium,
    ConsentRevoked,
    ContactPointSuppressed,
    Evidence,
    ObjectionLifted,
)
from dialog_schemas.contacts import ContactRegistered, ProductPurchased, SalesChannel
from dialogkit.rules import Conflict, InFuture, NotFound, RuleViolation

T0 = datetime(2026, 1, 10, 9, tzinfo=UTC)
EXPIRY = timedelta(days=730)
"""The configured expiry period (the settings' default) every rule is given here."""
CONFIRM_WITHIN = timedelta(days=30)
DOI_TOKEN = "doi-token-of-the-grant-1"
EMAIL = "kim@example.org"


def evidence(at: datetime = T0, medium: CaptureMedium = CaptureMedium.WEB_FORM) -> Evidence:
    return Evidence(
        medium=medium,
        wording_version="v3",
        wording_sha256="ab" * 32,
        captured_at=at,
        source_ref="form-1",
        actor="web-shop",
    )


class Customer:
    """A customer's history, built by running commands the way the service does."""

    def __init__(self, kind: CustomerKind = CustomerKind.CONSUMER) -> None:
        self.history: list[Event] = [
            ContactRegistered(kind=kind, name="Kim Doe", registered_at=T0 - timedelta(days=30))
        ]

    @property
    def state(self) -> ConsentState:
        return state_as_of(self.history)

    def record(self, events: list[Event]) -> list[Event]:
        self.history += events
        return events

    def grant(
        self,
        channel: Channel,
        purpose: Purpose = Purpose.MARKETING,
        at: datetime = T0,
        **changes: object,
    ) -> UUID:
        consent_id = uuid4()
        point = {Channel.EMAIL: EMAIL, Channel.SMS: "+4915112345678"}.get(channel)
        command = GrantConsent.model_validate(
            {
                "channel": channel,
                "purpose": purpose,
                "evidence": evidence(at),
                "contact_point": point,
            }
            | changes
        )
        token = DOI_TOKEN if channel in (Channel.EMAIL, Channel.SMS) else None
        self.record(grant(self.state, command, consent_id=consent_id, now=at, issued_token=token))
        return consent_id

    def confirm(self, consent_id: UUID, at: datetime) -> list[Event]:
        command = ConfirmConsent(source_ref=DOI_TOKEN, confirmed_at=at)
        return self.record(
            confirm(
                self.state,
                consent_id,
                command,
                now=at,
                expiry=EXPIRY,
                confirm_within=CONFIRM_WITHIN,
            )
        )

    def withdraw_command(self, at: datetime, **fields: object) -> WithdrawConsent:
        return WithdrawConsent.model_validate({"via_channel": "phone", "withdrawn_at": at} | fields)

    def withdraw(self, at: datetime, **fields: object) -> list[Event]:
        command = self.withdraw_command(at, **fields)
        return self.record(withdraw(self.state, command, now=at, expiry=EXPIRY))

    def object(self, at: datetime, channel: Channel | None = None) -> list[Event]:
        command = RecordObjection(via_channel=Channel.LETTER, channel=channel, objected_at=at)
        return self.record(object_to_marketing(self.state, command, objection_id=uuid4(), now=at))

    def purchase(self, category: str, at: datetime, *, email: bool = True, notice: bool = True):  # type: ignore[no-untyped-def]
        self.record(
            [
                ProductPurchased(
                    purchase_id=str(uuid4()),
                    product_id="p-1",
                    product_name="Fiber 250",
                    category=category,
                    purchased_at=at,
                    sales_channel=SalesChannel.WEB_SHOP,
                    email_address=EMAIL if email else None,
                    objection_notice_given=notice,
                )
            ]
        )

    def may(self, channel: Channel, purpose: Purpose, at: datetime, **kw: object) -> Decision:
        kw.setdefault("expiry", EXPIRY)
        return eligibility(state_as_of(self.history, at), channel, purpose, at, **kw)  # type: ignore[arg-type]


LATER = T0 + timedelta(days=1)


# Rule 1: phone advertising to a consumer needs prior express consent; a business, presumed consent.


def test_phone_advertising_to_a_consumer_without_consent_is_blocked() -> None:
    assert Customer().may(Channel.PHONE, Purpose.MARKETING, LATER) == Decision.block(
        BlockReason.NO_CONSENT
    )


def test_phone_advertising_to_a_consumer_with_express_consent_is_allowed() -> None:
    customer = Customer()
    consent_id = customer.grant(Channel.PHONE)
    assert customer.may(Channel.PHONE, Purpose.MARKETING, LATER) == Decision.allow(
        LegalBasis.EXPRESS_CONSENT, consent_id
    )


def test_phone_consent_for_one_purpose_does_not_cover_another() -> None:
    customer = Customer()
    customer.grant(Channel.PHONE, Purpose.SURVEYS)
    assert not customer.may(Channel.PHONE, Purpose.CROSS_SELL, LATER).allowed
    assert customer.may(Channel.PHONE, Purpose.SURVEYS, LATER).allowed


def test_a_marketing_consent_covers_cross_sell_and_retention_but_not_surveys() -> None:
    customer = Customer()
    customer.grant(Channel.PHONE, Purpose.MARKETING)
    assert customer.may(Channel.PHONE, Purpose.CROSS_SELL, LATER).allowed
    assert customer.may(Channel.PHONE, Purpose.RETENTION, LATER).allowed
    assert not customer.may(Channel.PHONE, Purpose.SURVEYS, LATER).allowed


def test_phone_advertising_to_a_business_is_allowed_by_presumed_consent() -> None:
    decision = Customer(CustomerKind.BUSINESS).may(Channel.PHONE, Purpose.MARKETING, LATER)
    assert decision == Decision.allow(LegalBasis.PRESUMED_BUSINESS_CONSENT)


def test_a_business_that_objected_to_calls_is_not_called() -> None:
    business = Customer(CustomerKind.BUSINESS)
    business.object(T0, channel=Channel.PHONE)
    assert business.may(Channel.PHONE, Purpose.MARKETING, LATER) == Decision.block(
        BlockReason.OBJECTION
    )


def test_email_to_a_business_still_needs_express_consent() -> None:
    business = Customer(CustomerKind.BUSINESS)
    assert not business.may(Channel.EMAIL, Purpose.MARKETING, LATER).allowed


def test_service_contact_needs_no_consent_even_after_an_objection() -> None:
    customer = Customer()
    customer.object(T0)
    assert customer.may(Channel.PHONE, Purpose.SERVICE, LATER) == Decision.allow(
        LegalBasis.NOT_ADVERTISING
    )


# Rule 2: email and SMS need express consent, valid only after the double opt-in confirmation.


def test_an_email_consent_is_pending_until_confirmed() -> None:
    customer = Customer()
    consent_id = customer.grant(Channel.EMAIL)
    assert customer.may(Channel.EMAIL, Purpose.MARKETING, LATER) == Decision.block(
        BlockReason.PENDING_CONFIRMATION, consent_id
    )
    customer.confirm(consent_id, LATER)
    assert customer.may(Channel.EMAIL, Purpose.MARKETING, LATER) == Decision.allow(
        LegalBasis.EXPRESS_CONSENT, consent_id
    )


def test_an_sms_consent_is_pending_until_confirmed() -> None:
    customer = Customer()
    consent_id = customer.grant(Channel.SMS)
    assert customer.may(Channel.SMS, Purpose.MARKETING, LATER).reason is (
        BlockReason.PENDING_CONFIRMATION
    )
    customer.confirm(consent_id, LATER)
    assert customer.may(Channel.SMS, Purpose.MARKETING, LATER).allowed


def test_before_its_confirmation_a_confirmed_consent_allowed_nothing() -> None:
    customer = Customer()
    consent_id = customer.grant(Channel.EMAIL)
    customer.confirm(consent_id, T0 + timedelta(hours=5))
    assert not customer.may(Channel.EMAIL, Purpose.MARKETING, T0 + timedelta(hours=4)).allowed
    assert customer.may(Channel.EMAIL, Purpose.MARKETING, T0 + timedelta(hours=6)).allowed


def test_a_phone_consent_needs_no_confirmation() -> None:
    customer = Customer()
    consent_id = customer.grant(Channel.PHONE)
    with pytest.raises(Conflict, match="needs no confirmation"):
        customer.confirm(consent_id, LATER)


def test_an_email_consent_names_its_address() -> None:
    with pytest.raises(RuleViolation, match="contact_point"):
        Customer().grant(Channel.EMAIL, contact_point=None)


def test_confirming_twice_is_a_conflict_and_changes_nothing() -> None:
    customer = Customer()
    consent_id = customer.grant(Channel.EMAIL)
    customer.confirm(consent_id, LATER)
    before = list(customer.history)
    with pytest.raises(Conflict, match="already confirmed"):
        customer.confirm(consent_id, LATER)
    assert customer.history == before


def test_confirming_a_withdrawn_consent_is_a_conflict() -> None:
    customer = Customer()
    consent_id = customer.grant(Channel.EMAIL)
    customer.withdraw(LATER, consent_id=consent_id)
    with pytest.raises(Conflict, match="was withdrawn"):
        customer.confirm(consent_id, LATER)


def test_confirming_an_unknown_consent_is_not_found() -> None:
    with pytest.raises(NotFound):
        Customer().confirm(uuid4(), LATER)


# Rule 3: the existing-customer email exemption (§7(3)) needs all four conditions.


def existing_customer(**purchase: object) -> Customer:
    customer = Customer()
    customer.purchase("home-internet", T0, **purchase)  # type: ignore[arg-type]
    return customer


def test_the_exemption_allows_email_for_similar_products_after_a_purchase() -> None:
    decision = existing_customer().may(
        Channel.EMAIL, Purpose.CROSS_SELL, LATER, product_category="home-internet"
    )
    assert decision == Decision.allow(LegalBasis.EXISTING_CUSTOMER)


def test_the_exemption_does_not_cover_other_products() -> None:
    decision = existing_customer().may(
        Channel.EMAIL, Purpose.CROSS_SELL, LATER, product_category="mobile"
    )
    assert decision == Decision.block(BlockReason.NO_CONSENT)


def test_the_exemption_needs_a_purchase() -> None:
    decision = Customer().may(
        Channel.EMAIL, Purpose.CROSS_SELL, LATER, product_category="home-internet"
    )
    assert not decision.allowed


def test_the_exemption_needs_the_address_obtained_with_the_sale() -> None:
    decision = existing_customer(email=False).may(
        Channel.EMAIL, Purpose.CROSS_SELL, LATER, product_category="home-internet"
    )
    assert not decision.allowed


def test_the_exemption_needs_the_customer_told_they_may_object() -> None:
    decision = existing_customer(notice=False).may(
        Channel.EMAIL, Purpose.CROSS_SELL, LATER, product_category="home-internet"
    )
    assert not decision.allowed


def test_the_exemption_ends_with_an_email_objection() -> None:
    customer = existing_customer()
    customer.object(LATER, channel=Channel.EMAIL)
    decision = customer.may(
        Channel.EMAIL,
        Purpose.CROSS_SELL,
        LATER + timedelta(hours=1),
        product_category="home-internet",
    )
    assert decision == Decision.block(BlockReason.OBJECTION)


def test_the_exemption_does_not_reach_sms_or_phone() -> None:
    customer = existing_customer()
    for channel in (Channel.SMS, Channel.PHONE):
        assert not customer.may(
            channel, Purpose.CROSS_SELL, LATER, product_category="home-internet"
        ).allowed


def test_the_exemption_does_not_cover_surveys() -> None:
    decision = existing_customer().may(
        Channel.EMAIL, Purpose.SURVEYS, LATER, product_category="home-internet"
    )
    assert not decision.allowed


def test_a_purchase_after_the_time_asked_about_does_not_count() -> None:
    customer = Customer()
    customer.purchase("home-internet", LATER)
    assert not customer.may(
        Channel.EMAIL, Purpose.CROSS_SELL, T0, product_category="home-internet"
    ).allowed


# Rule 4: letters are allowed unless the customer objected or is on a suppression list.


def test_a_letter_is_allowed_without_consent() -> None:
    assert Customer().may(Channel.LETTER, Purpose.MARKETING, LATER) == Decision.allow(
        LegalBasis.LETTER_WITHOUT_OBJECTION
    )


def test_a_letter_is_blocked_after_an_objection() -> None:
    customer = Customer()
    customer.object(T0)
    assert customer.may(Channel.LETTER, Purpose.MARKETING, LATER) == Decision.block(
        BlockReason.OBJECTION
    )


def test_a_letter_is_blocked_for_a_robinson_list_match() -> None:
    customer = Customer()
    customer.record(
        [
            ContactPointSuppressed(
                channel=Channel.LETTER,
                list_name="robinson",
                list_version="2026-01",
                matched_at=T0,
                contact_point_hash="cd" * 32,
            )
        ]
    )
    assert customer.may(Channel.LETTER, Purpose.MARKETING, LATER) == Decision.block(
        BlockReason.SUPPRESSED
    )
    customer.grant(Channel.LETTER, at=LATER)
    assert customer.may(Channel.LETTER, Purpose.MARKETING, LATER).legal_basis is (
        LegalBasis.EXPRESS_CONSENT
    )


# Rule 6: withdrawal at any time, over any channel, effective for every later decision.


def test_withdrawal_between_two_eligibility_checks_blocks_the_second() -> None:
    customer = Customer()
    consent_id = customer.grant(Channel.PHONE)
    first = customer.may(Channel.PHONE, Purpose.MARKETING, LATER)
    customer.withdraw(LATER + timedelta(minutes=1), channel="phone")
    second = customer.may(Channel.PHONE, Purpose.MARKETING, LATER + timedelta(minutes=2))
    assert first.allowed
    assert second == Decision.block(BlockReason.REVOKED, consent_id)
    assert customer.may(Channel.PHONE, Purpose.MARKETING, LATER).allowed, "as of before: allowed"


def test_a_withdrawal_over_another_channel_ends_the_consent() -> None:
    customer = Customer()
    consent_id = customer.grant(Channel.EMAIL)
    customer.confirm(consent_id, T0)
    [revoked] = customer.withdraw(LATER, channel="email", via_channel="letter")
    assert isinstance(revoked, ConsentRevoked)
    assert (revoked.consent_id, revoked.via_channel) == (consent_id, Channel.LETTER)


def test_withdrawing_what_does_not_exist_is_a_conflict() -> None:
    with pytest.raises(Conflict, match="no consent on sms"):
        Customer().withdraw(LATER, channel="sms")


def test_withdrawing_one_purpose_keeps_the_others() -> None:
    customer = Customer()
    customer.grant(Channel.PHONE, Purpose.SURVEYS)
    customer.grant(Channel.PHONE, Purpose.MARKETING)
    customer.withdraw(LATER, channel="phone", purpose="surveys")
    at = LATER + timedelta(hours=1)
    assert not customer.may(Channel.PHONE, Purpose.SURVEYS, at).allowed
    assert customer.may(Channel.PHONE, Purpose.MARKETING, at).allowed


# Rule 7: an objection is absolute and ends only with a new express consent.


def test_an_objection_beats_every_consent() -> None:
    customer = Customer()
    customer.grant(Channel.PHONE)
    customer.grant(Channel.LETTER)
    customer.object(LATER)
    at = LATER + timedelta(hours=1)
    for channel in Channel:
        assert customer.may(channel, Purpose.MARKETING, at) == Decision.block(BlockReason.OBJECTION)


def test_an_objection_beats_the_existing_customer_exemption() -> None:
    customer = existing_customer()
    customer.object(LATER)
    decision = customer.may(
        Channel.EMAIL,
        Purpose.CROSS_SELL,
        LATER + timedelta(hours=1),
        product_category="home-internet",
    )
    assert decision == Decision.block(BlockReason.OBJECTION)


def test_an_objection_beats_presumed_business_consent() -> None:
    business = Customer(CustomerKind.BUSINESS)
    business.object(T0)
    assert not business.may(Channel.PHONE, Purpose.MARKETING, LATER).allowed


def test_a_consent_without_lifting_does_not_end_an_objection() -> None:
    customer = Customer()
    customer.object(T0)
    customer.grant(Channel.PHONE, at=LATER)
    assert customer.may(Channel.PHONE, Purpose.MARKETING, LATER).reason is BlockReason.OBJECTION


def test_a_new_express_consent_lifts_an_objection() -> None:
    customer = Customer()
    customer.object(T0)
    consent_id = customer.grant(Channel.PHONE, at=LATER, lifts_objection=True)
    assert isinstance(customer.history[-1], ObjectionLifted)
    assert customer.may(Channel.PHONE, Purpose.MARKETING, LATER) == Decision.allow(
        LegalBasis.EXPRESS_CONSENT, consent_id
    )
    assert not customer.may(Channel.PHONE, Purpose.MARKETING, T0 + timedelta(hours=1)).allowed


def test_a_pending_email_consent_lifts_the_objection_only_when_confirmed() -> None:
    customer = Customer()
    customer.object(T0)
    consent_id = customer.grant(Channel.EMAIL, at=LATER, lifts_objection=True)
    assert customer.state.objecting
    events = customer.confirm(consent_id, LATER + timedelta(hours=1))
    assert isinstance(events[-1], ObjectionLifted)
    assert not customer.state.objecting


def test_a_channel_objection_ends_that_channels_consents_but_not_others() -> None:
    customer = Customer()
    phone = customer.grant(Channel.PHONE)
    customer.grant(Channel.LETTER)
    events = customer.object(LATER, channel=Channel.PHONE)
    assert [type(e).__name__ for e in events] == ["ChannelObjectionRecorded"]
    assert customer.state.status(customer.state.consents[phone], LATER, EXPIRY) == "revoked"
    at = LATER + timedelta(hours=1)
    assert not customer.may(Channel.PHONE, Purpose.MARKETING, at).allowed
    assert customer.may(Channel.LETTER, Purpose.MARKETING, at).allowed


def test_a_consent_given_after_a_channel_objection_is_valid() -> None:
    customer = Customer()
    customer.object(T0, channel=Channel.PHONE)
    consent_id = customer.grant(Channel.PHONE, at=LATER)
    assert customer.may(Channel.PHONE, Purpose.MARKETING, LATER).consent_id == consent_id


def test_objecting_twice_records_one_objection() -> None:
    customer = Customer()
    customer.object(T0)
    assert customer.object(LATER) == []


# Rule 5 and expiry: uses are recorded; a consent unused for the configured period expires.


def test_a_use_is_recorded_only_for_a_valid_consent() -> None:
    customer = Customer()
    consent_id = customer.grant(Channel.EMAIL)
    with pytest.raises(Conflict, match="pending"):
        record_use(
            customer.state,
            consent_id,
            RecordUse(reference="o-1", purpose=Purpose.MARKETING, used_at=LATER),
            now=LATER,
            expiry=EXPIRY,
        )
    customer.confirm(consent_id, LATER)
    [used] = record_use(
        customer.state,
        consent_id,
        RecordUse(reference="o-1", purpose=Purpose.MARKETING),
        now=LATER,
        expiry=EXPIRY,
    )
    assert used.reference == "o-1"


def test_a_consent_expires_after_the_period_without_use() -> None:
    customer = Customer()
    consent_id = customer.grant(Channel.PHONE)
    just_before = T0 + EXPIRY
    assert customer.may(Channel.PHONE, Purpose.MARKETING, just_before).allowed
    assert customer.may(Channel.PHONE, Purpose.MARKETING, just_before + timedelta(seconds=1)) == (
        Decision.block(BlockReason.EXPIRED, consent_id)
    )


def test_each_use_restarts_the_expiry_period() -> None:
    customer = Customer()
    consent_id = customer.grant(Channel.PHONE)
    used_at = T0 + timedelta(days=400)
    customer.record(
        record_use(
            customer.state,
            consent_id,
            RecordUse(reference="o", purpose=Purpose.MARKETING),
            now=used_at,
            expiry=EXPIRY,
        )
    )
    assert customer.may(Channel.PHONE, Purpose.MARKETING, T0 + EXPIRY + timedelta(days=1)).allowed


def test_the_expiry_period_is_configurable() -> None:
    customer = Customer()
    customer.grant(Channel.PHONE)
    at = T0 + timedelta(days=31)
    state = state_as_of(customer.history, at)
    assert not eligibility(
        state, Channel.PHONE, Purpose.MARKETING, at, expiry=timedelta(days=30)
    ).allowed


def test_expiry_is_recorded_once_with_the_last_activity() -> None:
    customer = Customer()
    consent_id = customer.grant(Channel.PHONE)
    now = T0 + EXPIRY + timedelta(days=2)
    [expired] = customer.record(expire(customer.state, now, EXPIRY))
    assert (expired.consent_id, expired.last_used_at) == (consent_id, T0)  # type: ignore[attr-defined]
    assert expire(customer.state, now, EXPIRY) == []
    with pytest.raises(Conflict, match="expired"):
        customer.withdraw(now, consent_id=consent_id)


def test_facts_cannot_lie_in_the_future() -> None:
    customer = Customer()
    with pytest.raises(InFuture, match=r"evidence\.captured_at"):
        grant(
            customer.state,
            GrantConsent(
                channel=Channel.PHONE, purpose=Purpose.MARKETING, evidence=evidence(LATER)
            ),
            consent_id=uuid4(),
            now=T0,
        )


def test_the_state_ignores_events_it_does_not_track() -> None:
    state = ConsentState()
    assert (
        evolve(
            state, ContactRegistered(kind=CustomerKind.BUSINESS, name="A", registered_at=T0)
        ).kind
        is CustomerKind.BUSINESS
    )
    assert (
        evolve(state, ObjectionLifted(objection_id=uuid4(), lifted_at=T0, consent_id=uuid4()))
        == state
    )
