"""A campaign over 150 customers, end to end: contacts, consent and campaigns as processes on the
real broker and database. Customers are registered and consents given through the APIs; the
campaign is launched through its API; between planning and dispatch some customers withdraw,
object or are erased. Exactly the eligible customers are authorized and appear once on the
outbound topic; every other one is blocked or deferred with the right reason; the statistics
add up; the proof bundle of an authorized customer shows the use. The campaigns worker plans
and decides in batches of 40, so the campaign crosses batch boundaries, and its outreach list
is read in pages of 50."""

from __future__ import annotations

import asyncio
import math
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from dialogkit.codec import decode_envelope
from dialogkit.pii import HttpKeyStore, decrypt
from tests.campaign_hours import FAR, NOON, NOW, campaigns_env, zone
from tests.support import AUTH, PLATFORM, TOKEN, eventually, read_topic, whole_platform

SERVICES = PLATFORM
AUDIENCE = 150
BATCH = 40
"""Customers the campaigns worker plans, and outreach it decides, per transaction."""
PAGE = 50
"""Outreach per page of the campaign's outreach list: the audience fills exactly three."""
EVIDENCE = {
    "medium": "phone_call",
    "wording_version": "calls-v3",
    "wording_sha256": "1e" * 32,
    "captured_at": (NOW - timedelta(hours=1)).isoformat(),
    "source_ref": "recording-17",
    "actor": "agent-4",
}


CAMPAIGNS_ENV = campaigns_env(0.25) | {
    "CAMPAIGNS_PLAN_BATCH": str(BATCH),
    "CAMPAIGNS_DISPATCH_BATCH": str(BATCH),
}
GROUPS = {  # group -> how many customers; the rest of the audience has an express consent
    "none": 20,  # no consent: blocked no_consent
    "withdrawn": 20,  # consent withdrawn between planning and dispatch: blocked revoked
    "objected": 10,  # objection between planning and dispatch: blocked objection
    "objected_before": 5,  # objection before launch: never in the audience
    "business": 20,  # business customer without consent: presumed consent
    "suppressed": 5,  # a business whose number was an erased customer's: blocked suppressed
    "erased": 10,  # consent, erased between planning and dispatch: blocked erased
    "erased_before": 5,  # erased before launch: never in the audience
    "merged": 5,  # each with a duplicate merged into it: one outreach each
    "far": 10,  # consent, local time outside calling hours: deferred
    "capped": 5,  # consent, called by an earlier campaign this month: deferred frequency_cap
}
PLANNED_OUT = ("objected_before", "erased_before")


@pytest.fixture
async def databases(new_databases) -> dict[str, str]:
    made: dict[str, str] = await new_databases(*SERVICES)
    return made


@pytest.fixture
def platform(
    platform_topics_ready: str, databases: dict[str, str], tmp_path: Path
) -> Iterator[dict[str, str]]:
    """Every service's API and worker; the URLs of the APIs, and the campaigns worker's as
    `campaigns-worker`."""
    with whole_platform(platform_topics_ready, databases, tmp_path, CAMPAIGNS_ENV) as (urls, bases):
        yield urls | {"campaigns-worker": bases[-1]}


class Platform:
    def __init__(self, urls: dict[str, str], client: httpx.AsyncClient) -> None:
        self.urls, self.client = urls, client
        self.gate = asyncio.Semaphore(16)

    async def call(self, service: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async with self.gate:
            response = await self.client.request(method, self.urls[service] + path, **kwargs)
        assert response.status_code < 300, (path, response.status_code, response.text)
        return response

    async def each(self, ids: list[str], do: Callable[[str], Awaitable[Any]]) -> None:
        await asyncio.gather(*(do(c) for c in ids))


def phone(n: int) -> str:
    return f"+4930{20000000 + n}"


async def dispatch_rounds(worker: str) -> float:
    """Dispatch rounds the campaigns worker has decided (each takes at most `BATCH`)."""
    async with httpx.AsyncClient() as client:
        page = (await client.get(f"{worker}/metrics")).text
    [rounds] = [
        float(line.split()[-1])
        for line in page.splitlines()
        if line.startswith("dialog_dispatch_round_duration_seconds_count")
    ]
    return rounds


async def test_a_campaign_over_150_customers_is_decided_at_dispatch_time(
    platform: dict[str, str], platform_topics_ready: str
) -> None:
    tag = uuid.uuid4().hex[:6]
    interest = f"e2e-{tag}"
    ids: dict[str, list[str]] = {g: [f"{g}-{tag}-{i}" for i in range(n)] for g, n in GROUPS.items()}
    ids["granted"] = [
        f"granted-{tag}-{i}"
        for i in range(AUDIENCE - sum(GROUPS.values()) + sum(GROUPS[g] for g in PLANNED_OUT))
    ]
    duplicates = [f"dup-{tag}-{i}" for i in range(GROUPS["merged"])]
    ghosts = [f"ghost-{tag}-{i}" for i in range(GROUPS["suppressed"])]
    numbers: dict[str, str] = {}
    async with httpx.AsyncClient(headers=AUTH, timeout=60) as client:
        p = Platform(platform, client)

        async def register(customer: str, kind: str = "consumer", **extra: Any) -> dict[str, Any]:
            numbers.setdefault(customer, phone(len(numbers)))
            body = {
                "kind": kind,
                "name": "Kim Kampagne",
                "phone_numbers": [numbers[customer]],
                "interests": [interest],
                "time_zone": zone(NOON),
                **extra,
            }
            response = await p.call("contacts", "POST", f"/v1/customers/{customer}", json=body)
            return dict(response.json())

        async def grant(customer: str) -> None:
            await eventually(
                lambda: client.get(f"{platform['consent']}/v1/customers/{customer}/consents"),
                lambda r: r.status_code == 200,
            )
            await p.call(
                "consent",
                "POST",
                f"/v1/customers/{customer}/consents",
                json={"channel": "phone", "purpose": "marketing", "evidence": EVIDENCE},
            )

        # numbers of erased customers come back suppressed
        await p.each(ghosts, register)
        await p.each(ghosts, lambda c: p.call("contacts", "POST", f"/v1/customers/{c}/erasure"))
        for ghost, customer in zip(ghosts, ids["suppressed"], strict=True):
            numbers[customer] = numbers[ghost]
            await eventually(
                lambda g=ghost: client.get(f"{platform['contacts']}/v1/customers/{g}"),
                lambda r: r.status_code == 410,
            )
            registered = await register(customer, "business")
            assert registered["suppressed_channels"] == ["phone", "sms"]

        consumers = [
            c for g, cs in ids.items() if g not in ("business", "suppressed", "far") for c in cs
        ]
        await p.each(consumers + duplicates, register)
        await p.each(ids["business"], lambda c: register(c, "business"))
        await p.each(ids["far"], lambda c: register(c, time_zone=zone(FAR)))
        with_consent = [
            c for g, cs in ids.items() if g not in ("none", "business", "suppressed") for c in cs
        ]
        await p.each(with_consent + duplicates, grant)
        for survivor, duplicate in zip(ids["merged"], duplicates, strict=True):
            await p.call(
                "contacts",
                "POST",
                f"/v1/customers/{survivor}/merge",
                json={"merged_customer_id": duplicate},
            )
        await p.each(
            ids["objected_before"],
            lambda c: p.call(
                "consent", "POST", f"/v1/customers/{c}/objections", json={"via_channel": "phone"}
            ),
        )
        await p.each(
            ids["erased_before"],
            lambda c: p.call("contacts", "POST", f"/v1/customers/{c}/erasure"),
        )

        async def campaign(
            name: str, body: dict[str, Any], due_in_s: float, channel: str = "phone"
        ) -> None:
            definition = {
                "name": name,
                "channel": channel,
                "purpose": "marketing",
                "product_category": "mobile",
                "message_ref": "script-7",
                **body,
            }
            created = await p.call(
                "campaigns", "POST", "/v1/campaigns", json={"campaign_id": name, **definition}
            )
            if created.status_code == 202:  # accepted, not shown yet: a client waits for it
                await eventually(
                    lambda: client.get(f"{platform['campaigns']}/v1/campaigns/{name}"),
                    lambda r: r.status_code == 200,
                    timeout=60,
                )
            due = (datetime.now(UTC) + timedelta(seconds=due_in_s)).isoformat()
            await p.call(
                "campaigns", "POST", f"/v1/campaigns/{name}/launch", json={"due_from": due}
            )

        async def statistics(name: str) -> dict[str, Any]:
            response = await client.get(f"{platform['campaigns']}/v1/campaigns/{name}/statistics")
            return dict(response.json()["total"]) if response.status_code == 200 else {}

        # email: double opt-in pending or confirmed, and existing customers (UWG §7(3))
        mail = {
            g: [f"mail-{g}-{tag}-{i}" for i in range(5)]
            for g in ("pending", "confirmed", "existing", "other_product")
        }

        async def mailable(customer: str) -> None:
            await register(
                customer, email_addresses=[f"{customer}@example.org"], interests=[f"mail-{tag}"]
            )

        await p.each([c for cs in mail.values() for c in cs], mailable)

        async def grant_email(customer: str) -> tuple[str, str]:
            await eventually(
                lambda: client.get(f"{platform['consent']}/v1/customers/{customer}/consents"),
                lambda r: r.status_code == 200,
            )
            granted = await p.call(
                "consent",
                "POST",
                f"/v1/customers/{customer}/consents",
                json={
                    "channel": "email",
                    "purpose": "marketing",
                    "contact_point": f"{customer}@example.org",
                    "evidence": EVIDENCE | {"medium": "web_form"},
                },
            )
            body = granted.json()
            return str(body["consent_id"]), str(body["confirmation_token"])

        await p.each(mail["pending"], grant_email)

        async def confirmed(customer: str) -> None:
            consent, token = await grant_email(customer)
            await p.call(
                "consent",
                "POST",
                f"/v1/customers/{customer}/consents/{consent}/confirmation",
                json={"source_ref": token},
            )

        await p.each(mail["confirmed"], confirmed)

        async def bought(customer: str, category: str) -> None:
            await p.call(
                "contacts",
                "POST",
                f"/v1/customers/{customer}/purchases",
                json={
                    "purchase_id": f"p-{customer}",
                    "product_id": "prod-1",
                    "product_name": "Tariff",
                    "category": category,
                    "purchased_at": (NOW - timedelta(days=20)).isoformat(),
                    "sales_channel": "web_shop",
                    "email_address": f"{customer}@example.org",
                    "objection_notice_given": True,
                },
            )

        await p.each(mail["existing"], lambda c: bought(c, "mobile"))
        await p.each(mail["other_product"], lambda c: bought(c, "tv"))

        # an earlier campaign calls the capped customers
        earlier = f"earlier-{tag}"
        await campaign(earlier, {"audience": {"include_ids": ids["capped"]}}, 0)
        await eventually(
            lambda: statistics(earlier),
            lambda s: s.get("dispatched") == GROUPS["capped"],
            timeout=120,
        )

        # the campaign: planned now, due in a while
        main = f"spring-{tag}"
        await campaign(
            main,
            {
                "audience": {"rule": {"interests_any": [interest]}},
                "frequency_caps": {"per_channel": {"limit": 1, "window_days": 30}},
            },
            due_in_s=45,
        )
        newsletter = f"newsletter-{tag}"
        await campaign(
            newsletter,
            {"audience": {"rule": {"interests_any": [f"mail-{tag}"]}}},
            0,
            channel="email",
        )
        members = AUDIENCE  # the granted group makes up for those never in the audience
        planned = await eventually(
            lambda: statistics(main), lambda s: s.get("planned") == members, timeout=60
        )
        assert planned["pending"] == members, "nothing is decided before it is due"

        # between planning and dispatch
        await p.each(
            ids["withdrawn"],
            lambda c: p.call(
                "consent",
                "POST",
                f"/v1/customers/{c}/withdrawals",
                json={"channel": "phone", "via_channel": "email"},
            ),
        )
        await p.each(
            ids["objected"],
            lambda c: p.call(
                "consent", "POST", f"/v1/customers/{c}/objections", json={"via_channel": "letter"}
            ),
        )
        await p.each(
            ids["erased"], lambda c: p.call("contacts", "POST", f"/v1/customers/{c}/erasure")
        )
        assert (await statistics(main))["pending"] == members, "still before the due time"
        rounds_before = await dispatch_rounds(platform["campaigns-worker"])

        authorized = ids["granted"] + ids["business"] + ids["merged"]
        blocked = {
            "no_consent": len(ids["none"]),
            "revoked": len(ids["withdrawn"]),
            "objection": len(ids["objected"]),
            "suppressed": len(ids["suppressed"]),
            "erased": len(ids["erased"]),
        }
        deferred = {"outside_calling_hours": len(ids["far"]), "frequency_cap": len(ids["capped"])}
        total = await eventually(
            lambda: statistics(main),
            lambda s: (
                s.get("dispatched") == len(authorized)
                and s.get("pending") == sum(deferred.values())
            ),
            timeout=180,
        )
        assert (
            total["planned"]
            == members
            == len(authorized) + sum(blocked.values()) + sum(deferred.values())
        )
        assert (total["authorized"], total["blocked"], total["cancelled"]) == (
            len(authorized),
            sum(blocked.values()),
            0,
        )
        assert total["blocked_by_reason"] == dict(sorted(blocked.items()))
        assert total["deferred_by_reason"] == dict(sorted(deferred.items()))
        assert total["audience"] == members
        rounds = await dispatch_rounds(platform["campaigns-worker"]) - rounds_before
        assert rounds >= math.ceil(members / BATCH), "decided in several batches"

        # who exactly, and why
        outcomes: dict[str, tuple[str, str | None]] = {}
        cursor: str | None = None
        pages = 0
        while True:
            params = {"limit": PAGE, **({"cursor": cursor} if cursor else {})}
            page = (
                await p.call("campaigns", "GET", f"/v1/campaigns/{main}/outreach", params=params)
            ).json()
            pages += 1
            outcomes |= {o["customer_id"]: (o["outcome"], o["reason"]) for o in page["outreach"]}
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert pages == members // PAGE == 3
        expected = {c: ("authorized", None) for c in authorized}
        for group, reason in [
            ("none", "no_consent"),
            ("withdrawn", "revoked"),
            ("objected", "objection"),
            ("suppressed", "suppressed"),
            ("erased", "erased"),
        ]:
            expected |= {c: ("blocked", reason) for c in ids[group]}
        expected |= {c: ("deferred", "outside_calling_hours") for c in ids["far"]}
        expected |= {c: ("deferred", "frequency_cap") for c in ids["capped"]}
        assert outcomes == expected

        # once each on the dialer's topic, with the number to call sealed
        requests = [
            decode_envelope(r.value, tuple(r.headers))
            for r in await read_topic(platform_topics_ready, "campaigns.outbound.phone.v1")
        ]
        mine = [r for r in requests if r.data["campaign_id"] == main]
        assert Counter(r.subject for r in mine) == Counter(authorized)
        first = next(r for r in mine if r.subject == ids["merged"][0])
        keys = HttpKeyStore(platform["contacts"], TOKEN)
        key = await keys.key_for(first.subject)
        assert key is not None
        number = decrypt(key, first.subject, "phone_number", first.data["phone_number"])
        assert number.replace(" ", "") == numbers[first.subject]

        # the proof bundle of an authorized customer shows the use, with the outreach
        customer = ids["granted"][0]
        rows = (await p.call("campaigns", "GET", f"/v1/customers/{customer}/outreach")).json()
        [outreach] = [o for o in rows["outreach"] if o["campaign_id"] == main]
        outreach_id = outreach["outreach_id"]

        async def uses() -> list[Any]:
            proof = await client.get(f"{platform['consent']}/v1/customers/{customer}/proof")
            return [u for c in proof.json().get("consents", []) for u in c["uses"]]

        found = await eventually(uses, lambda u: outreach_id in orjson.dumps(u).decode())
        assert len(found) == 1

        # the email campaign: consent only once confirmed; §7(3) only for similar products
        mails = await eventually(
            lambda: statistics(newsletter), lambda s: s.get("pending") == 0 and s.get("planned")
        )
        assert (mails["planned"], mails["authorized"], mails["dispatched"]) == (20, 10, 10)
        assert mails["blocked_by_reason"] == {"no_consent": 5, "pending_confirmation": 5}
        listed = (
            await p.call(
                "campaigns",
                "GET",
                f"/v1/campaigns/{newsletter}/outreach",
                params={"outcome": "authorized"},
            )
        ).json()["outreach"]
        bases = {o["customer_id"]: o["legal_basis"] for o in listed}
        assert bases == {c: "express_consent" for c in mail["confirmed"]} | {
            c: "existing_customer" for c in mail["existing"]
        }
        emails = [
            decode_envelope(r.value, tuple(r.headers))
            for r in await read_topic(platform_topics_ready, "campaigns.outbound.email.v1")
        ]
        assert Counter(e.subject for e in emails if e.data["campaign_id"] == newsletter) == (
            Counter(mail["confirmed"] + mail["existing"])
        )

        # the back channel: a call back naming the outreach, a purchase naming nothing
        caller, buyer = ids["granted"][1], ids["granted"][2]
        [called] = [
            o
            for o in (await p.call("campaigns", "GET", f"/v1/customers/{caller}/outreach")).json()[
                "outreach"
            ]
            if o["campaign_id"] == main
        ]
        await p.call(
            "interactions",
            "POST",
            "/v1/touchpoints",
            json={
                "customer_id": caller,
                "touchpoint_id": f"callback-{tag}",
                "channel": "phone",
                "direction": "inbound",
                "occurred_at": datetime.now(UTC).isoformat(),
                "details": {"kind": "call", "disposition": "callback_requested"},
                "campaign_id": main,
                "outreach_id": called["outreach_id"],
            },
        )
        await p.call(
            "contacts",
            "POST",
            f"/v1/customers/{buyer}/purchases",
            json={
                "purchase_id": f"tariff-{tag}",
                "product_id": "mobile-s",
                "product_name": "Mobile S",
                "category": "mobile",  # what the campaign advertised
                "purchased_at": datetime.now(UTC).isoformat(),
                "sales_channel": "web_shop",
            },
        )

        async def responses(customer: str) -> list[dict[str, Any]]:
            rows = (await p.call("campaigns", "GET", f"/v1/customers/{customer}/outreach")).json()
            return [r for o in rows["outreach"] if o["campaign_id"] == main for r in o["responses"]]

        [callback] = await eventually(lambda: responses(caller), bool)
        assert (callback["kind"], callback["attributed_by"]) == ("interested", "outreach_id")
        [purchase] = await eventually(lambda: responses(buyer), bool)
        assert (purchase["kind"], purchase["attributed_by"]) == ("purchased", "window")

        # the report adds up: funnel, legal side and rates agree with the statistics
        report = (await p.call("campaigns", "GET", f"/v1/campaigns/{main}/report")).json()
        funnel = report["funnel"]
        assert (funnel["audience"], funnel["planned"], funnel["dispatched"]) == (
            members,
            members,
            len(authorized),
        )
        assert (funnel["responded"], funnel["converted"]) == (2, 1)
        assert report["legal"]["blocked_by_reason"] == dict(sorted(blocked.items()))
        assert report["legal"]["deferred_by_reason"] == dict(sorted(deferred.items()))
        rates = report["rates"]
        assert rates["response_rate"] == round(2 / len(authorized), 4)
        assert sum(d["dispatched"] for d in report["days"]) == rates["dispatched"]
        assert sum(d["responded"] for d in report["days"]) == rates["responded"] == 2
        page = await client.get(f"{platform['campaigns']}/v1/campaigns/{main}/report.html")
        assert page.status_code == 200, page.text
        assert "Response rates" in page.text
