"""Ingress as other systems write it: the official CloudEvents SDK, in every content mode."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from cloudevents.core.bindings import kafka
from cloudevents.v1 import kafka as legacy_kafka
from cloudevents.v1.http import CloudEvent as LegacyCloudEvent

from campaigns.config import Settings as CampaignsSettings
from campaigns.signals import SignalIngress, signal_event_id
from contacts.domain import purchase_event_id
from dialog_schemas.catalog import (
    CAMPAIGNS_EVENTS,
    CAMPAIGNS_INGRESS,
    CONTACTS_INGRESS,
    INTERACTIONS_INGRESS,
    dead_letter_topic,
)
from dialog_schemas.examples import EXAMPLES
from dialog_schemas.sdk_example import customer_key, ingress_event, produce
from dialogkit.deadletters import DeadLetters
from dialogkit.ingress import IngressContext, IngressProcessor
from dialogkit.publishing import KafkaPublisher
from dialogkit.records import SourceRecord
from tests.integration.test_ingress import CASE, dead_letters, report_envelope
from tests.support import Service, eventually, read_topic, service_processes


@pytest.fixture
async def producer(platform_topics_ready: str) -> AsyncIterator[AIOKafkaProducer]:
    started = AIOKafkaProducer(bootstrap_servers=platform_topics_ready, acks="all")
    await started.start()
    yield started
    await started.stop()


WAYS = ("structured", "structured, data_base64", "binary")


def legacy_record(
    way: str, event_type: str, customer: str, fields: dict[str, Any]
) -> tuple[bytes, list[tuple[str, bytes]]]:
    """A record as the SDK's legacy API (`cloudevents.kafka` in SDK 1) writes it."""
    event = LegacyCloudEvent(
        {
            "type": event_type,
            "source": "/legacy-client",
            "subject": customer,
            "schemaversion": "1",
            "correlationid": str(uuid.uuid4()),
            "time": datetime.now(UTC).isoformat(),
            "datacontenttype": "application/json",
        },
        fields,
    )
    if way == "binary":
        message = legacy_kafka.to_binary(event)
    elif way == "structured":
        message = legacy_kafka.to_structured(event)
    else:
        message = legacy_kafka.to_structured(event, data_marshaller=orjson.dumps)
    value = message.value.encode() if isinstance(message.value, str) else message.value
    return value, list(message.headers.items())


async def produce_every_way(
    producer: AIOKafkaProducer,
    topic: str,
    event_type: str,
    customer: str,
    reports: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """Each report in its way: the SDK's current API through the integration guide's code, or
    its legacy API; a `data_base64` way hands the SDK the data as JSON bytes."""
    for (api, way), fields in reports.items():
        if api == "current":
            data = orjson.dumps(fields) if "base64" in way else fields
            event = ingress_event(event_type, customer, data, source="/sdk-client")
            await produce(producer, topic, event, binary=way == "binary")
        else:
            value, headers = legacy_record(way, event_type, customer, fields)
            await producer.send_and_wait(topic, value, key=customer.encode(), headers=headers)


async def of_customer(bootstrap: str, topic: str, customer: str) -> list[SourceRecord]:
    """The records a topic holds now under the customer's key, as a worker hands them on."""
    return [
        SourceRecord(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers))
        for r in await read_topic(bootstrap, topic)
        if r.key == customer.encode()
    ]


async def signals_ingested(bootstrap: str, publisher: KafkaPublisher, customer: str) -> set[str]:
    """The campaigns worker's ingress route, in process on the broker's records: the ids of the
    `BehaviouralSignalRecorded` events it publishes to the campaigns events topic."""
    route = SignalIngress()
    dead = DeadLetters(publisher, dead_letter_topic("campaigns"), route.name)
    context = IngressContext(None, CampaignsSettings())
    outcome = await IngressProcessor(route, publisher, dead, context=context).handle(
        await of_customer(bootstrap, CAMPAIGNS_INGRESS.name, customer)
    )
    assert outcome.dead_lettered == 0, "a signal the SDK wrote was refused"
    return {
        orjson.loads(r.value or b"{}")["id"]
        for r in await of_customer(bootstrap, CAMPAIGNS_EVENTS.name, customer)
    }


async def test_what_the_official_cloudevents_sdk_writes_reaches_the_read_models(
    platform_topics_ready: str,
    producer: AIOKafkaProducer,
    publisher: KafkaPublisher,
    new_databases,
    pool_for,
    tmp_path: Path,
    data_keys_env: dict[str, str],
) -> None:
    run = uuid.uuid4().hex[:8]
    customer = f"sdk-{run}"
    ways = [(api, way) for api in ("current", "legacy") for way in WAYS]
    touchpoint = report_envelope(customer, 0)["data"]
    touchpoints = {w: touchpoint | {"touchpoint_id": f"{w[0]}: {w[1]}"} for w in ways}
    purchase = next(e for e in EXAMPLES if e.event_type == "PurchaseReported")
    purchases = {
        w: purchase.model_dump(mode="json") | {"purchase_id": f"{w[0]}: {w[1]}"} for w in ways
    }
    await produce_every_way(
        producer, INTERACTIONS_INGRESS.name, "TouchpointReported", customer, touchpoints
    )
    await produce_every_way(
        producer, CONTACTS_INGRESS.name, "PurchaseReported", customer, purchases
    )
    signal = next(e for e in EXAMPLES if e.event_type == "BehaviouralSignalReported")
    signals = {w: signal.model_dump(mode="json") | {"signal_id": f"{w[0]}: {w[1]}"} for w in ways}
    await produce_every_way(
        producer, CAMPAIGNS_INGRESS.name, "BehaviouralSignalReported", customer, signals
    )
    without_id = ingress_event("TouchpointReported", customer, touchpoint, source="/sdk-client")
    message = kafka.to_binary_event(without_id, key_mapper=customer_key)
    headers = [(k, v) for k, v in message.headers.items() if k != "ce_id"]
    await producer.send_and_wait(
        INTERACTIONS_INGRESS.name,
        message.value,
        key=customer.encode(),
        headers=[*headers, (CASE, f"{run}-no-ce-id".encode())],
    )

    dsns = await new_databases("interactions", "contacts")
    interactions_db, contacts_db = dsns["interactions"], dsns["contacts"]
    timeline, products = await pool_for(interactions_db), await pool_for(contacts_db)
    with service_processes(
        platform_topics_ready,
        Service(
            "interactions", "worker", interactions_db, tmp_path / "interactions.log", data_keys_env
        ),
        Service("contacts", "worker", contacts_db, tmp_path / "contacts.log"),
    ):
        entries = await eventually(
            lambda: timeline.fetch(
                "SELECT source_ref FROM timeline_entries WHERE customer_id = $1"
                " AND kind = 'TouchpointRecorded'",  # the purchases reach the timeline too
                customer,
            ),
            lambda rows: len(rows) >= len(ways),
            timeout=120,
            interval=0.5,
        )
        bought = await eventually(
            lambda: products.fetch(
                "SELECT event_id FROM customer_products WHERE customer_id = $1", customer
            ),
            lambda rows: len(rows) >= len(ways),
            timeout=120,
            interval=0.5,
        )
        letters = await eventually(
            lambda: dead_letters(platform_topics_ready, "interactions", run),
            lambda found: len(found) >= 1,
            timeout=60,
            interval=1,
        )
        recorded = await signals_ingested(platform_topics_ready, publisher, customer)
    assert sorted(r["source_ref"] for r in entries) == sorted(f"{a}: {w}" for a, w in ways)
    assert recorded == {str(signal_event_id(customer, f"{a}: {w}")) for a, w in ways}
    assert {r["event_id"] for r in bought} == {
        purchase_event_id(customer, f"{a}: {w}") for a, w in ways
    }
    [(case, dead)] = letters
    assert (case, dead["dlq_reason"]) == (f"{run}-no-ce-id", "invalid_envelope")
    assert orjson.loads(dead["dlq_detail"]) == [
        {"field": "ce_id", "problem": "Field required", "kind": "missing"}
    ]
