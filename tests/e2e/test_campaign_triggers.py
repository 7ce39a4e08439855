"""Triggered campaigns end to end: contacts and campaigns as processes on the real broker and
database, campaigns created and launched through the API, triggers reported on the ingress
topics (and a survey answer on the interactions topic, as the interactions service records it).

- a cancellation on the contacts ingress topic leads to a retention call decision within
  seconds, deferred for a customer outside calling hours; a second cancellation of the same
  customer within the cool-down plans nothing more;
- a purchase leads to a cross-sell letter after a delay, and the campaigns worker killed in the
  middle of the delay and started again neither loses nor doubles it;
- a web signal on the new campaigns ingress topic leads to a letter, a broken one is a dead
  letter naming the field;
- two survey answers lead to one thank-you on the channel they came on.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from devstack.processes import Child, free_port
from dialog_schemas import Envelope
from dialog_schemas.catalog import (
    CAMPAIGNS_EVENTS,
    CAMPAIGNS_INGRESS,
    CONTACTS_INGRESS,
    INTERACTIONS_EVENTS,
    dead_letter_topic,
)
from dialog_schemas.interactions import SurveyAnswer, TouchpointRecorded
from dialogkit.codec import decode_envelope
from dialogkit.publishing import KafkaPublisher
from tests.campaign_hours import FAR, NOON, NOW, campaigns_env, zone
from tests.support import AUTH, Service, eventually, read_topic, service_process, service_processes

DELAY_S = 12
"""The cross-sell's delay, shortened for the test (days in practice)."""


CAMPAIGNS_ENV = campaigns_env(0.2)


class Platform:
    def __init__(
        self, urls: dict[str, str], dsn: str, bootstrap: str, logs: Path, env: dict[str, str]
    ) -> None:
        self.urls, self.dsn, self.bootstrap, self.logs, self.env = urls, dsn, bootstrap, logs, env
        self.client = httpx.AsyncClient(headers=AUTH, timeout=60)

    def worker(self, name: str) -> AbstractContextManager[tuple[Child, str]]:
        return service_process(
            "campaigns",
            "worker",
            bootstrap=self.bootstrap,
            dsn=self.dsn,
            logs=self.logs / f"campaigns-{name}.log",
            extra_env=self.env,
        )

    async def call(self, service: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.client.request(method, self.urls[service] + path, **kwargs)
        assert response.status_code < 300, (path, response.status_code, response.text)
        return response

    async def outreach(self, campaign: str) -> dict[str, dict[str, Any]]:
        """The campaign's outreach by customer, as its outreach list shows it."""
        url = f"{self.urls['campaigns']}/v1/campaigns/{campaign}/outreach"
        response = await self.client.get(url)
        found = response.json()["outreach"] if response.status_code == 200 else []
        return {o["customer_id"]: o for o in found}


@pytest.fixture
async def platform(
    platform_topics_ready: str, new_databases, tmp_path: Path
) -> AsyncIterator[Platform]:
    dsns = await new_databases("contacts", "campaigns")
    ports = {s: free_port() for s in dsns}
    urls = {s: f"http://127.0.0.1:{port}" for s, port in ports.items()}
    env = {"CAMPAIGNS_CONTACTS_URL": urls["contacts"]} | CAMPAIGNS_ENV
    processes = [
        Service(
            service,
            role,
            dsns[service],
            tmp_path / f"{service}-{role}.log",
            env,
            ports[service] if role == "api" else None,
        )
        for service, role in (("contacts", "api"), ("contacts", "worker"), ("campaigns", "api"))
    ]
    with service_processes(platform_topics_ready, *processes):
        made = Platform(urls, dsns["campaigns"], platform_topics_ready, tmp_path, env)
        yield made
        await made.client.aclose()


@pytest.fixture
async def producer(platform_topics_ready: str) -> AsyncIterator[AIOKafkaProducer]:
    started = AIOKafkaProducer(bootstrap_servers=platform_topics_ready, acks="all")
    await started.start()
    yield started
    await started.stop()


def ingress(event_type: str, customer: str, data: dict[str, Any]) -> bytes:
    """A CloudEvent in structured mode, as an outside system writes it."""
    event_id = str(uuid.uuid4())
    return orjson.dumps(
        {
            "specversion": "1.0",
            "id": event_id,
            "correlationid": event_id,
            "source": "/billing",
            "type": event_type,
            "subject": customer,
            "time": datetime.now(UTC).isoformat(),
            "datacontenttype": "application/json",
            "schemaversion": 1,
            "data": data,
        }
    )


def has(customer: str, *outcomes: str) -> Any:
    """Whether a campaign's outreach shows the customer's with one of `outcomes`."""
    return lambda found: customer in found and found[customer]["outcome"] in outcomes


async def test_triggers_plan_outreach_decided_like_any_other(
    platform: Platform, producer: AIOKafkaProducer, publisher: KafkaPublisher
) -> None:
    tag = uuid.uuid4().hex[:6]
    p = platform
    mobile, internet, tv = f"mobile-{tag}", f"internet-{tag}", f"tv-{tag}"
    people = {n: f"{n}-{tag}" for n in ("caller", "far", "buyer", "shopper", "surveyed")}
    address = {"street": "Hauptstr. 5", "postal_code": "10115", "city": "Berlin", "country": "DE"}
    with p.worker("first") as (first, _):
        for name, customer in people.items():
            body = {
                "kind": "business" if name in ("caller", "far") else "consumer",
                "name": "Kim Trigger",
                "phone_numbers": ["+493012345678"],
                "addresses": [address],
                "time_zone": zone(FAR if name == "far" else NOON),
            }
            await p.call("contacts", "POST", f"/v1/customers/{customer}", json=body)
        for number, customer in (("k-1", "caller"), ("k-2", "caller"), ("k-3", "far")):
            contract = {
                "contract_id": f"{number}-{tag}",
                "product_id": "tariff-1",
                "category": mobile,
                "started_at": (NOW - timedelta(days=300)).isoformat(),
                "sales_channel": "store",
            }
            await p.call(
                "contacts", "POST", f"/v1/customers/{people[customer]}/contracts", json=contract
            )

        campaigns = {
            "retention": {
                "channel": "phone",
                "purpose": "retention",
                "trigger": {"on": "contract_cancelled", "categories": [mobile]},
            },
            "cross": {
                "channel": "letter",
                "purpose": "cross_sell",
                "product_category": mobile,
                "trigger": {
                    "on": "product_purchased",
                    "categories": [internet],
                    "delay_s": DELAY_S,
                },
            },
            "letters": {
                "channel": "letter",
                "purpose": "marketing",
                "trigger": {"on": "behavioural_signal", "categories": [tv]},
            },
            "thanks": {
                "channel": "email",
                "purpose": "service",
                "trigger": {"on": "survey_answered", "survey_campaign_id": f"survey-{tag}"},
            },
        }
        ids = {name: f"{name}-{tag}" for name in campaigns}
        for name, body in campaigns.items():
            created = {"campaign_id": ids[name], "name": name, **body}
            await p.call("campaigns", "POST", "/v1/campaigns", json=created)
            await eventually(
                lambda n=name: p.client.get(f"{p.urls['campaigns']}/v1/campaigns/{ids[n]}"),
                lambda r: r.status_code == 200,
                timeout=30,
            )
            await p.call("campaigns", "POST", f"/v1/campaigns/{ids[name]}/launch")
            await eventually(
                lambda n=name: p.client.get(f"{p.urls['campaigns']}/v1/campaigns/{ids[n]}"),
                lambda r: r.json()["status"] == "running",
                timeout=30,
            )
        # the worker applied the contracts before the cancellations reach it (same partition)

        # a cancellation: a retention call within seconds; a second one within the cool-down
        # plans nothing more; a customer where it is night is deferred
        def cancellation(number: str) -> dict[str, Any]:
            return {"contract_id": f"{number}-{tag}", "cancelled_at": datetime.now(UTC).isoformat()}

        # how soon is measured by the bench (cancellation → retention call decided, p99)
        for number, customer in (("k-1", "caller"), ("k-2", "caller"), ("k-3", "far")):
            value = ingress("CancellationReported", people[customer], cancellation(number))
            await producer.send_and_wait(
                CONTACTS_INGRESS.name, value, key=people[customer].encode()
            )
        calls = await eventually(
            lambda: p.outreach(ids["retention"]),
            has(people["caller"], "authorized", "blocked"),
            timeout=30,
            interval=0.05,
        )
        call = calls[people["caller"]]
        assert (call["outcome"], call["legal_basis"]) == ("authorized", "presumed_business_consent")
        calls = await eventually(
            lambda: p.outreach(ids["retention"]), has(people["far"], "deferred"), timeout=30
        )
        assert calls[people["far"]]["reason"] == "outside_calling_hours"
        assert sorted(calls) == sorted([people["caller"], people["far"]])  # one call each

        # a purchase: the cross-sell is planned, due after the delay
        purchase = {
            "purchase_id": f"o-1-{tag}",
            "product_id": "fiber-250",
            "product_name": "Fiber 250",
            "category": internet,
            "purchased_at": datetime.now(UTC).isoformat(),
            "sales_channel": "web_shop",
        }
        value = ingress("PurchaseReported", people["buyer"], purchase)
        await producer.send_and_wait(CONTACTS_INGRESS.name, value, key=people["buyer"].encode())
        pool = await asyncpg.create_pool(p.dsn, min_size=1, max_size=2)
        try:

            async def due() -> list[asyncpg.Record]:
                return await pool.fetch(
                    "SELECT outreach_id, due_at FROM outreach_due WHERE campaign_id = $1",
                    ids["cross"],
                )

            [planned] = await eventually(due, lambda rows: len(rows) == 1, timeout=30)
            first.process.send_signal(signal.SIGKILL)  # in the middle of the delay
            first.process.wait(10)
            assert datetime.now(UTC) < planned["due_at"], "killed before the outreach was due"
        finally:
            await pool.close()

    with p.worker("second"):
        letters = await eventually(
            lambda: p.outreach(ids["cross"]),
            lambda found: bool(found.get(people["buyer"], {}).get("dispatched_at")),
            timeout=60,
        )
        [cross_sell] = letters.values()
        assert cross_sell["outcome"] == "authorized"
        assert cross_sell["outreach_id"] == str(planned["outreach_id"])
        decided_at = datetime.fromisoformat(cross_sell["decided_at"])
        assert decided_at >= planned["due_at"]

        # a web signal on the campaigns ingress topic: a letter; a broken one: a dead letter
        signal_data = {
            "signal_id": f"v-1-{tag}",
            "signal": "cart_abandoned",
            "category": tv,
            "occurred_at": datetime.now(UTC).isoformat(),
        }
        for data in (signal_data, signal_data | {"signal_id": f"v-2-{tag}", "category": ""}):
            value = ingress("BehaviouralSignalReported", people["shopper"], data)
            await producer.send_and_wait(
                CAMPAIGNS_INGRESS.name, value, key=people["shopper"].encode()
            )
        letters = await eventually(
            lambda: p.outreach(ids["letters"]),
            has(people["shopper"], "authorized", "blocked"),
            timeout=30,
        )
        assert [o["outcome"] for o in letters.values()] == ["authorized"]

        # two survey answers by SMS: one thank-you, by SMS
        answers = [
            TouchpointRecorded(
                touchpoint_id=f"sms-{n}-{tag}",
                channel="sms",  # type: ignore[arg-type]
                direction="inbound",  # type: ignore[arg-type]
                occurred_at=datetime.now(UTC),
                campaign_id=f"survey-{tag}",
                survey=SurveyAnswer(score=n),
                reported_by="sms-gateway",
            )
            for n in (9, 10)
        ]
        await publisher.publish(
            INTERACTIONS_EVENTS.name,
            [
                Envelope.wrap(
                    a,
                    id=uuid.uuid4(),
                    source="/interactions",
                    subject=people["surveyed"],
                    time=datetime.now(UTC),
                )
                for a in answers
            ],
        )
        thanked = await eventually(
            lambda: p.outreach(ids["thanks"]),
            lambda found: bool(found.get(people["surveyed"], {}).get("dispatched_at")),
            timeout=30,
        )
        [thanks] = thanked.values()
        assert (thanks["channel"], thanks["legal_basis"]) == ("sms", "not_advertising")

    # on the topics: each outreach planned and decided once; the broken signal is a dead letter
    events = [
        decode_envelope(r.value, tuple(r.headers))
        for r in await read_topic(p.bootstrap, CAMPAIGNS_EVENTS.name)
    ]
    mine = [e for e in events if e.data.get("campaign_id") in ids.values()]
    planned_ids = [e.data["outreach_id"] for e in mine if e.type == "OutreachPlanned"]
    assert len(planned_ids) == len(set(planned_ids)) == 5
    authorized = [e for e in mine if e.type == "OutreachAuthorized"]
    assert len({e.id for e in authorized}) == 4  # the far call is deferred
    assert any(e.data["outreach_id"] == str(planned["outreach_id"]) for e in authorized)
    letters = [
        decode_envelope(r.value, tuple(r.headers))
        for r in await read_topic(p.bootstrap, "campaigns.outbound.letter.v1")
    ]
    assert len({e.id for e in letters if e.data["campaign_id"] == ids["cross"]}) == 1
    dead = [
        dict(r.headers)
        for r in await read_topic(p.bootstrap, dead_letter_topic("campaigns"))
        if r.key == people["shopper"].encode()
    ]
    [reason] = [orjson.loads(h["dlq_detail"]) for h in dead]
    assert reason[0]["field"] == "category"
