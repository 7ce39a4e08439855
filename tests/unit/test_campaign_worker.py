"""The campaigns worker's parts without I/O: facts rows, the read barrier, the outbox relay's
publishing order and sealing, statistics that add up."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import orjson
import pytest

from campaigns.audience_store import facts_of, reachable_on
from campaigns.barrier import ReadBarrier
from campaigns.outbox import OutboxRelay, outreach_envelope
from campaigns.reports import counts
from dialog_schemas import Envelope
from dialog_schemas.campaigns import OutreachAuthorized
from dialog_schemas.common import Channel, CustomerKind, LegalBasis, Purpose
from dialogkit.pii import InMemoryKeyStore, decrypt, encrypt
from dialogkit.publishing import Headers

NOW = datetime(2026, 3, 3, 10, tzinfo=UTC)
PHONE_TOPIC = "campaigns.outbound.phone.v1"


def test_a_contact_point_field_present_makes_its_channels_reachable() -> None:
    assert reachable_on({"phone_numbers": ["+4930123"], "email_addresses": []}) == {
        Channel.PHONE,
        Channel.SMS,
    }
    assert reachable_on({"addresses": "pii:v1:k:abc"}) == {Channel.LETTER}
    assert reachable_on({}) == frozenset()


def test_facts_rows_hold_products_contracts_and_touches() -> None:
    row = {
        "customer_id": "c-1",
        "kind": "business",
        "registered_at": NOW,
        "customer_since": None,
        "interests": ["cycling"],
        "time_zone": None,
        "contact_points": '{"email_addresses": ["a@example.org"]}',
        "objected": False,
        "erased": False,
        "holdings": orjson.dumps(
            [
                ["internet", "purchase:p-1", None],
                ["mobile", "contract:k-1", "2026-03-01T00:00:00+00:00"],
                ["tv", "contract:k-2", None],
                [None, "contract:k-3", "2026-03-02T00:00:00+00:00"],  # start not read yet
            ]
        ).decode(),
        "touches": '{"phone/outbound": "2026-03-01T09:00:00+00:00",'
        ' "email/inbound": "2026-03-02T09:00:00+00:00"}',
    }
    facts = facts_of(row)
    assert facts.kind is CustomerKind.BUSINESS
    assert facts.held == {"internet", "tv"}
    assert facts.cancelled == {"mobile": datetime(2026, 3, 1, tzinfo=UTC)}
    assert facts.last_contact == {Channel.PHONE: datetime(2026, 3, 1, 9, tzinfo=UTC)}
    assert facts.last_response == {Channel.EMAIL: datetime(2026, 3, 2, 9, tzinfo=UTC)}
    assert facts.reachable_on == {Channel.EMAIL}


class Ends:
    def __init__(self, ends: dict[tuple[str, int], int]) -> None:
        self.value = ends

    async def ends(self, topics: Sequence[str]) -> dict[tuple[str, int], int]:
        return self.value


class Positions:
    """Stored projection positions, as `projection_positions` holds them."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, int], int] = {}

    async def fetch(self, sql: str, projections: list[str]) -> list[dict[str, Any]]:
        return [
            {"projection": p, "topic": t, "partition": n, "next_offset": o}
            for (p, t, n), o in self.rows.items()
            if p in projections
        ]


async def test_the_barrier_waits_until_every_projection_reached_the_ends() -> None:
    positions = Positions()
    barrier = ReadBarrier(
        Ends({("consent", 0): 5, ("consent", 1): 0}),
        {"consent": ["history", "objections"]},
        poll_s=0.001,
    )
    waiting = asyncio.create_task(barrier.wait(positions))
    positions.rows[("history", "consent", 0)] = 5
    await asyncio.sleep(0.01)
    assert not waiting.done()  # the objections are behind
    positions.rows[("objections", "consent", 0)] = 4
    await asyncio.sleep(0.01)
    assert not waiting.done()
    positions.rows[("objections", "consent", 0)] = 5
    await asyncio.wait_for(waiting, 1)


async def test_the_barrier_gives_up_rather_than_deciding_on_a_stale_view() -> None:
    barrier = ReadBarrier(Ends({("consent", 0): 1}), {"consent": ["history"]}, timeout_s=0.01)
    with pytest.raises(TimeoutError, match="history consent\\[0\\] at 0 < 1"):
        await barrier.wait(Positions())


class Recording:
    """An EventPublisher that keeps the order of everything published."""

    def __init__(self) -> None:
        self.order: list[tuple[str, str, str]] = []

    async def publish(self, topic: str, envelopes: Sequence[Envelope]) -> None:
        self.order += [(topic, e.type, e.subject) for e in envelopes]

    async def send_raw(self, topic: str, key: bytes | None, value: bytes, headers: Headers) -> None:
        raise AssertionError("not used")


def authorized(customer: str) -> tuple[int, str, Envelope, None]:
    outreach = uuid4()
    event = OutreachAuthorized(
        outreach_id=outreach,
        campaign_id="spring",
        channel=Channel.PHONE,
        purpose=Purpose.MARKETING,
        decided_at=NOW,
        legal_basis=LegalBasis.EXPRESS_CONSENT,
    )
    return (0, "campaigns.events.v1", outreach_envelope(event, customer, outreach, "decided"), None)


def request(customer: str, value: Any) -> tuple[int, str, Envelope, dict[str, Any]]:
    outreach = uuid4()
    data = {
        "outreach_id": str(outreach),
        "campaign_id": "spring",
        "purpose": "marketing",
        "requested_at": NOW.isoformat(),
        "deadline": (NOW + timedelta(hours=72)).isoformat(),
    }
    envelope = Envelope(
        id=uuid4(),
        source="/campaigns/worker",
        type="CallRequested",
        subject=customer,
        time=NOW,
        schemaversion=1,
        correlationid=outreach,
        data=data,
    )
    return (
        0,
        PHONE_TOPIC,
        envelope,
        {"field": "phone_numbers", "value": value, "path": "phone_number"},
    )


async def test_requests_go_out_sealed_after_their_decisions_and_before_dispatched() -> None:
    keys = InMemoryKeyStore()
    key = await keys.key_for("a", create=True)
    assert key is not None
    sealed = encrypt(key, "a", "phone_numbers", ["+493012345678", "+493087654321"])
    await keys.key_for("gone", create=True)
    await keys.destroy("gone")
    rows = [
        authorized("a"),
        authorized("gone"),
        authorized("empty"),
        request("a", sealed),
        request("gone", "pii:v1:x:abc"),
        request("empty", []),
    ]
    publisher = Recording()
    relay = OutboxRelay(keys)
    await relay.publish(rows, publisher)  # type: ignore[arg-type]
    assert publisher.order == [
        ("campaigns.events.v1", "OutreachAuthorized", "a"),
        ("campaigns.events.v1", "OutreachAuthorized", "gone"),
        ("campaigns.events.v1", "OutreachAuthorized", "empty"),
        (PHONE_TOPIC, "CallRequested", "a"),
        ("campaigns.events.v1", "OutreachDispatched", "a"),
        ("campaigns.events.v1", "OutreachCancelled", "gone"),
        ("campaigns.events.v1", "OutreachCancelled", "empty"),
    ]


async def test_a_request_carries_the_first_contact_point_sealed_for_its_field() -> None:
    keys = InMemoryKeyStore()
    key = await keys.key_for("a", create=True)
    assert key is not None
    sealed = encrypt(key, "a", "phone_numbers", ["+493012345678", "+493087654321"])
    sent: list[Envelope] = []

    class Keep(Recording):
        async def publish(self, topic: str, envelopes: Sequence[Envelope]) -> None:
            sent.extend(envelopes)

    await OutboxRelay(keys).publish([request("a", sealed)], Keep())
    [call, dispatched] = sent
    assert decrypt(key, "a", "phone_number", call.data["phone_number"]) == "+493012345678"
    assert dispatched.data["outreach_id"] == call.data["outreach_id"]
    assert dispatched.correlationid == call.correlationid


def test_statistics_add_up_whatever_the_mix() -> None:
    def row(decision: str | None, **extra: Any) -> dict[str, Any]:
        base = {
            "decision": decision,
            "block_reason": None,
            "cancelled": False,
            "deferral_reason": None,
            "dispatched": False,
            "n": 1,
        }
        return base | extra

    rows = [
        row("authorized", dispatched=True, n=5),
        row("authorized", deferral_reason="frequency_cap"),  # deferred once, authorized later
        row("blocked", block_reason="revoked", n=2),
        row("blocked", block_reason="no_consent"),
        row(None, deferral_reason="outside_calling_hours", n=3),
        row(None, n=4),
        row(None, cancelled=True),
    ]
    total = counts(1, "phone", 20, rows)
    assert total.planned == 17
    assert total.planned == total.authorized + total.blocked + total.cancelled + total.pending
    assert (total.authorized, total.blocked, total.cancelled, total.pending) == (6, 3, 1, 7)
    assert total.blocked_by_reason == {"no_consent": 1, "revoked": 2}
    assert total.deferred_by_reason == {"outside_calling_hours": 3}
    assert total.dispatched == 5


def test_calls_ring_in_the_profile_zone_else_the_numbers_else_the_default() -> None:
    from zoneinfo import ZoneInfo

    from campaigns.calling_hours import phone_zone_names, zones_from

    assert phone_zone_names("+12125550100") == ["America/New_York"]
    assert phone_zone_names("+999") == []
    assert zones_from("Asia/Tokyo", ["America/New_York"]) == (ZoneInfo("Asia/Tokyo"),)
    assert zones_from(None, ["America/New_York"]) == (ZoneInfo("America/New_York"),)
    assert zones_from("Not/AZone", [], "Europe/Vienna") == (ZoneInfo("Europe/Vienna"),)


async def test_a_request_waits_in_the_outbox_while_the_key_service_is_down() -> None:
    from dialogkit.pii import KeyServiceUnavailable

    class Down(InMemoryKeyStore):
        async def key_for(self, customer_id: str, *, create: bool = False) -> Any:
            if customer_id == "down":
                raise KeyServiceUnavailable("data key service: ConnectError")
            return await super().key_for(customer_id, create=create)

    keys = Down()
    await keys.key_for("a", create=True)
    rows = [authorized("a"), authorized("down"), request("down", "pii:v1:k:abc"), request("a", [])]
    rows = [(n, *row[1:]) for n, row in enumerate(rows)]
    publisher = Recording()
    kept = await OutboxRelay(keys).publish(rows, publisher)  # type: ignore[arg-type]
    assert kept == {2}
    assert ("campaigns.events.v1", "OutreachAuthorized", "down") in publisher.order
    assert ("campaigns.events.v1", "OutreachCancelled", "a") in publisher.order
    assert all(
        subject != "down" or kind == "OutreachAuthorized" for _, kind, subject in publisher.order
    )


async def test_the_relay_asks_for_a_rounds_keys_in_one_request() -> None:
    from dialogkit.keys import DataKey

    class Counting(InMemoryKeyStore):
        def __init__(self) -> None:
            super().__init__()
            self.batches: list[list[str]] = []

        async def keys_for(
            self, customer_ids: Sequence[str], *, create: bool = False
        ) -> dict[str, DataKey | None]:
            self.batches.append(list(customer_ids))
            return await super().keys_for(customer_ids, create=create)

    keys = Counting()
    customers = [f"c-{n}" for n in range(5)]
    sealed = {}
    for customer in customers:
        key = await keys.key_for(customer, create=True)
        assert key is not None
        sealed[customer] = encrypt(key, customer, "phone_numbers", ["+493012345678"])
    rows = [(n, *request(c, sealed[c])[1:]) for n, c in enumerate(customers)]
    publisher = Recording()

    kept = await OutboxRelay(keys).publish(rows, publisher)  # type: ignore[arg-type]

    assert keys.batches == [customers], "one request for every request of the round"
    assert kept == set()
    assert [s for _, kind, s in publisher.order if kind == "CallRequested"] == customers
