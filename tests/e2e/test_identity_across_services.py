"""Who a customer is, agreed across services: contacts and consent as processes.

After contacts erases a customer, consent blocks every decision about them (`erased`); a merged
duplicate's id answers 410 with the survivor in consent as in contacts; a contact point of an
erased customer stays suppressed however it comes back (an update, a consent grant).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from devstack.processes import free_port
from dialogkit.db import ensure_database, migrate
from tests.conftest import dsn_for
from tests.support import AUTH, Service, eventually, service_processes

ERASED_NUMBER = "+49 30 5557788"
NOW = datetime.now(UTC).replace(microsecond=0)
EVIDENCE = {
    "medium": "phone_call",
    "wording_version": "phone-v1",
    "wording_sha256": "1e" * 32,
    "captured_at": (NOW - timedelta(hours=2)).isoformat(),
    "source_ref": "recording-77",
    "actor": "agent-5",
}


@pytest.fixture(scope="module")
async def databases(postgres_admin_dsn: str) -> dict[str, str]:
    async def create(service: str) -> str:
        name = f"test_{uuid.uuid4().hex[:12]}"
        await ensure_database(postgres_admin_dsn, name)
        dsn = dsn_for(postgres_admin_dsn, name)
        await migrate(dsn, service)
        return dsn

    services = ("contacts", "consent")
    return dict(zip(services, await asyncio.gather(*map(create, services)), strict=True))


@pytest.fixture(scope="module")
def platform(
    platform_topics_ready: str,
    databases: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, str]]:
    """Contacts and consent, API and worker each; consent asks this contacts for keys."""
    logs = tmp_path_factory.mktemp("identity")
    port = free_port()
    env = {"CONSENT_CONTACTS_URL": f"http://127.0.0.1:{port}"}
    contacts, consent = databases["contacts"], databases["consent"]
    with service_processes(
        platform_topics_ready,
        Service("contacts", "api", contacts, logs / "contacts-api.log", port=port),
        Service("contacts", "worker", contacts, logs / "contacts-worker.log"),
        Service("consent", "worker", consent, logs / "consent-worker.log", env),
        Service("consent", "api", consent, logs / "consent-api.log", env),
    ) as (contacts_api, _, _, consent_api):
        yield {"contacts": contacts_api, "consent": consent_api}


@pytest.fixture
async def clients(platform: dict[str, str]) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    made = {
        name: httpx.AsyncClient(base_url=url, headers=AUTH, timeout=30)
        for name, url in platform.items()
    }
    yield made
    for client in made.values():
        await client.aclose()


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def register(clients: dict[str, httpx.AsyncClient], customer: str, **body: Any) -> None:
    person = {"kind": "consumer", "name": "Kim Beispiel"} | body
    response = await clients["contacts"].post(f"/v1/customers/{customer}", json=person)
    assert response.status_code == 201, response.text
    await eventually(
        lambda: clients["consent"].get(f"/v1/customers/{customer}/consents"),
        lambda r: r.status_code == 200,
    )


async def decision(
    clients: dict[str, httpx.AsyncClient],
    customer: str,
    channel: str,
    purpose: str = "marketing",
    at: datetime | None = None,
) -> dict[str, Any]:
    params = {"channel": channel, "purpose": purpose}
    if at is not None:
        params["at"] = at.isoformat()
    response = await clients["consent"].get(f"/v1/customers/{customer}/eligibility", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_after_contacts_erases_a_customer_consent_allows_nothing_about_them(
    clients: dict[str, httpx.AsyncClient],
) -> None:
    customer = new_id("erased")
    await register(clients, customer, phone_numbers=["+49 30 5551111"])
    grant = {
        "channel": "phone",
        "purpose": "marketing",
        "contact_point": "+49305551111",
        "evidence": EVIDENCE,
    }
    granted = await clients["consent"].post(f"/v1/customers/{customer}/consents", json=grant)
    assert granted.status_code in (201, 202), granted.text
    allowed = await eventually(
        lambda: decision(clients, customer, "phone"), lambda d: d["allowed"] is True
    )
    assert allowed["legal_basis"] == "express_consent"

    erasure = await clients["contacts"].post(f"/v1/customers/{customer}/erasure")
    assert erasure.status_code == 202
    await eventually(
        lambda: decision(clients, customer, "phone"),
        lambda d: d["blocking_reason"] == "erased",
    )
    consents = (await clients["consent"].get(f"/v1/customers/{customer}/consents")).json()
    erased_at = datetime.fromisoformat(consents["erased_at"])
    for channel in ("phone", "letter", "email", "sms", "social"):
        for purpose in ("marketing", "service", "surveys"):
            for at in (None, NOW + timedelta(days=3650)):
                answer = await decision(clients, customer, channel, purpose, at)
                assert (answer["allowed"], answer["blocking_reason"]) == (False, "erased")
    before = await decision(clients, customer, "phone", at=erased_at - timedelta(seconds=1))
    assert (before["allowed"], before["legal_basis"]) == (True, "express_consent")

    proof = (await clients["consent"].get(f"/v1/customers/{customer}/proof")).json()
    [kept] = proof["consents"]
    assert kept["contact_point"] is None, "the proof stays, without the person"
    assert kept["evidence"]["source_ref"] == "recording-77"
    again = await clients["consent"].post(f"/v1/customers/{customer}/consents", json=grant)
    assert again.status_code == 410, again.text
    assert again.json()["title"] == "Erased"


async def test_a_merged_duplicate_answers_410_with_the_survivor_in_consent_as_in_contacts(
    clients: dict[str, httpx.AsyncClient],
) -> None:
    survivor, duplicate = new_id("survivor"), new_id("duplicate")
    await register(clients, survivor)
    await register(clients, duplicate)
    merged = await clients["contacts"].post(
        f"/v1/customers/{survivor}/merge", json={"merged_customer_id": duplicate}
    )
    assert merged.status_code == 202, merged.text
    for service, path in (
        ("contacts", f"/v1/customers/{duplicate}"),
        ("consent", f"/v1/customers/{duplicate}/eligibility?channel=letter&purpose=marketing"),
        ("consent", f"/v1/customers/{duplicate}/consents"),
    ):
        gone = await eventually(
            lambda s=service, p=path: clients[s].get(p), lambda r: r.status_code == 410
        )
        assert gone.json()["merged_into"] == survivor, (service, path)
    assert (await decision(clients, survivor, "letter"))["allowed"] is True


async def erased_number(clients: dict[str, httpx.AsyncClient]) -> None:
    """A customer with ERASED_NUMBER, erased: the number is suppressed from then on."""
    holder = new_id("holder")
    await register(clients, holder, phone_numbers=[ERASED_NUMBER])
    assert (await clients["contacts"].post(f"/v1/customers/{holder}/erasure")).status_code == 202
    probe = {"phone_numbers": [ERASED_NUMBER]}
    await eventually(
        lambda: clients["contacts"].post("/v1/contact-points/suppression", json=probe),
        lambda r: r.json()["suppressed_channels"] == ["phone", "sms"],
    )


async def test_an_erased_number_given_to_a_business_by_update_stays_suppressed(
    clients: dict[str, httpx.AsyncClient],
) -> None:
    await erased_number(clients)
    business = new_id("business")
    await register(clients, business, kind="business")
    presumed = await decision(clients, business, "phone")
    assert presumed["legal_basis"] == "presumed_business_consent"
    patched = await clients["contacts"].patch(
        f"/v1/customers/{business}", json={"phone_numbers": [ERASED_NUMBER]}
    )
    assert patched.status_code == 202, patched.text
    blocked = await eventually(
        lambda: decision(clients, business, "phone"), lambda d: d["allowed"] is False
    )
    assert blocked["blocking_reason"] == "suppressed"


async def test_an_erased_number_given_by_a_consent_grant_stays_suppressed_after_withdrawal(
    clients: dict[str, httpx.AsyncClient],
) -> None:
    await erased_number(clients)
    business = new_id("granting")
    await register(clients, business, kind="business")
    grant = {
        "channel": "phone",
        "purpose": "marketing",
        "contact_point": "+49305557788",
        "evidence": EVIDENCE,
    }
    granted = await clients["consent"].post(f"/v1/customers/{business}/consents", json=grant)
    assert granted.status_code in (201, 202), granted.text
    allowed = await eventually(
        lambda: decision(clients, business, "phone"), lambda d: d["consent_id"] is not None
    )
    assert allowed["legal_basis"] == "express_consent", "a new express consent allows it"
    withdrawal = {"via_channel": "phone", "consent_id": granted.json()["consent_id"]}
    withdrawn = await clients["consent"].post(
        f"/v1/customers/{business}/withdrawals", json=withdrawal
    )
    assert withdrawn.status_code in (200, 202), withdrawn.text
    blocked = await eventually(
        lambda: decision(clients, business, "phone"), lambda d: d["allowed"] is False
    )
    assert blocked["blocking_reason"] == "suppressed", "not presumed business consent again"
