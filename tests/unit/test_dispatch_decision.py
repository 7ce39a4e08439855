"""The dispatch decision: consent rules (shared), erasure, calling hours, frequency caps."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from campaigns.dispatch import (
    Authorized,
    Blocked,
    Contact,
    Deferred,
    DueOutreach,
    Policy,
    decide,
    effective_caps,
    free_from,
)
from consentledger.domain import ConsentState, state_as_of
from dialog_schemas import Event
from dialog_schemas.campaigns import DeferralReason, FrequencyCap, FrequencyCaps
from dialog_schemas.common import BlockReason, Channel, CustomerKind, LegalBasis, Purpose
from dialog_schemas.consent import (
    CaptureMedium,
    ConsentConfirmed,
    ConsentGranted,
    ConsentRevoked,
    Evidence,
    ObjectionRecorded,
)
from dialog_schemas.contacts import ContactRegistered, ProductPurchased, SalesChannel

BERLIN = (ZoneInfo("Europe/Berlin"),)
NOW = datetime(2026, 3, 3, 10, tzinfo=ZoneInfo("Europe/Berlin"))  # Tuesday
DAY = timedelta(days=1)
CAPS = FrequencyCaps(
    per_channel=FrequencyCap(limit=2, window_days=7),
    across_channels=FrequencyCap(limit=3, window_days=7),
)
CONSENT = uuid4()


def evidence(at: datetime) -> Evidence:
    return Evidence(
        medium=CaptureMedium.WEB_FORM,
        wording_version="v1",
        wording_sha256="ab" * 32,
        captured_at=at,
        source_ref="form-1",
        actor="web-shop",
    )


def state(*events: Event, kind: CustomerKind = CustomerKind.CONSUMER) -> ConsentState:
    registered = ContactRegistered(kind=kind, name="Kim", registered_at=NOW - 100 * DAY)
    return state_as_of([registered, *events], NOW)


def granted(channel: Channel, purpose: Purpose = Purpose.MARKETING) -> ConsentGranted:
    return ConsentGranted(
        consent_id=CONSENT,
        channel=channel,
        purpose=purpose,
        evidence=evidence(NOW - 30 * DAY),
        pending_confirmation=channel in (Channel.EMAIL, Channel.SMS),
        contact_point="kim@example.org" if channel is Channel.EMAIL else None,
    )


def due(
    channel: Channel = Channel.PHONE,
    purpose: Purpose = Purpose.CROSS_SELL,
    ends_at: datetime | None = None,
    caps: FrequencyCaps = CAPS,
) -> DueOutreach:
    return DueOutreach(channel, purpose, "mobile", ends_at, caps)


def run(
    outreach: DueOutreach,
    consent: ConsentState,
    *,
    at: datetime = NOW,
    erased: bool = False,
    contacts: list[Contact] | None = None,
    expiry: timedelta = 730 * DAY,
) -> object:
    return decide(
        outreach,
        consent,
        erased=erased,
        zones=BERLIN,
        contacts=contacts or [],
        now=at,
        policy=Policy(consent_expiry=expiry),
    )


def test_consent_expires_after_the_period_the_policy_is_given() -> None:
    """The period is the consent service's setting (CONSENT_EXPIRY_DAYS), never a default."""
    consent = state(granted(Channel.PHONE))  # granted 30 days ago
    assert run(due(), consent, expiry=31 * DAY) == Authorized(LegalBasis.EXPRESS_CONSENT, CONSENT)
    assert run(due(), consent, expiry=29 * DAY) == Blocked(BlockReason.EXPIRED, CONSENT)


def test_express_phone_consent_authorizes_a_call_within_hours() -> None:
    outcome = run(due(), state(granted(Channel.PHONE)))
    assert outcome == Authorized(LegalBasis.EXPRESS_CONSENT, CONSENT)


def test_no_consent_blocks_a_call_to_a_consumer() -> None:
    assert run(due(), state()) == Blocked(BlockReason.NO_CONSENT)


def test_a_business_customer_may_be_called_on_presumed_consent() -> None:
    outcome = run(due(), state(kind=CustomerKind.BUSINESS))
    assert outcome == Authorized(LegalBasis.PRESUMED_BUSINESS_CONSENT)


def test_pending_double_opt_in_blocks_email() -> None:
    outcome = run(due(Channel.EMAIL), state(granted(Channel.EMAIL)))
    assert outcome == Blocked(BlockReason.PENDING_CONFIRMATION, CONSENT)


def test_confirmed_double_opt_in_authorizes_email_at_any_hour() -> None:
    confirmed = ConsentConfirmed(consent_id=CONSENT, confirmed_at=NOW - 29 * DAY, source_ref="t")
    sunday_night = datetime(2026, 3, 8, 23, tzinfo=ZoneInfo("Europe/Berlin"))
    outcome = run(due(Channel.EMAIL), state(granted(Channel.EMAIL), confirmed), at=sunday_night)
    assert outcome == Authorized(LegalBasis.EXPRESS_CONSENT, CONSENT)


def test_a_withdrawal_before_the_decision_blocks() -> None:
    revoked = ConsentRevoked(
        consent_id=CONSENT,
        channel=Channel.PHONE,
        purpose=Purpose.MARKETING,
        revoked_at=NOW - timedelta(milliseconds=1),
        via_channel=Channel.EMAIL,
    )
    assert run(due(), state(granted(Channel.PHONE), revoked)) == Blocked(
        BlockReason.REVOKED, CONSENT
    )


def test_an_objection_blocks_every_advertising_channel() -> None:
    objected = ObjectionRecorded(
        objection_id=uuid4(), objected_at=NOW - DAY, via_channel=Channel.LETTER
    )
    consent = state(granted(Channel.PHONE), objected)
    assert run(due(), consent) == Blocked(BlockReason.OBJECTION)
    assert run(due(Channel.LETTER), consent) == Blocked(BlockReason.OBJECTION)


def test_existing_customer_email_for_similar_products() -> None:
    bought = ProductPurchased(
        purchase_id="o-1",
        product_id="p-1",
        product_name="Mobile S",
        category="mobile",
        purchased_at=NOW - 50 * DAY,
        sales_channel=SalesChannel.WEB_SHOP,
        email_address="kim@example.org",
        objection_notice_given=True,
    )
    outcome = run(due(Channel.EMAIL), state(bought))
    assert outcome == Authorized(LegalBasis.EXISTING_CUSTOMER)


def test_an_erased_customer_is_blocked_whatever_else_holds() -> None:
    outcome = run(due(), state(granted(Channel.PHONE)), erased=True)
    assert outcome == Blocked(BlockReason.ERASED)


def test_outside_calling_hours_defers_to_the_next_allowed_moment() -> None:
    evening = datetime(2026, 3, 3, 21, tzinfo=ZoneInfo("Europe/Berlin"))
    outcome = run(due(), state(granted(Channel.PHONE)), at=evening)
    assert outcome == Deferred(
        datetime(2026, 3, 4, 9, tzinfo=ZoneInfo("Europe/Berlin")),
        DeferralReason.OUTSIDE_CALLING_HOURS,
    )


def test_outside_calling_hours_is_blocked_when_the_campaign_ends_first() -> None:
    evening = datetime(2026, 3, 3, 21, tzinfo=ZoneInfo("Europe/Berlin"))
    outcome = run(
        due(ends_at=evening + timedelta(hours=2)), state(granted(Channel.PHONE)), at=evening
    )
    assert outcome == Blocked(BlockReason.OUTSIDE_CALLING_HOURS)


def test_a_blocked_call_is_blocked_not_deferred_outside_hours() -> None:
    evening = datetime(2026, 3, 3, 21, tzinfo=ZoneInfo("Europe/Berlin"))
    assert run(due(), state(), at=evening) == Blocked(BlockReason.NO_CONSENT)


def test_letters_ignore_calling_hours() -> None:
    sunday = datetime(2026, 3, 8, 12, tzinfo=ZoneInfo("Europe/Berlin"))
    assert run(due(Channel.LETTER), state(), at=sunday) == Authorized(
        LegalBasis.LETTER_WITHOUT_OBJECTION
    )


def test_at_the_channel_cap_the_outreach_waits_for_the_oldest_contact_to_leave_the_window() -> None:
    contacts = [Contact(Channel.PHONE, NOW - 5 * DAY), Contact(Channel.PHONE, NOW - DAY)]
    outcome = run(due(), state(granted(Channel.PHONE)), contacts=contacts)
    assert outcome == Deferred(NOW + 2 * DAY, DeferralReason.FREQUENCY_CAP)


def test_the_cross_channel_cap_counts_every_channel() -> None:
    contacts = [
        Contact(Channel.EMAIL, NOW - 6 * DAY),
        Contact(Channel.LETTER, NOW - 3 * DAY),
        Contact(Channel.PHONE, NOW - DAY),
    ]
    outcome = run(due(), state(granted(Channel.PHONE)), contacts=contacts)
    assert outcome == Deferred(NOW + DAY, DeferralReason.FREQUENCY_CAP)


def test_contacts_outside_the_window_do_not_count() -> None:
    contacts = [Contact(Channel.PHONE, NOW - 8 * DAY), Contact(Channel.PHONE, NOW - 7 * DAY)]
    outcome = run(due(), state(granted(Channel.PHONE)), contacts=contacts)
    assert outcome == Authorized(LegalBasis.EXPRESS_CONSENT, CONSENT)


def test_the_cap_blocks_when_the_campaign_ends_before_the_window_frees() -> None:
    contacts = [Contact(Channel.PHONE, NOW - 5 * DAY), Contact(Channel.PHONE, NOW - DAY)]
    outcome = run(due(ends_at=NOW + DAY), state(granted(Channel.PHONE)), contacts=contacts)
    assert outcome == Blocked(BlockReason.FREQUENCY_CAP)


def test_service_outreach_is_not_capped() -> None:
    contacts = [Contact(Channel.PHONE, NOW - DAY)] * 5
    outcome = run(due(purpose=Purpose.SERVICE), state(), contacts=contacts)
    assert outcome == Authorized(LegalBasis.NOT_ADVERTISING)


def test_no_caps_no_limit() -> None:
    assert (
        free_from([Contact(Channel.PHONE, NOW)] * 100, Channel.PHONE, FrequencyCaps(), NOW) is None
    )


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (None, CAPS),
        (
            FrequencyCaps(per_channel=FrequencyCap(limit=1, window_days=30)),
            FrequencyCaps(
                per_channel=FrequencyCap(limit=1, window_days=30),
                across_channels=CAPS.across_channels,
            ),
        ),
    ],
)
def test_a_campaign_overrides_the_default_caps_where_it_sets_them(
    override: FrequencyCaps | None, expected: FrequencyCaps
) -> None:
    assert effective_caps(CAPS, override) == expected
