"""Ingress routes with a fake publisher: what becomes canonical, what is dead-lettered and why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest

from campaigns.signals import SignalIngress, signal_event_id
from contacts.config import Settings as ContactsSettings
from contacts.domain import cancellation_event_id, purchase_event_id, withdrawal_event_id
from contacts.ingress import ShopIngress
from contacts.profiles import contact_point_hash
from dialog_schemas import Envelope
from dialog_schemas.campaigns import (
    BehaviouralSignalRecorded,
    BehaviouralSignalReported,
    SignalKind,
)
from dialog_schemas.catalog import CAMPAIGNS_INGRESS, CONTACTS_INGRESS, INTERACTIONS_INGRESS
from dialog_schemas.common import Channel
from dialog_schemas.contacts import CancellationRetracted, ContractCancelled, ProductPurchased
from dialog_schemas.examples import EXAMPLES
from dialog_schemas.interactions import (
    CallDetails,
    CallDisposition,
    SurveyAnswer,
    TouchpointRecorded,
    TouchpointReported,
)
from dialogkit import metrics
from dialogkit.codec import encode
from dialogkit.deadletters import DeadLetters
from dialogkit.ingress import (
    INGRESS_RECORDS_TOTAL,
    IngressContext,
    IngressProcessor,
    IngressRoute,
)
from dialogkit.publishing import FakePublisher, envelope_headers
from dialogkit.records import SourceRecord
from interactions.config import Settings as InteractionsSettings
from interactions.domain import touchpoint_event_id
from interactions.ingress import TouchpointIngress

EXAMPLE = next(e for e in EXAMPLES if isinstance(e, TouchpointReported))
assert isinstance(EXAMPLE.details, CallDetails)
REPORT = EXAMPLE.model_copy(
    update={"details": EXAMPLE.details.model_copy(update={"disposition": CallDisposition.REACHED})}
)
PAST = datetime.now(UTC) - timedelta(hours=1)


def report_record(offset: int, **data: Any) -> SourceRecord:
    event = REPORT.model_copy(update={"occurred_at": PAST, **data})
    envelope = Envelope.wrap(
        event, id=uuid4(), source="/telephony", subject="c-1", time=datetime.now(UTC)
    )
    return SourceRecord(INTERACTIONS_INGRESS.name, 0, offset, b"c-1", encode(envelope))


def raw_record(offset: int, document: dict[str, Any], topic: str) -> SourceRecord:
    return SourceRecord(topic, 0, offset, b"c-1", orjson.dumps(document))


class SuppressedPoints:
    """The contacts database as suppression asks it: hashes of erased contact points."""

    def __init__(self, *hashes: str) -> None:
        self.hashes = set(hashes)

    async def fetch(self, query: str, wanted: list[str]) -> list[dict[str, Any]]:
        assert "suppressed_contact_points" in query
        return [{"hash": h, "erased_at": PAST} for h in sorted(self.hashes & set(wanted))]


def processor(
    route: IngressRoute, db: SuppressedPoints | None = None
) -> tuple[IngressProcessor, FakePublisher]:
    publisher = FakePublisher()
    dead = DeadLetters(publisher, "test.deadletter.v1", route.name)
    context = IngressContext(db or SuppressedPoints(), ContactsSettings())
    return IngressProcessor(route, publisher, dead, context=context), publisher


def dead_letter_reasons(publisher: FakePublisher) -> list[tuple[str, Any]]:
    return [
        (dict(h)["dlq_reason"].decode(), orjson.loads(dict(h)["dlq_detail"]))
        for _, _, h in publisher.raw.get("test.deadletter.v1", [])
    ]


async def test_a_reported_touchpoint_becomes_a_recorded_one_caused_by_the_report() -> None:
    ingress, publisher = processor(TouchpointIngress())
    record = report_record(0)
    outcome = await ingress.handle([record])

    [published] = publisher.sent["interactions.events.v1"]
    incoming = Envelope.model_validate_json(record.value or b"")
    assert published.id == touchpoint_event_id("c-1", REPORT.touchpoint_id)
    assert (published.subject, published.source) == ("c-1", "/interactions/ingress")
    assert (published.causationid, published.correlationid) == (incoming.id, incoming.correlationid)
    assert published.type == "TouchpointRecorded"
    assert published.schemaversion == 2
    event = TouchpointRecorded.model_validate(published.data)
    assert event.reported_by == "/telephony"
    assert event.details == REPORT.details
    assert (outcome.applied, outcome.dead_lettered) == (1, 0)


async def test_the_same_touchpoint_reported_twice_becomes_the_same_event() -> None:
    ingress, publisher = processor(TouchpointIngress())
    await ingress.handle([report_record(0), report_record(1)])
    first, second = publisher.sent["interactions.events.v1"]
    assert first.id == second.id


async def test_a_touchpoint_in_the_future_is_rejected_with_the_field() -> None:
    ingress, publisher = processor(TouchpointIngress())
    later = datetime.now(UTC) + timedelta(days=1)
    outcome = await ingress.handle([report_record(0, occurred_at=later), report_record(1)])
    [(reason, detail)] = dead_letter_reasons(publisher)
    assert reason == "rejected"
    assert detail[0]["field"] == "occurred_at"
    assert "is after now" in detail[0]["problem"]
    assert len(publisher.sent["interactions.events.v1"]) == 1
    assert (outcome.applied, outcome.dead_lettered) == (1, 1)


async def test_a_survey_answer_naming_no_outreach_is_rejected_with_the_field() -> None:
    ingress, publisher = processor(TouchpointIngress())
    unnamed = report_record(0, survey=SurveyAnswer(score=3), outreach_id=None)
    outcome = await ingress.handle([unnamed])
    [(reason, detail)] = dead_letter_reasons(publisher)
    assert reason == "rejected"
    assert detail[0]["field"] == "survey"
    assert "outreach_id and campaign_id" in detail[0]["problem"]
    assert (outcome.applied, outcome.dead_lettered) == (0, 1)


@pytest.mark.parametrize(
    ("change", "field", "kind"),
    [
        ({"channel": "fax"}, "channel", "enum"),
        ({"surprise": True}, "surprise", "extra_forbidden"),
        ({"touchpoint_id": ""}, "touchpoint_id", "string_too_short"),
        ({"occurred_at": "2026-11-20T10:00:00"}, "occurred_at", "timezone_aware"),
        ({"details": {"kind": "call", "disposition": "maybe"}}, "details.call.disposition", "enum"),
        ({"channel": "email"}, "details", "value_error"),
    ],
)
async def test_invalid_reports_are_dead_lettered_with_field_and_kind(
    change: dict[str, Any], field: str, kind: str
) -> None:
    ingress, publisher = processor(TouchpointIngress())
    document = orjson.loads(report_record(0).value or b"")
    document["data"] |= change
    before = metrics.value(
        INGRESS_RECORDS_TOTAL, topic=INTERACTIONS_INGRESS.name, outcome="rejected"
    )

    await ingress.handle([raw_record(0, document, INTERACTIONS_INGRESS.name)])

    [(reason, detail)] = dead_letter_reasons(publisher)
    assert reason == "invalid_data"
    assert (detail[0]["field"], detail[0]["kind"]) == (field, kind)
    assert publisher.sent.get("interactions.events.v1", []) == []
    after = metrics.value(
        INGRESS_RECORDS_TOTAL, topic=INTERACTIONS_INGRESS.name, outcome="rejected"
    )
    assert after == before + 1


async def test_a_platform_event_type_is_not_accepted_on_ingress() -> None:
    ingress, publisher = processor(TouchpointIngress())
    recorded = next(e for e in EXAMPLES if isinstance(e, TouchpointRecorded))
    envelope = Envelope.wrap(recorded, id=uuid4(), source="/x", subject="c-1", time=PAST)
    await ingress.handle([SourceRecord(INTERACTIONS_INGRESS.name, 0, 0, b"c-1", encode(envelope))])
    [(reason, _)] = dead_letter_reasons(publisher)
    assert reason == "unknown_type"


async def test_shop_reports_become_purchases_and_cancellations() -> None:
    ingress, publisher = processor(ShopIngress())
    purchase, cancellation = (
        e for e in EXAMPLES if e.event_type in ("PurchaseReported", "CancellationReported")
    )
    records = [
        SourceRecord(
            CONTACTS_INGRESS.name,
            0,
            offset,
            b"c-9",
            encode(Envelope.wrap(event, id=uuid4(), source="/billing", subject="c-9", time=PAST)),
        )
        for offset, event in enumerate([purchase, cancellation])
    ]
    await ingress.handle(records)
    bought, cancelled = publisher.sent["contacts.events.v1"]
    assert bought.id == purchase_event_id("c-9", "order-55120")
    assert ProductPurchased.model_validate(bought.data).category == "home-internet"
    assert cancelled.id == cancellation_event_id("c-9", "contract-3301")
    assert ContractCancelled.model_validate(cancelled.data).reason == "Moving abroad."


async def test_a_shop_purchase_with_an_erased_address_comes_with_email_suppressed() -> None:
    purchase = next(e for e in EXAMPLES if e.event_type == "PurchaseReported")
    salt = ContactsSettings().suppression_salt.get_secret_value()
    erased = contact_point_hash("erika.muster@example.org", salt)
    ingress, publisher = processor(ShopIngress(), SuppressedPoints(erased))
    envelope = Envelope.wrap(purchase, id=uuid4(), source="/shop", subject="c-9", time=PAST)
    await ingress.handle([SourceRecord(CONTACTS_INGRESS.name, 0, 0, b"c-9", encode(envelope))])
    [bought] = publisher.sent["contacts.events.v1"]
    assert ProductPurchased.model_validate(bought.data).suppressed_channels == [Channel.EMAIL]


async def test_a_shop_purchase_with_a_fresh_address_suppresses_nothing() -> None:
    purchase = next(e for e in EXAMPLES if e.event_type == "PurchaseReported")
    ingress, publisher = processor(ShopIngress(), SuppressedPoints("00" * 32))
    envelope = Envelope.wrap(purchase, id=uuid4(), source="/shop", subject="c-9", time=PAST)
    await ingress.handle([SourceRecord(CONTACTS_INGRESS.name, 0, 0, b"c-9", encode(envelope))])
    [bought] = publisher.sent["contacts.events.v1"]
    assert ProductPurchased.model_validate(bought.data).suppressed_channels == []


async def test_a_cancellation_effective_before_it_was_declared_is_rejected() -> None:
    ingress, publisher = processor(ShopIngress())
    cancellation = next(e for e in EXAMPLES if e.event_type == "CancellationReported")
    document = orjson.loads(
        encode(Envelope.wrap(cancellation, id=uuid4(), source="/billing", subject="c-9", time=PAST))
    )
    document["data"]["effective_on"] = "2026-01-01"
    await ingress.handle([raw_record(0, document, CONTACTS_INGRESS.name)])
    [(reason, detail)] = dead_letter_reasons(publisher)
    assert reason == "rejected"
    assert detail[0]["field"] == "effective_on"


def test_canonical_ids_depend_on_customer_and_business_key() -> None:
    assert purchase_event_id("c-1", "o-1") != purchase_event_id("c-2", "o-1")
    assert purchase_event_id("c-1", "o-1") != cancellation_event_id("c-1", "o-1")
    assert isinstance(touchpoint_event_id("c-1", "t"), UUID)


async def test_personal_data_from_ingress_is_sealed_and_an_erased_customer_refused() -> None:
    from dialogkit.keys import InMemoryKeyStore
    from dialogkit.pii import PersonalDataCipher

    keys = InMemoryKeyStore()
    publisher = FakePublisher()
    dead = DeadLetters(publisher, "test.deadletter.v1", "interactions.ingress")
    context = IngressContext(None, InteractionsSettings())
    ingress = IngressProcessor(TouchpointIngress(), publisher, dead, keys, context=context)
    await ingress.handle([report_record(0)])
    [published] = publisher.sent["interactions.events.v1"]
    assert published.data["details"]["phone_number"].startswith("pii:v1:")
    opened = await PersonalDataCipher(keys).open("c-1", published.data)
    assert opened["details"]["phone_number"] == REPORT.details.phone_number  # type: ignore[union-attr]

    await keys.destroy("c-1")
    outcome = await ingress.handle([report_record(1, touchpoint_id="after-erasure")])
    [(reason, detail)] = dead_letter_reasons(publisher)
    assert (reason, detail[0]["field"]) == ("rejected", "subject")
    assert "erased" in detail[0]["problem"]
    assert (outcome.applied, outcome.dead_lettered) == (0, 1)
    assert len(publisher.sent["interactions.events.v1"]) == 1, "nothing published unsealed"


async def test_a_binary_report_is_recorded_and_one_without_ce_id_dead_lettered_naming_it() -> None:
    ingress, publisher = processor(TouchpointIngress())
    structured = report_record(0)
    envelope = Envelope.model_validate_json(structured.value or b"")
    headers = [(k, v) for k, v in envelope_headers(envelope) if k.startswith("ce_")]
    value = orjson.dumps(envelope.data)
    binary = SourceRecord(INTERACTIONS_INGRESS.name, 0, 1, b"c-1", value, tuple(headers))
    without_id = replace(binary, offset=2, headers=tuple(h for h in headers if h[0] != "ce_id"))

    outcome = await ingress.handle([binary, without_id])

    [published] = publisher.sent["interactions.events.v1"]
    assert published.causationid == envelope.id
    [(reason, detail)] = dead_letter_reasons(publisher)
    assert (reason, detail) == (
        "invalid_envelope",
        [{"field": "ce_id", "problem": "Field required", "kind": "missing"}],
    )
    assert (outcome.applied, outcome.dead_lettered) == (1, 1)


async def test_a_withdrawn_cancellation_reported_by_billing_becomes_retracted_once() -> None:
    ingress, publisher = processor(ShopIngress())
    withdrawal = next(e for e in EXAMPLES if e.event_type == "CancellationWithdrawalReported")
    records = [
        SourceRecord(
            CONTACTS_INGRESS.name,
            0,
            offset,
            b"c-9",
            encode(
                Envelope.wrap(withdrawal, id=uuid4(), source="/billing", subject="c-9", time=PAST)
            ),
        )
        for offset in range(2)
    ]
    await ingress.handle(records)
    first, again = publisher.sent["contacts.events.v1"]
    assert first.id == again.id == withdrawal_event_id("c-9", "contract-3301")
    assert CancellationRetracted.model_validate(first.data).contract_id == "contract-3301"


def signal_record(offset: int, document: dict[str, Any] | None = None) -> SourceRecord:
    signal = next(e for e in EXAMPLES if isinstance(e, BehaviouralSignalReported))
    envelope = Envelope.wrap(signal, id=uuid4(), source="/shop", subject="c-3", time=PAST)
    if document is None:
        return SourceRecord(CAMPAIGNS_INGRESS.name, 0, offset, b"c-3", encode(envelope))
    return raw_record(offset, document, CAMPAIGNS_INGRESS.name)


async def test_a_behavioural_signal_becomes_a_campaign_event_once() -> None:
    ingress, publisher = processor(SignalIngress())
    await ingress.handle([signal_record(0), signal_record(1)])
    first, again = publisher.sent["campaigns.events.v1"]
    assert first.id == again.id == signal_event_id("c-3", "visit-55102")
    assert first.type == "BehaviouralSignalRecorded"
    recorded = BehaviouralSignalRecorded.model_validate(first.data)
    assert (recorded.signal, recorded.category) == (SignalKind.CART_ABANDONED, "mobile")
    assert dead_letter_reasons(publisher) == []


@pytest.mark.parametrize(
    ("change", "field", "kind"),
    [
        ({"signal": "shop_lifted"}, "signal", "enum"),
        ({"category": ""}, "category", "string_too_short"),
        ({"surprise": 1}, "surprise", "extra_forbidden"),
        ({"occurred_at": "2026-03-02T09:30:00"}, "occurred_at", "timezone_aware"),
    ],
)
async def test_a_broken_signal_is_dead_lettered_with_field_and_reason(
    change: dict[str, Any], field: str, kind: str
) -> None:
    ingress, publisher = processor(SignalIngress())
    document = orjson.loads(signal_record(0).value or b"")
    document["data"] |= change
    await ingress.handle([signal_record(0, document)])
    [(reason, detail)] = dead_letter_reasons(publisher)
    assert reason == "invalid_data"
    assert (detail[0]["field"], detail[0]["kind"]) == (field, kind)
    assert publisher.sent.get("campaigns.events.v1", []) == []


async def test_a_signal_from_the_future_is_rejected_with_the_field() -> None:
    ingress, publisher = processor(SignalIngress())
    document = orjson.loads(signal_record(0).value or b"")
    document["data"]["occurred_at"] = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    await ingress.handle([signal_record(0, document)])
    [(reason, detail)] = dead_letter_reasons(publisher)
    assert reason == "rejected"
    assert detail[0]["field"] == "occurred_at"


async def test_a_batch_of_reports_asks_for_its_customers_keys_in_one_request() -> None:
    from dialogkit.keys import DataKey, InMemoryKeyStore

    class CountingKeys(InMemoryKeyStore):
        def __init__(self) -> None:
            super().__init__()
            self.requests: list[list[str]] = []

        async def keys_for(
            self, customer_ids: Sequence[str], *, create: bool = False
        ) -> dict[str, DataKey | None]:
            self.requests.append(list(customer_ids))
            return await super().keys_for(customer_ids, create=create)

    keys = CountingKeys()
    await keys.destroy("c-erased")
    publisher = FakePublisher()
    dead = DeadLetters(publisher, "test.deadletter.v1", "interactions.ingress")
    context = IngressContext(None, InteractionsSettings())
    ingress = IngressProcessor(TouchpointIngress(), publisher, dead, keys, context=context)
    customers = [f"c-{n}" for n in range(20)] + ["c-erased"]
    records = [
        replace(
            report_record(n), key=c.encode(), value=encode(replace_subject(report_record(n), c))
        )
        for n, c in enumerate(customers)
    ]

    outcome = await ingress.handle(records)

    assert keys.requests == [sorted(customers)], "one request for the batch, not one per record"
    assert (outcome.applied, outcome.dead_lettered) == (20, 1), "the erased one alone refused"
    assert all(
        e.data["details"]["phone_number"].startswith("pii:v1:")
        for e in publisher.sent["interactions.events.v1"]
    )


def replace_subject(record: SourceRecord, customer: str) -> Envelope:
    envelope = Envelope.model_validate_json(record.value or b"")
    return envelope.model_copy(update={"subject": customer})
