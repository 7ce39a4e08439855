"""The consent API and worker as processes: commands in, state, eligibility and proof out."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from consent.signing import verify_bundle
from dialog_schemas import Envelope
from dialog_schemas.catalog import CONSENT_EVENTS, CONSENT_STATE, CONTACTS_EVENTS
from dialog_schemas.common import CustomerKind
from dialog_schemas.contacts import ContactRegistered
from dialogkit.ledger import LedgerVerifier, load_public_key
from dialogkit.publishing import KafkaPublisher
from tests.support import (
    AUTH,
    Service,
    eventually,
    read_topic,
    service_processes,
    wait_caught_up,
)

EVIDENCE = {
    "medium": "web_form",
    "wording_version": "newsletter-v2",
    "wording_sha256": "0f" * 32,
    "source_ref": "form-snapshot-1",
    "actor": "web-shop",
}


@pytest.fixture
async def consent_dsn(new_database) -> str:
    return await new_database("consent")


@pytest.fixture
def consent_api(
    platform_topics_ready: str, consent_dsn: str, tmp_path: Path, data_keys_env: dict[str, str]
) -> Iterator[str]:
    with service_processes(
        platform_topics_ready,
        Service("consent", "worker", consent_dsn, tmp_path / "worker.log", data_keys_env),
        Service("consent", "api", consent_dsn, tmp_path / "api.log", data_keys_env),
    ) as (worker, api):
        # the commands below expect 201 (applied within the wait), so the worker must first
        # have replayed what earlier tests left on the topics it reads the customers' state from
        wait_caught_up(worker, [CONSENT_EVENTS.name, CONTACTS_EVENTS.name])
        yield api


async def register(publisher: KafkaPublisher, customer: str, kind: CustomerKind) -> None:
    event = ContactRegistered(kind=kind, name="Sam Poe", registered_at=datetime.now(UTC))
    envelope = Envelope.wrap(
        event, id=uuid.uuid4(), source="/contacts/api", subject=customer, time=datetime.now(UTC)
    )
    await publisher.publish(CONTACTS_EVENTS.name, [envelope])


def minutes_ago(n: int) -> str:
    return (datetime.now(UTC) - timedelta(minutes=n)).isoformat()


async def test_consent_lifecycle_through_the_api(
    consent_api: str, publisher: KafkaPublisher, platform_topics_ready: str, customer_id: str
) -> None:
    await register(publisher, customer_id, CustomerKind.CONSUMER)
    base = f"/v1/customers/{customer_id}"
    async with httpx.AsyncClient(base_url=consent_api, headers=AUTH, timeout=30) as client:

        async def may(channel: str, purpose: str = "marketing", **params: str) -> dict[str, Any]:
            response = await client.get(
                f"{base}/eligibility", params={"channel": channel, "purpose": purpose, **params}
            )
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        await eventually(lambda: client.get(f"{base}/consents"), lambda r: r.status_code == 200)

        grant = {
            "channel": "email",
            "purpose": "marketing",
            "contact_point": "sam@example.org",
            "evidence": EVIDENCE | {"captured_at": minutes_ago(30)},
        }
        granted = await client.post(
            f"{base}/consents", json=grant, headers={"Idempotency-Key": "grant-1"}
        )
        assert granted.status_code == 201, granted.text
        consent_id = granted.json()["consent_id"]
        pending = await may("email")
        assert (pending["allowed"], pending["blocking_reason"]) == (False, "pending_confirmation")

        retried = await client.post(  # a retry sends the very same request
            f"{base}/consents", json=grant, headers={"Idempotency-Key": "grant-1"}
        )
        assert retried.json()["replayed"] is True
        assert retried.json()["consent_id"] == consent_id
        assert retried.json()["event_ids"] == granted.json()["event_ids"]
        reused = await client.post(  # the same key for another request (IETF Idempotency-Key)
            f"{base}/consents",
            json=grant | {"evidence": EVIDENCE | {"captured_at": minutes_ago(29)}},
            headers={"Idempotency-Key": "grant-1"},
        )
        assert (reused.status_code, reused.json()["field"]) == (422, "Idempotency-Key")
        token = granted.json()["confirmation_token"]
        assert retried.json()["confirmation_token"] == token, "a retried grant, the same token"

        wrong = await client.post(
            f"{base}/consents/{consent_id}/confirmation",
            json={"source_ref": "wrong-token", "confirmed_at": minutes_ago(25)},
        )
        assert (wrong.status_code, wrong.json()["field"]) == (422, "source_ref"), wrong.text
        assert wrong.headers["content-type"] == "application/problem+json"
        still = await may("email")
        assert (still["allowed"], still["blocking_reason"]) == (False, "pending_confirmation")

        confirmed = await client.post(
            f"{base}/consents/{consent_id}/confirmation",
            json={"source_ref": token, "confirmed_at": minutes_ago(20)},
        )
        assert confirmed.status_code == 200, confirmed.text
        allowed = await may("email")
        assert (allowed["allowed"], allowed["legal_basis"], allowed["consent_id"]) == (
            True,
            "express_consent",
            consent_id,
        )

        history_before = await client.get(f"{base}/proof")
        again = await client.post(
            f"{base}/consents/{consent_id}/confirmation", json={"source_ref": token}
        )
        assert again.status_code == 409
        assert again.headers["content-type"] == "application/problem+json"
        assert "already confirmed" in again.json()["detail"]
        history_after = await client.get(f"{base}/proof")
        assert history_after.json()["events"] == history_before.json()["events"], "nothing changed"

        used = await client.post(
            f"{base}/consents/{consent_id}/uses",
            json={"reference": "outreach-1", "purpose": "marketing", "used_at": minutes_ago(15)},
        )
        assert used.status_code == 200, used.text

        withdrawn = await client.post(
            f"{base}/withdrawals",
            json={"channel": "email", "via_channel": "phone", "withdrawn_at": minutes_ago(10)},
        )
        assert withdrawn.status_code == 200, withdrawn.text
        assert (await may("email"))["blocking_reason"] == "revoked"
        assert (await may("email", at=minutes_ago(12)))["allowed"] is True, "as of before"

        objected = await client.post(f"{base}/objections", json={"via_channel": "letter"})
        assert objected.status_code == 200
        for channel in ("phone", "email", "sms", "letter", "social"):
            assert (await may(channel))["blocking_reason"] == "objection"
        assert (await may("phone", "service"))["legal_basis"] == "not_advertising"

        consents = (await client.get(f"{base}/consents")).json()
        assert consents["objection"] is True
        [consent] = consents["consents"]
        assert consent["status"] == "revoked"
        earlier = (await client.get(f"{base}/consents", params={"as_of": minutes_ago(17)})).json()
        assert earlier["consents"][0]["status"] == "active"
        assert earlier["objection"] is False

        proof = (await client.get(f"{base}/proof")).json()
        [entry] = proof["consents"]
        assert entry["evidence"]["wording_sha256"] == "0f" * 32
        assert [len(entry[k]) for k in ("confirmations", "uses", "withdrawals")] == [1, 1, 1]
        used_at = datetime.fromisoformat(entry["uses"][0]["effective_at"])
        assert datetime.fromisoformat(entry["retain_until"]) == used_at.replace(
            year=used_at.year + 5
        )
        types = [e["type"] for e in proof["events"]]
        assert types == [
            "ConsentGranted",
            "ConsentConfirmed",
            "ConsentUsed",
            "ConsentRevoked",
            "ObjectionRecorded",
        ]
        key = (await client.get("/v1/signing-key")).json()
        verifier = LedgerVerifier(load_public_key(key["public_key_pem"]))
        assert verify_bundle(proof, verifier) == [], "the bundle's ledger verifies offline"
        [chain] = proof["ledger"]["chains"]
        assert chain["head"]["length"] == len(types)
        html = await client.get(f"{base}/proof.html")
        assert html.headers["content-type"].startswith("text/html")
        assert "Consent proof for customer" in html.text
        assert consent_id in html.text

    on_topic = [
        r
        for r in await read_topic(platform_topics_ready, CONSENT_EVENTS.name)
        if r.key == customer_id.encode()
    ]
    assert len(on_topic) == 5, "the retried grant was not published again"
    states = [
        orjson.loads(r.value)["data"]
        for r in await read_topic(platform_topics_ready, CONSENT_STATE.name)
        if r.key == customer_id.encode()
    ]
    assert states[-1]["objection"] is True


async def test_consent_api_errors_are_problems_and_change_nothing(
    consent_api: str, publisher: KafkaPublisher, customer_id: str
) -> None:
    base = f"/v1/customers/{customer_id}"
    async with httpx.AsyncClient(base_url=consent_api, headers=AUTH, timeout=30) as client:
        unknown = await client.post(
            f"{base}/consents",
            json={
                "channel": "phone",
                "purpose": "marketing",
                "evidence": EVIDENCE | {"captured_at": minutes_ago(1)},
            },
        )
        assert unknown.status_code == 404
        assert "not known" in unknown.json()["detail"]

        await register(publisher, customer_id, CustomerKind.BUSINESS)
        await eventually(lambda: client.get(f"{base}/consents"), lambda r: r.status_code == 200)

        invalid = await client.post(
            f"{base}/consents",
            json={"channel": "fax", "purpose": "marketing", "evidence": EVIDENCE},
        )
        assert invalid.status_code == 422
        fields = {e["field"] for e in invalid.json()["errors"]}
        assert {"body.channel", "body.evidence.captured_at"} <= fields

        missing_address = await client.post(
            f"{base}/consents",
            json={
                "channel": "sms",
                "purpose": "marketing",
                "evidence": EVIDENCE | {"captured_at": minutes_ago(1)},
            },
        )
        assert (missing_address.status_code, missing_address.json()["field"]) == (
            422,
            "contact_point",
        )

        unknown_consent = await client.post(
            f"{base}/consents/{uuid.uuid4()}/confirmation", json={"source_ref": "doi"}
        )
        assert unknown_consent.status_code == 404

        nothing = await client.post(
            f"{base}/withdrawals", json={"channel": "email", "via_channel": "email"}
        )
        assert nothing.status_code == 409

        phone = await client.get(
            f"{base}/eligibility", params={"channel": "phone", "purpose": "cross_sell"}
        )
        assert phone.json()["legal_basis"] == "presumed_business_consent"
        bad_query = await client.get(f"{base}/eligibility", params={"channel": "pigeon"})
        assert bad_query.status_code == 422
        assert {e["field"] for e in bad_query.json()["errors"]} == {
            "query.channel",
            "query.purpose",
        }
        proof = (await client.get(f"{base}/proof")).json()
        assert proof["events"] == []
