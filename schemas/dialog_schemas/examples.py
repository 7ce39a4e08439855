"""One example per event type: shown in the contract documents, validated like any event."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID, uuid5

from dialog_schemas import audit as au
from dialog_schemas import campaigns as cp
from dialog_schemas import consent as cs
from dialog_schemas import contacts as ct
from dialog_schemas import interactions as ia
from dialog_schemas import outbound as ob
from dialog_schemas.common import (
    BlockReason,
    Channel,
    CustomerKind,
    Direction,
    LegalBasis,
    Purpose,
)
from dialog_schemas.envelope import Envelope, Event

CUSTOMER = "C-100042"
AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
NAMESPACE = UUID("0b6cbe0e-4a5e-4d43-9d1f-3c4f5a2a7e10")
CONSENT = uuid5(NAMESPACE, "consent")
OUTREACH = uuid5(NAMESPACE, "outreach")
WORDING = "4f2a" * 16
SUPPRESSION_HASH = "9c1e" * 16

EVIDENCE = cs.Evidence(
    medium=cs.CaptureMedium.WEB_FORM,
    wording_version="newsletter-2026-01",
    wording_sha256=WORDING,
    captured_at=AT,
    source_ref="form-snapshot-7781",
    actor="web-shop",
)
ADDRESS = ct.Address(street="Hauptstraße 5", postal_code="10115", city="Berlin", country="DE")
CALL = ia.CallDetails(
    agent_id="agent-17",
    queue="retention",
    duration_s=312,
    disposition=ia.CallDisposition.SALE,
    phone_number="+4930123456",
)
TOUCHPOINT = dict(
    touchpoint_id="call-88213",
    channel=Channel.PHONE,
    direction=Direction.OUTBOUND,
    occurred_at=AT,
    purpose=Purpose.RETENTION,
    summary="Offered the loyalty tariff; customer agreed.",
    details=CALL,
    campaign_id="retention-2026-q1",
    outreach_id=OUTREACH,
)
PURCHASE = dict(
    purchase_id="order-55120",
    product_id="fiber-250",
    product_name="Fiber 250",
    category="home-internet",
    purchased_at=AT,
    sales_channel=ct.SalesChannel.WEB_SHOP,
    email_address="erika.muster@example.org",
    objection_notice_given=True,
)
CANCELLATION = dict(
    contract_id="contract-3301",
    cancelled_at=AT,
    effective_on=date(2026, 5, 31),
    reason="Moving abroad.",
)

DEFINITION = cp.CampaignDefinition(
    name="Retention after cancellation",
    channel=Channel.PHONE,
    purpose=Purpose.RETENTION,
    product_category="home-internet",
    message_ref="script-retention-7",
    starts_at=AT,
    ends_at=datetime(2026, 3, 31, 18, tzinfo=UTC),
    audience=cp.Audience(
        rule=cp.AudienceRule(
            kinds=[CustomerKind.CONSUMER],
            cancelled_any=["home-internet"],
            cancelled_within_days=30,
            not_contacted=cp.RecencyRule(channel=Channel.PHONE, within_days=30),
        ),
        exclude_ids=["C-100007"],
    ),
    frequency_caps=cp.FrequencyCaps(
        per_channel=cp.FrequencyCap(limit=2, window_days=30),
        across_channels=cp.FrequencyCap(limit=4, window_days=30),
    ),
)
REQUEST = dict(
    outreach_id=OUTREACH,
    campaign_id="retention-2026-q1",
    purpose=Purpose.RETENTION,
    message_ref="script-retention-7",
    requested_at=AT,
    deadline=datetime(2026, 3, 5, 9, 30, tzinfo=UTC),
)

SIGNAL = dict(
    signal_id="visit-55102",
    signal=cp.SignalKind.CART_ABANDONED,
    category="mobile",
    product_id="phone-x12",
    occurred_at=AT,
)
EXAMPLES: tuple[Event, ...] = (
    cs.ConsentGranted(
        consent_id=CONSENT,
        channel=Channel.EMAIL,
        purpose=Purpose.MARKETING,
        evidence=EVIDENCE,
        pending_confirmation=True,
        contact_point="erika.muster@example.org",
        confirmation_token_sha256="86888fa851bc0fbd0938db4f941d51738b5f30170ae667510d855adbd976e115",
    ),
    cs.ConsentConfirmed(
        consent_id=CONSENT,
        confirmed_at=AT,
        source_ref="sha256:86888fa851bc0fbd0938db4f941d51738b5f30170ae667510d855adbd976e115",
    ),
    cs.ConsentRevoked(
        consent_id=CONSENT,
        channel=Channel.EMAIL,
        purpose=Purpose.MARKETING,
        revoked_at=AT,
        via_channel=Channel.PHONE,
        source_ref="call-88214",
    ),
    cs.ObjectionRecorded(
        objection_id=uuid5(NAMESPACE, "objection"), objected_at=AT, via_channel=Channel.LETTER
    ),
    cs.ChannelObjectionRecorded(
        channel=Channel.EMAIL, objected_at=AT, via_channel=Channel.EMAIL, source_ref="unsub-1182"
    ),
    cs.ObjectionLifted(
        objection_id=uuid5(NAMESPACE, "objection"), lifted_at=AT, consent_id=CONSENT
    ),
    cs.ConsentUsed(
        consent_id=CONSENT,
        used_at=AT,
        channel=Channel.EMAIL,
        purpose=Purpose.MARKETING,
        reference=str(OUTREACH),
    ),
    cs.ConsentExpired(
        consent_id=CONSENT, expired_at=AT, last_used_at=datetime(2024, 3, 1, tzinfo=UTC)
    ),
    cs.ContactPointSuppressed(
        channel=Channel.LETTER,
        list_name="robinson",
        list_version="2026-02",
        matched_at=AT,
        contact_point_hash=SUPPRESSION_HASH,
    ),
    cs.ConsentStateChanged(
        as_of=AT,
        objection=False,
        consents=[
            cs.ConsentSummary(
                consent_id=CONSENT,
                channel=Channel.EMAIL,
                purpose=Purpose.MARKETING,
                status=cs.ConsentStatus.ACTIVE,
                granted_at=AT,
            )
        ],
    ),
    ct.ContactRegistered(
        kind=CustomerKind.CONSUMER,
        name="Erika Mustermann",
        birth_date=date(1984, 8, 12),
        addresses=[ADDRESS],
        phone_numbers=["+4930123456"],
        email_addresses=["erika.muster@example.org"],
        preferred_language="de",
        time_zone="Europe/Berlin",
        interests=["mobile", "streaming"],
        customer_since=date(2019, 4, 1),
        registered_at=AT,
    ),
    ct.ContactUpdated(phone_numbers=["+4915112345678"], updated_at=AT),
    ct.ContactsMerged(merged_customer_id="C-100077", merged_at=AT),
    ct.ProductPurchased(**PURCHASE),
    ct.ContractStarted(
        contract_id="contract-3301",
        product_id="fiber-250",
        category="home-internet",
        started_at=AT,
        sales_channel=ct.SalesChannel.PHONE,
    ),
    ct.ContractCancelled(**CANCELLATION),
    ct.CancellationRetracted(contract_id="contract-3301", withdrawn_at=AT),
    ct.ContactErased(
        erased_at=AT,
        request_id=uuid5(NAMESPACE, "erasure"),
        suppressed_contact_points=[SUPPRESSION_HASH],
    ),
    ct.PurchaseReported(**PURCHASE),
    ct.CancellationReported(**CANCELLATION),
    ct.CancellationWithdrawalReported(contract_id="contract-3301", withdrawn_at=AT),
    ia.TouchpointRecorded(**TOUCHPOINT, reported_by="telephony"),
    ia.TouchpointReported(**TOUCHPOINT),
    ia.OptOutReceived(touchpoint_id="call-88214", channel=Channel.PHONE, received_at=AT),
    ia.ContractConfirmationDue(touchpoint_id="call-88213", sale_at=AT),
    ia.ContractConfirmationSent(
        touchpoint_id="call-88213",
        sent_at=AT,
        sent_via=Channel.EMAIL,
        withdrawal_ends_on=date(2026, 3, 16),
        received_at=AT,
        time_zone="Europe/Berlin",
        federal_state="DE-BE",
    ),
    ia.ComplianceFindingRecorded(
        finding_id=uuid5(NAMESPACE, "finding"),
        touchpoint_id="call-88300",
        channel=Channel.PHONE,
        purpose=Purpose.CROSS_SELL,
        occurred_at=AT,
        reason=BlockReason.NO_CONSENT,
    ),
    cp.CampaignCreated(
        campaign_id="retention-2026-q1",
        name="Retention after cancellation",
        channel=Channel.PHONE,
        purpose=Purpose.RETENTION,
        product_category="home-internet",
        created_at=AT,
        definition=DEFINITION,
    ),
    cp.CampaignUpdated(campaign_id="retention-2026-q1", definition=DEFINITION, updated_at=AT),
    cp.CampaignLaunched(campaign_id="retention-2026-q1", launched_at=AT),
    cp.WaveLaunched(campaign_id="retention-2026-q1", wave=1, launched_at=AT, due_from=AT),
    cp.CampaignPaused(campaign_id="retention-2026-q1", paused_at=AT),
    cp.CampaignResumed(campaign_id="retention-2026-q1", resumed_at=AT),
    cp.CampaignStopped(campaign_id="retention-2026-q1", stopped_at=AT),
    cp.CampaignCompleted(campaign_id="retention-2026-q1", completed_at=AT),
    cp.OutreachPlanned(
        outreach_id=OUTREACH,
        campaign_id="retention-2026-q1",
        channel=Channel.PHONE,
        purpose=Purpose.RETENTION,
        planned_for=AT,
        trigger=cp.TriggerRef(
            kind=cp.TriggerKind.CONTRACT_CANCELLED,
            event_id=uuid5(NAMESPACE, "cancellation"),
            occurred_at=AT,
        ),
    ),
    cp.OutreachAuthorized(
        outreach_id=OUTREACH,
        campaign_id="retention-2026-q1",
        channel=Channel.PHONE,
        purpose=Purpose.RETENTION,
        decided_at=AT,
        legal_basis=LegalBasis.EXPRESS_CONSENT,
        consent_id=CONSENT,
    ),
    cp.OutreachBlocked(
        outreach_id=uuid5(NAMESPACE, "blocked"),
        campaign_id="retention-2026-q1",
        channel=Channel.PHONE,
        purpose=Purpose.RETENTION,
        decided_at=AT,
        reason=BlockReason.NO_CONSENT,
    ),
    cp.OutreachDeferred(
        outreach_id=uuid5(NAMESPACE, "deferred"),
        campaign_id="retention-2026-q1",
        channel=Channel.PHONE,
        purpose=Purpose.RETENTION,
        decided_at=AT,
        until=datetime(2026, 3, 3, 8, tzinfo=UTC),
        reason=cp.DeferralReason.OUTSIDE_CALLING_HOURS,
    ),
    cp.OutreachCancelled(
        outreach_id=uuid5(NAMESPACE, "cancelled"),
        campaign_id="retention-2026-q1",
        channel=Channel.PHONE,
        cancelled_at=AT,
        reason=cp.CancellationReason.CAMPAIGN_STOPPED,
    ),
    ob.CallRequested(**REQUEST, phone_number="+4930123456"),
    ob.EmailRequested(**REQUEST, email_address="erika.muster@example.org"),
    ob.LetterRequested(**REQUEST, address=ADDRESS),
    ob.SmsRequested(**REQUEST, phone_number="+4915112345678"),
    cp.OutreachDispatched(
        outreach_id=OUTREACH,
        campaign_id="retention-2026-q1",
        channel=Channel.PHONE,
        dispatched_at=AT,
    ),
    cp.ResponseReceived(
        response_id="response-1207",
        outreach_id=OUTREACH,
        campaign_id="retention-2026-q1",
        channel=Channel.PHONE,
        received_at=AT,
        response=cp.ResponseKind.INTERESTED,
        attributed_by=cp.AttributionMethod.OUTREACH_ID,
        source_event_id=UUID("5b0f3c2e-8a4d-5e71-9c3b-0d2e4f6a8b1c"),
    ),
    cp.BehaviouralSignalRecorded(**SIGNAL),
    cp.BehaviouralSignalReported(**SIGNAL),
    au.PersonalDataAccessed(
        actor="dpo@example.com",
        action="proof",
        service="consent",
        method="GET",
        route="/v1/customers/{customer_id}/proof",
        status=200,
        outcome=au.AuditOutcome.ANSWERED,
        personal_fields_shown=True,
    ),
)


def example_envelope(event: Event, source: str) -> Envelope:
    """The example wrapped as it travels, with ids derived from its type so they stay stable."""
    subject = "retention-2026-q1" if isinstance(event, cp.CAMPAIGN_EVENTS) else CUSTOMER
    return Envelope.wrap(
        event,
        id=uuid5(NAMESPACE, event.event_type),
        source=source,
        subject=subject,
        time=AT,
        correlationid=uuid5(NAMESPACE, "conversation"),
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )
