"""Access and erasure across the whole platform: all four services as processes, real broker and
database. The export shows everything held about a customer; after an erasure no read model
and no event on any topic gives up their personal data, and their phone number and email
address come back suppressed for marketing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import orjson
import pytest

from dialog_schemas import Envelope, Event
from dialog_schemas.campaigns import (
    CampaignCreated,
    OutreachAuthorized,
    OutreachDispatched,
    OutreachPlanned,
    ResponseKind,
    ResponseReceived,
)
from dialog_schemas.catalog import CAMPAIGNS_EVENTS, TOPICS
from dialog_schemas.common import Channel, LegalBasis, Purpose
from dialogkit.keys import HttpKeyStore, KeyDestroyed
from dialogkit.pii import PREFIX, PersonalDataCipher
from dialogkit.publishing import KafkaPublisher
from tests.support import AUTH, PLATFORM, eventually, read_topic, whole_platform

SERVICES = PLATFORM
NAME, PHONE, EMAIL = "Kim Auskunft", "+49 30 5550100", "kim.auskunft@example.org"
SAID = "Kim asked to move the fiber installation to Friday"
PERSONAL = (NAME, "+49305550100", EMAIL, SAID, "Auskunft")
LOGGED = sorted({form for v in (*PERSONAL, PHONE) for form in (v, quote(v), quote_plus(v))})
"""The personal values as written and as in a URL: none may reach a process's log file."""
NOW = datetime.now(UTC).replace(microsecond=0)
EVIDENCE = {
    "medium": "web_form",
    "wording_version": "newsletter-v2",
    "wording_sha256": "0f" * 32,
    "captured_at": (NOW - timedelta(minutes=30)).isoformat(),
    "source_ref": "form-snapshot-7",
    "actor": "web-shop",
}


@pytest.fixture
async def databases(new_databases) -> dict[str, str]:
    made: dict[str, str] = await new_databases(*SERVICES)
    return made


@pytest.fixture
def platform(
    platform_topics_ready: str, databases: dict[str, str], tmp_path: Path
) -> Iterator[dict[str, str]]:
    """API and worker of every service, each API told where the others are, logging at DEBUG
    (their log files must hold no personal data even so)."""
    debug = {f"{service.upper()}_LOG_LEVEL": "DEBUG" for service in SERVICES}
    with whole_platform(platform_topics_ready, databases, tmp_path, debug) as (urls, _):
        yield urls


def wrap(customer: str, event: Event) -> Envelope:
    return Envelope.wrap(
        event, id=uuid.uuid4(), source="/campaigns/api", subject=customer, time=NOW
    )


async def campaign_outreach(publisher: KafkaPublisher, customer: str) -> None:
    """The campaigns topic: a campaign, one outreach to the customer, and their answer."""
    campaign, outreach = f"fiber-{uuid.uuid4().hex[:6]}", uuid.uuid4()
    common = {"outreach_id": outreach, "campaign_id": campaign, "channel": Channel.EMAIL}
    await publisher.publish(
        CAMPAIGNS_EVENTS.name,
        [
            Envelope.wrap(
                CampaignCreated(
                    campaign_id=campaign,
                    name="Fiber upgrade",
                    channel=Channel.EMAIL,
                    purpose=Purpose.MARKETING,
                    created_at=NOW,
                ),
                id=uuid.uuid4(),
                source="/campaigns/api",
                subject=campaign,
                time=NOW,
            ),
            wrap(
                customer,
                OutreachPlanned(**common, purpose=Purpose.MARKETING, planned_for=NOW),
            ),
            wrap(
                customer,
                OutreachAuthorized(
                    **common,
                    purpose=Purpose.MARKETING,
                    decided_at=NOW,
                    legal_basis=LegalBasis.EXPRESS_CONSENT,
                ),
            ),
            wrap(customer, OutreachDispatched(**common, dispatched_at=NOW)),
            wrap(
                customer,
                ResponseReceived(
                    **common,
                    response_id="r-1",
                    received_at=NOW + timedelta(minutes=5),
                    response=ResponseKind.INTERESTED,
                ),
            ),
        ],
    )


def personal_in(document: Any) -> list[str]:
    text = orjson.dumps(document).decode()
    return [value for value in PERSONAL if value in text]


def personal_in_logs(folder: Path) -> dict[str, list[str]]:
    """Each process's log file, with the personal values found in it."""
    return {
        log.name: [value for value in LOGGED if value in log.read_text(errors="replace")]
        for log in sorted(folder.glob("*.log"))
    }


async def test_export_everything_then_erase_everywhere(
    platform: dict[str, str],
    publisher: KafkaPublisher,
    platform_topics_ready: str,
    tmp_path: Path,
) -> None:
    customer, newcomer = f"dsr-{uuid.uuid4().hex[:10]}", f"dsr-new-{uuid.uuid4().hex[:10]}"
    clients = {
        service: httpx.AsyncClient(base_url=url, headers=AUTH, timeout=60)
        for service, url in platform.items()
    }
    contacts, consent, interactions = (clients[s] for s in SERVICES[:3])
    try:
        person = {
            "kind": "consumer",
            "name": NAME,
            "phone_numbers": [PHONE],
            "email_addresses": [EMAIL],
        }
        assert (await contacts.post(f"/v1/customers/{customer}", json=person)).status_code == 201
        await eventually(
            lambda: consent.get(f"/v1/customers/{customer}/consents"),
            lambda r: r.status_code == 200,
        )
        granted = await consent.post(
            f"/v1/customers/{customer}/consents",
            json={
                "channel": "email",
                "purpose": "marketing",
                "contact_point": EMAIL,
                "evidence": EVIDENCE,
            },
        )
        assert granted.status_code in (201, 202), granted.text
        consent_id = granted.json()["consent_id"]
        call = {
            "customer_id": customer,
            "touchpoint_id": "call-1",
            "channel": "phone",
            "direction": "inbound",
            "occurred_at": (NOW - timedelta(minutes=10)).isoformat(),
            "summary": SAID,
            "details": {"kind": "call", "disposition": "reached", "phone_number": "+49305550100"},
        }
        assert (await interactions.post("/v1/touchpoints", json=call)).status_code == 202
        await campaign_outreach(publisher, customer)

        def holds_the_grant(response: httpx.Response) -> bool:
            consents = response.json().get("consents", []) if response.status_code == 200 else []
            return [c["consent_id"] for c in consents] == [consent_id]

        # the export asks the consent service, whose read model may lag behind the timeline's
        await eventually(lambda: consent.get(f"/v1/customers/{customer}/proof"), holds_the_grant)

        def complete(response: httpx.Response) -> bool:
            if response.status_code != 200:
                return False
            export = response.json()
            kinds = {e["kind"] for e in export["interactions"]["timeline"]}
            proof = export["consent"]["proof"]
            return (
                bool(proof)
                and [c["consent_id"] for c in proof.get("consents", [])] == [consent_id]
                and {"ContactRegistered", "ConsentGranted", "TouchpointRecorded"} <= kinds
                and bool(export["campaigns"]["outreach"])
                and bool(export["campaigns"]["outreach"][0]["responses"])
            )

        exported = await eventually(
            lambda: contacts.get(f"/v1/customers/{customer}/export"), complete, timeout=90
        )
        export = exported.json()
        assert export["customer_id"] == customer
        assert export["contacts"]["name"] == NAME
        assert export["contacts"]["phone_numbers"] == ["+49305550100"]
        [held] = export["consent"]["proof"]["consents"]
        assert (held["contact_point"], held["evidence"]["source_ref"]) == (EMAIL, "form-snapshot-7")
        assert export["consent"]["current"]["consents"][0]["status"] == "pending"  # double opt-in
        said = [e["summary"] for e in export["interactions"]["timeline"]]
        assert any(SAID in s for s in said), said
        [outreach] = export["campaigns"]["outreach"]
        assert (outreach["campaign_name"], outreach["decision"]) == ("Fiber upgrade", "authorized")
        assert [r["kind"] for r in outreach["responses"]] == ["interested"]

        raw = [
            orjson.loads(r.value)
            for topic in TOPICS
            if not topic.name.endswith(("deadletter.v1", "ingress.v1"))
            for r in await read_topic(platform_topics_ready, topic.name)
            if r.key == customer.encode()
        ]
        assert {"ContactRegistered", "ConsentGranted", "TouchpointRecorded"} <= {
            e["type"] for e in raw
        }
        assert personal_in(raw) == [], "personal data goes on the topics sealed"

        assert (await contacts.post(f"/v1/customers/{customer}/erasure")).status_code == 202
        await eventually(
            lambda: contacts.get(f"/v1/customers/{customer}"), lambda r: r.status_code == 410
        )

        def forgotten(response: httpx.Response) -> bool:
            return response.status_code == 200 and personal_in(response.json()) == []

        after = await eventually(
            lambda: contacts.get(f"/v1/customers/{customer}/export"), forgotten, timeout=60
        )
        remains = after.json()
        assert remains["contacts"]["erased_at"] is not None
        assert remains["consent"]["proof"]["consents"][0]["contact_point"] is None
        assert remains["consent"]["proof"]["consents"][0]["evidence"]["source_ref"] == (
            "form-snapshot-7"
        ), "the proof of consent stays, without the person"
        assert {e["kind"] for e in remains["interactions"]["timeline"]} >= {"TouchpointRecorded"}
        assert len(remains["campaigns"]["outreach"]) == 1
        for path in (
            f"/v1/customers/{customer}/proof",
            f"/v1/customers/{customer}/consents",
        ):
            assert personal_in((await consent.get(path)).json()) == [], path
        timeline = await interactions.get(f"/v1/customers/{customer}/timeline")
        assert personal_in(timeline.json()) == []

        keys = PersonalDataCipher(HttpKeyStore(platform["contacts"], AUTH_TOKEN, cache_s=0))
        sealed = [e for e in raw if PREFIX in orjson.dumps(e["data"]).decode()]
        assert {e["type"] for e in sealed} >= {"ContactRegistered", "ConsentGranted"}
        assert "TouchpointRecorded" in {e["type"] for e in sealed}
        for event in sealed:
            with pytest.raises(KeyDestroyed):
                await keys.open(customer, event["data"])

        again = await contacts.post(
            f"/v1/customers/{newcomer}",
            json=person | {"name": "Someone Else", "phone_numbers": ["030 5550100"]},
        )
        assert again.status_code == 201, again.text
        assert again.json()["suppressed_channels"] == ["email", "phone", "sms"]
        for channel in ("email", "phone", "sms"):
            verdict = await eventually(
                lambda channel=channel: consent.get(
                    f"/v1/customers/{newcomer}/eligibility",
                    params={"channel": channel, "purpose": "marketing"},
                ),
                lambda r: r.status_code == 200,
            )
            assert (verdict.json()["allowed"], verdict.json()["blocking_reason"]) == (
                False,
                "suppressed",
            ), channel

        logged = personal_in_logs(tmp_path)
        assert len(logged) == 2 * len(SERVICES), logged
        assert not any(logged.values()), f"personal data in the processes' logs: {logged}"
    finally:
        for client in clients.values():
            await client.aclose()


AUTH_TOKEN = AUTH["Authorization"].removeprefix("Bearer ")
