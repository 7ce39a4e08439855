"""Touchpoints of every channel, through the API and the ingress topic, in one timeline with
consent changes, campaign events and profile changes; the consent service reacts to an opt-out."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from dialog_schemas import Envelope, Event
from dialog_schemas.campaigns import OutreachAuthorized, ResponseKind, ResponseReceived
from dialog_schemas.catalog import (
    CAMPAIGNS_EVENTS,
    CONSENT_EVENTS,
    CONTACTS_EVENTS,
    INTERACTIONS_INGRESS,
)
from dialog_schemas.common import Channel, CustomerKind, LegalBasis, Purpose
from dialog_schemas.consent import CaptureMedium, ConsentGranted, Evidence
from dialog_schemas.contacts import ContactRegistered
from dialog_schemas.interactions import TouchpointReported
from dialogkit.codec import encode
from dialogkit.publishing import KafkaPublisher
from tests.support import AUTH, Service, eventually, service_processes

BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)


@pytest.fixture
async def databases(new_databases) -> dict[str, str]:
    made: dict[str, str] = await new_databases("interactions", "consent")
    return made


@pytest.fixture
def services(
    platform_topics_ready: str,
    databases: dict[str, str],
    tmp_path: Path,
    data_keys_env: dict[str, str],
) -> Iterator[str]:
    fast_checks = {
        "INTERACTIONS_COMPLIANCE_CHECK_S": "1",
        "INTERACTIONS_COMPLIANCE_SETTLE_S": "5",  # a fresh worker catches up on busy topics
        **data_keys_env,
    }
    consent, interactions = databases["consent"], databases["interactions"]
    with service_processes(
        platform_topics_ready,
        Service("consent", "worker", consent, tmp_path / "consent.log", data_keys_env),
        Service("interactions", "worker", interactions, tmp_path / "worker.log", fast_checks),
        Service("interactions", "api", interactions, tmp_path / "api.log", data_keys_env),
    ) as (*_, api):
        yield api


def at(days: float) -> datetime:
    return BASE + timedelta(days=days)


def touchpoint(
    customer: str, number: int, when: datetime, channel: str, **fields: Any
) -> dict[str, Any]:
    return {
        "customer_id": customer,
        "touchpoint_id": f"tp-{number}",
        "channel": channel,
        "occurred_at": when.isoformat(),
        "direction": "outbound",
        **fields,
    }


async def publish(
    publisher: KafkaPublisher, topic: str, customer: str, events: list[Event]
) -> None:
    await publisher.publish(
        topic,
        [
            Envelope.wrap(
                e, id=uuid.uuid4(), source="/test", subject=customer, time=datetime.now(UTC)
            )
            for e in events
        ],
    )


async def test_every_channel_and_every_service_in_one_ordered_timeline(
    services: str, publisher: KafkaPublisher, platform_topics_ready: str, customer_id: str
) -> None:
    api = services
    customer = customer_id
    phone_consent = uuid.uuid4()
    await publish(
        publisher,
        CONTACTS_EVENTS.name,
        customer,
        [ContactRegistered(kind=CustomerKind.CONSUMER, name="Robin Roe", registered_at=at(0))],
    )
    await publish(
        publisher,
        CONSENT_EVENTS.name,
        customer,
        [
            ConsentGranted(
                consent_id=phone_consent,
                channel=Channel.PHONE,
                purpose=Purpose.MARKETING,
                evidence=Evidence(
                    medium=CaptureMedium.PHONE_CALL,
                    wording_version="v1",
                    wording_sha256="34" * 32,
                    captured_at=at(1),
                    source_ref="rec-9",
                    actor="agent-2",
                ),
                pending_confirmation=False,
            )
        ],
    )
    outreach = uuid.uuid4()
    await publish(
        publisher,
        CAMPAIGNS_EVENTS.name,
        customer,
        [
            OutreachAuthorized(
                outreach_id=outreach,
                campaign_id="retention-q3",
                channel=Channel.PHONE,
                purpose=Purpose.RETENTION,
                decided_at=at(2),
                legal_basis=LegalBasis.EXPRESS_CONSENT,
                consent_id=phone_consent,
            ),
            ResponseReceived(
                response_id="r-1",
                outreach_id=outreach,
                campaign_id="retention-q3",
                channel=Channel.PHONE,
                received_at=at(2.5),
                response=ResponseKind.INTERESTED,
            ),
        ],
    )
    posted = [
        touchpoint(
            customer,
            1,
            at(3),
            "phone",
            purpose="retention",
            outreach_id=str(outreach),
            details={"kind": "call", "disposition": "do_not_call", "duration_s": 40},
        ),
        touchpoint(
            customer,
            2,
            at(4),
            "letter",
            purpose="marketing",
            details={"kind": "letter", "mailing_id": "autumn", "status": "sent"},
        ),
        touchpoint(
            customer,
            3,
            at(5),
            "sms",
            purpose="service",
            details={"kind": "sms", "message_id": "s-1", "status": "delivered"},
        ),
        touchpoint(
            customer,
            4,
            at(6),
            "social",
            direction="inbound",
            summary="Where is my router?",
            details={"kind": "social", "platform": "x", "thread_id": "t", "message_id": "p"},
        ),
        # the provider reports "opened" before "sent": order follows the facts, not arrival
        touchpoint(
            customer,
            6,
            at(7.1),
            "email",
            purpose="service",
            details={"kind": "email", "message_id": "e-1", "status": "opened"},
        ),
        touchpoint(
            customer,
            5,
            at(7),
            "email",
            purpose="service",
            details={"kind": "email", "message_id": "e-1", "status": "sent"},
        ),
        # marketing by SMS without any consent: a compliance finding
        touchpoint(
            customer,
            9,
            at(9),
            "sms",
            purpose="marketing",
            details={"kind": "sms", "message_id": "s-2", "status": "sent"},
        ),
    ]
    async with httpx.AsyncClient(base_url=api, headers=AUTH, timeout=30) as client:
        for body in posted + posted[:1]:  # the first one twice, as a retried webhook would
            response = await client.post("/v1/touchpoints", json=body)
            assert response.status_code == 202, response.text

        producer = AIOKafkaProducer(bootstrap_servers=platform_topics_ready)
        await producer.start()
        try:
            for number, when, channel, details in (
                (
                    7,
                    at(4.5),
                    "letter",
                    {"kind": "letter", "mailing_id": "autumn", "status": "delivered"},
                ),
                (8, at(8), "email", {"kind": "email", "message_id": "e-1", "status": "replied"}),
            ):
                report = TouchpointReported(
                    touchpoint_id=f"tp-{number}",
                    channel=channel,  # type: ignore[arg-type]
                    direction="inbound" if number == 8 else "outbound",  # type: ignore[arg-type]
                    occurred_at=when,
                    details=details,  # type: ignore[arg-type]
                )
                envelope = Envelope.wrap(
                    report,
                    id=uuid.uuid4(),
                    source="/letter-shop",
                    subject=customer,
                    time=datetime.now(UTC),
                )
                await producer.send_and_wait(
                    INTERACTIONS_INGRESS.name, encode(envelope), key=customer.encode()
                )
        finally:
            await producer.stop()

        expected_kinds = {
            "ContactRegistered": 1,
            "ConsentGranted": 1,
            "OutreachAuthorized": 1,
            "ConsentUsed": 1,  # the consent service records the authorization's use (§7a UWG)
            "ResponseReceived": 1,
            "TouchpointRecorded": 9,
            "OptOutReceived": 1,
            "ChannelObjectionRecorded": 1,  # the consent service's answer to the opt-out
            "ComplianceFindingRecorded": 1,  # for the SMS
        }

        async def everything() -> list[dict[str, Any]]:
            entries: list[dict[str, Any]] = []
            cursor = None
            while True:
                params: dict[str, Any] = {"limit": 4} | ({"cursor": cursor} if cursor else {})
                page = (
                    await client.get(f"/v1/customers/{customer}/timeline", params=params)
                ).json()
                entries += page["entries"]
                cursor = page["next_cursor"]
                if cursor is None:
                    return entries

        def complete(entries: list[dict[str, Any]]) -> bool:
            kinds = [e["kind"] for e in entries]  # every entry, the compliance finding too
            return all(kinds.count(k) >= n for k, n in expected_kinds.items())

        entries = await eventually(everything, complete, timeout=90, interval=0.5)
        ids = [e["entry_id"] for e in entries]
        assert len(ids) == len(set(ids)), "pagination repeats nothing"
        assert len(entries) == sum(expected_kinds.values())
        order = [(e["occurred_at"], e["entry_id"]) for e in entries]
        assert order == sorted(
            order, key=lambda o: (datetime.fromisoformat(o[0]), o[1]), reverse=True
        )
        touchpoints = [e["source_ref"] for e in entries if e["kind"] == "TouchpointRecorded"]
        assert touchpoints == [
            "tp-9",
            "tp-8",
            "tp-6",
            "tp-5",
            "tp-4",
            "tp-3",
            "tp-7",
            "tp-2",
            "tp-1",
        ]
        assert entries[-1]["kind"] == "ContactRegistered"

        emails = (
            await client.get(f"/v1/customers/{customer}/timeline", params={"channel": "email"})
        ).json()["entries"]
        assert [e["summary"].split(" [")[0] for e in emails] == [
            "Email replied",
            "Email opened",
            "Email sent",
        ]
        inbound_social = (
            await client.get(
                f"/v1/customers/{customer}/timeline",
                params={"channel": "social", "direction": "inbound"},
            )
        ).json()["entries"]
        assert inbound_social[0]["summary"] == "Social message on x: Where is my router?"
        window = (
            await client.get(
                f"/v1/customers/{customer}/timeline",
                params={
                    "since": at(2).isoformat(),
                    "until": at(3).isoformat(),
                    "kind": ["OutreachAuthorized", "ResponseReceived"],
                },
            )
        ).json()["entries"]
        assert [e["kind"] for e in window] == ["ResponseReceived", "OutreachAuthorized"]
        wrong = await client.get(
            f"/v1/customers/{customer}/timeline", params={"limit": 2, "channel": "sms"}
        )
        assert wrong.status_code == 200
        first_page = await client.get(f"/v1/customers/{customer}/timeline", params={"limit": 2})
        mismatch = await client.get(
            f"/v1/customers/{customer}/timeline",
            params={"limit": 2, "channel": "email", "cursor": first_page.json()["next_cursor"]},
        )
        assert mismatch.status_code == 400

        # The letter needs no consent; the retention call was covered by the phone consent (the
        # opt-out said during it does not count against it); the marketing SMS had no consent.
        response = await eventually(
            lambda: client.get(f"/v1/customers/{customer}/findings"),
            lambda r: bool(r.json()["findings"]),
        )
        findings = response.json()["findings"]
        assert [(f["touchpoint_id"], f["reason"]) for f in findings] == [("tp-9", "no_consent")]
        overall = (await client.get("/v1/findings", params={"limit": 500})).json()["findings"]
        assert findings[0]["finding_id"] in [f["finding_id"] for f in overall]
