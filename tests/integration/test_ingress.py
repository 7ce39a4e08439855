"""Ingress on the real broker: 1,000 records, some broken in every way, through the real worker."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from contacts.domain import cancellation_event_id, purchase_event_id
from dialog_schemas import Envelope
from dialog_schemas.catalog import (
    CONTACTS_EVENTS,
    CONTACTS_INGRESS,
    INTERACTIONS_EVENTS,
    INTERACTIONS_INGRESS,
    dead_letter_topic,
)
from dialog_schemas.examples import EXAMPLES
from dialog_schemas.interactions import TouchpointReported
from dialogkit.codec import MAX_RECORD_BYTES, encode
from interactions.domain import touchpoint_event_id
from tests.support import eventually, read_topic, service_process

CASE = "test_case"
CHANNEL_DETAILS = {
    "phone": {"kind": "call", "disposition": "reached", "duration_s": 60},
    "email": {"kind": "email", "message_id": "m-1", "status": "opened"},
    "letter": {"kind": "letter", "mailing_id": "mailing-1", "status": "delivered"},
    "sms": {"kind": "sms", "message_id": "s-1", "status": "delivered"},
    "social": {"kind": "social", "platform": "x", "thread_id": "t-1", "message_id": "p-1"},
}


@pytest.fixture
async def producer(platform_topics_ready: str) -> AsyncIterator[AIOKafkaProducer]:
    started = AIOKafkaProducer(bootstrap_servers=platform_topics_ready, acks="all", linger_ms=5)
    await started.start()
    yield started
    await started.stop()


def report_envelope(customer: str, number: int) -> dict[str, Any]:
    channel = list(CHANNEL_DETAILS)[number % 5]
    report = TouchpointReported(
        touchpoint_id=f"tp-{number}",
        channel=channel,  # type: ignore[arg-type]
        direction="outbound" if number % 2 else "inbound",  # type: ignore[arg-type]
        occurred_at=datetime.now(UTC) - timedelta(minutes=number),
        summary=f"touchpoint {number}",
        details=CHANNEL_DETAILS[channel],  # type: ignore[arg-type]
    )
    envelope = Envelope.wrap(
        report, id=uuid.uuid4(), source="/telephony", subject=customer, time=datetime.now(UTC)
    )
    document: dict[str, Any] = orjson.loads(encode(envelope))
    return document


def with_data(document: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return document | {"data": document["data"] | changes}


# How each kind of broken record is made, and the reason and field it must be rejected with.
BROKEN: dict[str, tuple[Any, str, str | None]] = {
    "not_json": (lambda d: b"{this is not json", "not_json", None),
    "empty": (lambda d: None, "empty_record", None),
    "oversized": (
        lambda d: orjson.dumps(with_data(d, summary="x" * 1000) | {"pad": "y" * MAX_RECORD_BYTES}),
        "oversized",
        None,
    ),
    "json_array": (lambda d: b"[1, 2, 3]", "invalid_envelope", None),
    "no_subject": (
        lambda d: orjson.dumps({k: v for k, v in d.items() if k != "subject"}),
        "invalid_envelope",
        "subject",
    ),
    "unknown_type": (
        lambda d: orjson.dumps(d | {"type": "TouchpointTeleported"}),
        "unknown_type",
        None,
    ),
    "future_version": (
        lambda d: orjson.dumps(d | {"schemaversion": 9}),
        "unsupported_version",
        None,
    ),
    "bad_channel": (lambda d: orjson.dumps(with_data(d, channel="fax")), "invalid_data", "channel"),
    "extra_field": (
        lambda d: orjson.dumps(with_data(d, mood="cheerful")),
        "invalid_data",
        "mood",
    ),
    "missing_field": (
        lambda d: orjson.dumps(
            d | {"data": {k: v for k, v in d["data"].items() if k != "direction"}}
        ),
        "invalid_data",
        "direction",
    ),
    "in_future": (
        lambda d: orjson.dumps(
            with_data(d, occurred_at=(datetime.now(UTC) + timedelta(days=2)).isoformat())
        ),
        "rejected",
        "occurred_at",
    ),
}


async def test_a_thousand_ingress_records_become_canonical_events_or_dead_letters(
    platform_topics_ready: str,
    producer: AIOKafkaProducer,
    new_database,
    tmp_path: Path,
    data_keys_env: dict[str, str],
) -> None:
    run = uuid.uuid4().hex[:8]
    customers = [f"ingress-{run}-{n}" for n in range(40)]
    kinds = list(BROKEN)
    expected_events: set[uuid.UUID] = set()
    expected_letters: dict[str, str] = {}
    sent = 0
    for number in range(1000):
        customer = customers[number % len(customers)]
        document = report_envelope(customer, number)
        case = f"{run}-{number}"
        if number % 5 == 0:  # every fifth record is broken, each kind about equally often
            kind = kinds[(number // 5) % len(kinds)]
            make, reason, _ = BROKEN[kind]
            value = make(document)
            expected_letters[case] = kind
        else:
            value = orjson.dumps(document)
            expected_events.add(touchpoint_event_id(customer, f"tp-{number}"))
        await producer.send(
            INTERACTIONS_INGRESS.name, value, key=customer.encode(), headers=[(CASE, case.encode())]
        )
        sent += 1
    await producer.flush()
    assert (sent, len(expected_events), len(expected_letters)) == (1000, 800, 200)

    dsn = await new_database("interactions")
    common = {"bootstrap": platform_topics_ready, "dsn": dsn, "extra_env": data_keys_env}
    with service_process("interactions", "worker", logs=tmp_path / "worker.log", **common) as (
        worker,
        base,
    ):
        events = await eventually(
            lambda: canonical_ids(platform_topics_ready, INTERACTIONS_EVENTS.name, set(customers)),
            lambda found: len(found) >= len(expected_events),
            timeout=120,
            interval=1,
        )
        letters = await eventually(
            lambda: dead_letters(platform_topics_ready, "interactions", run),
            lambda found: len(found) >= len(expected_letters),
            timeout=60,
            interval=1,
        )
        assert Counter(events) == Counter(expected_events), "each valid record exactly once"
        assert set(events) == expected_events
        assert sorted(c for c, _ in letters) == sorted(expected_letters), "each broken one once"
        for case, headers in letters:
            _, reason, field = BROKEN[expected_letters[case]]
            assert headers["dlq_reason"] == reason, (case, headers)
            assert headers["dlq_source_topic"] == INTERACTIONS_INGRESS.name
            if field is not None:
                detail = orjson.loads(headers["dlq_detail"])
                assert field in [d["field"] for d in detail], (case, detail)

        assert worker.process.poll() is None, "the worker is still running"
        async with httpx.AsyncClient(base_url=base) as client:
            metrics = (await client.get("/metrics")).text
            assert (await client.get("/readyz")).status_code == 200
        assert (
            'dialog_ingress_records_total{outcome="accepted",topic="interactions.ingress.v1"} 800'
            in metrics
        )
        assert (
            'dialog_ingress_records_total{outcome="rejected",topic="interactions.ingress.v1"} 200'
            in metrics
        )
        for reason in ("not_json", "oversized", "unknown_type", "invalid_data", "rejected"):
            assert f'reason="{reason}"' in metrics

        late = report_envelope(customers[0], 5000)
        await producer.send_and_wait(
            INTERACTIONS_INGRESS.name, orjson.dumps(late), key=customers[0].encode()
        )
        await eventually(
            lambda: canonical_ids(platform_topics_ready, INTERACTIONS_EVENTS.name, {customers[0]}),
            lambda found: touchpoint_event_id(customers[0], "tp-5000") in found,
            timeout=60,
            interval=1,
        )


async def test_shop_and_billing_reports_become_contact_events(
    platform_topics_ready: str, producer: AIOKafkaProducer, new_database, tmp_path: Path
) -> None:
    customer = f"shop-{uuid.uuid4().hex[:12]}"
    purchase, cancellation = (
        e for e in EXAMPLES if e.event_type in ("PurchaseReported", "CancellationReported")
    )
    run = uuid.uuid4().hex[:8]
    for number, event in enumerate([purchase, cancellation]):
        envelope = Envelope.wrap(
            event, id=uuid.uuid4(), source="/billing", subject=customer, time=datetime.now(UTC)
        )
        await producer.send(
            CONTACTS_INGRESS.name,
            encode(envelope),
            key=customer.encode(),
            headers=[(CASE, f"{run}-{number}".encode())],
        )
    broken = orjson.loads(
        encode(
            Envelope.wrap(
                purchase, id=uuid.uuid4(), source="/shop", subject=customer, time=datetime.now(UTC)
            )
        )
    )
    broken["data"]["sales_channel"] = "carrier_pigeon"
    await producer.send_and_wait(
        CONTACTS_INGRESS.name,
        orjson.dumps(broken),
        key=customer.encode(),
        headers=[(CASE, f"{run}-broken".encode())],
    )

    dsn = await new_database("contacts")
    common = {"bootstrap": platform_topics_ready, "dsn": dsn}
    with service_process("contacts", "worker", logs=tmp_path / "worker.log", **common):
        events = await eventually(
            lambda: canonical_ids(platform_topics_ready, CONTACTS_EVENTS.name, {customer}),
            lambda found: len(found) >= 2,
            timeout=90,
            interval=1,
        )
        letters = await eventually(
            lambda: dead_letters(platform_topics_ready, "contacts", run),
            lambda found: len(found) >= 1,
            timeout=60,
            interval=1,
        )
    assert events == [
        purchase_event_id(customer, "order-55120"),
        cancellation_event_id(customer, "contract-3301"),
    ]
    [(case, headers)] = letters
    assert case == f"{run}-broken"
    assert headers["dlq_reason"] == "invalid_data"
    assert orjson.loads(headers["dlq_detail"])[0]["field"] == "sales_channel"


async def canonical_ids(bootstrap: str, topic: str, customers: set[str]) -> list[uuid.UUID]:
    """Ids of the events about these customers on a topic, in topic order per partition."""
    found = []
    for record in await read_topic(bootstrap, topic):
        if record.key is not None and record.key.decode() in customers:
            found.append(uuid.UUID(orjson.loads(record.value)["id"]))
    return found


async def dead_letters(bootstrap: str, service: str, run: str) -> list[tuple[str, dict[str, str]]]:
    """Dead letters of this run, with the test case header the original record carried."""
    letters = []
    for record in await read_topic(bootstrap, dead_letter_topic(service)):
        headers = {k: v.decode() for k, v in record.headers}
        if headers.get(CASE, "").startswith(f"{run}-"):
            letters.append((headers[CASE], headers))
    return letters
