"""Fakes behind the API ports: the real app factories run in-process with no database or broker.

`FakePool` answers the few queries the command routes make (a profile, a customer's facts) from
memory; `CheckingPublisher` encodes every envelope as the Kafka publisher does and decodes it as
every consumer does, so an event the APIs accept but the platform could not carry fails here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import orjson
from fastapi import FastAPI

from dialog_schemas import Envelope, Event
from dialog_schemas.campaigns import (
    Audience,
    CampaignCreated,
    CampaignDefinition,
    CampaignLaunched,
    CampaignPaused,
    WaveLaunched,
)
from dialog_schemas.catalog import CONTACTS_EVENTS, TOPICS
from dialog_schemas.common import Channel, Purpose
from dialog_schemas.consent import CaptureMedium, ConsentGranted, Evidence
from dialogkit.codec import decode_envelope, decode_event, encode
from dialogkit.config import ServiceSettings
from dialogkit.erasures import InMemoryErasedContactPoints
from dialogkit.http import ApiRuntime, Probe, create_api
from dialogkit.idempotency import InMemoryIdempotencyStore
from dialogkit.pii import InMemoryKeyStore
from dialogkit.publishing import FakePublisher, Position
from dialogkit.service import ServiceDefinition
from tests.support import AUTH

REGISTERED = datetime(2026, 1, 5, 9, tzinfo=UTC)
CONSENT_ID = UUID("0b6b6c8e-6a0e-4c55-9a4c-8d9f0f1e2a3b")
GRANTED = {
    "partition": 0,
    "recorded_at": REGISTERED,
    "type": "ConsentGranted",
    "schema_version": 1,
    "data": ConsentGranted(
        consent_id=CONSENT_ID,
        channel=Channel.EMAIL,
        purpose=Purpose.MARKETING,
        evidence=Evidence(
            medium=CaptureMedium.WEB_FORM,
            wording_version="v1",
            wording_sha256="ab" * 32,
            captured_at=REGISTERED,
            source_ref="doi-1",
            actor="web",
        ),
        pending_confirmation=True,
        contact_point="erika@example.org",
    ).model_dump_json(),
}
"""The history row of a pending email consent every known customer has."""
_DEFINITION = CampaignDefinition(
    name="Spring",
    channel=Channel.EMAIL,
    purpose=Purpose.MARKETING,
    audience=Audience(include_ids=["c-1"]),
)
_CREATED = CampaignCreated(
    campaign_id="cmp-x",
    name="Spring",
    channel=Channel.EMAIL,
    purpose=Purpose.MARKETING,
    created_at=REGISTERED,
    definition=_DEFINITION,
)
_RUNNING = [
    _CREATED,
    CampaignLaunched(campaign_id="cmp-x", launched_at=REGISTERED),
    WaveLaunched(campaign_id="cmp-x", wave=1, launched_at=REGISTERED, due_from=REGISTERED),
]
CAMPAIGNS: dict[str, list[Event]] = {
    "cmp-draft": [_CREATED],
    "cmp-running": _RUNNING,
    "cmp-paused": [*_RUNNING, CampaignPaused(campaign_id="cmp-x", paused_at=REGISTERED)],
}
"""The events of the campaigns every fake campaigns read model knows, one of each status."""


class FakePool:
    """The rows the command routes read: profiles (contacts), customer facts (consent) and
    campaigns (`CAMPAIGNS`)."""

    def __init__(self) -> None:
        self.profiles: dict[str, dict[str, Any]] = {}
        self.merges: dict[str, str] = {}
        """Duplicate -> survivor, as `customer_merges` holds them."""
        self.unknown: set[str] = set()
        """Customers consent's read model has no facts of (every other one is known)."""

    def register(self, customer_id: str) -> None:
        self.profiles[customer_id] = {
            "kind": "consumer",
            "profile": "{}",
            "registered_at": REGISTERED,
            "updated_at": REGISTERED,
            "erased_at": None,
            "merged_into": None,
            "registered_by": None,
        }

    async def fetchrow(self, sql: str, *args: Any, **_: Any) -> Any:
        if "FROM profiles" in sql:
            return self.profiles.get(args[0])
        if "FROM customer_facts" in sql:
            return {
                "kind": "consumer",
                "registered_at": REGISTERED,
                "suppressed_channels": [],
                "erased_at": None,
            }
        return None

    async def fetch(self, sql: str, *args: Any, **_: Any) -> list[Any]:
        if "FROM customer_merges WHERE duplicate = ANY" in sql:
            return [
                {"duplicate": c, "survivor": self.merges[c]} for c in args[0] if c in self.merges
            ]
        if "JOIN consent_history" in sql:
            return [
                GRANTED | {"customer_id": c, "kafka_offset": 0}
                for c in args[0]
                if c in self.profiles
            ]
        if "FROM campaign_events" in sql:
            return [
                {
                    "type": e.event_type,
                    "data": e.model_copy(update={"campaign_id": args[0]}).model_dump_json(),
                }
                for e in CAMPAIGNS.get(args[0], [])
            ]
        if "JOIN customer_facts" in sql:
            return [
                {
                    "customer_id": c,
                    "registered_at": REGISTERED,
                    "suppressed_channels": [],
                    "erased_at": None,
                    "kinds": ["consumer"],
                    "kinds_since": [REGISTERED],
                    "purchases": None,
                    "snapshot": None,
                    "history": orjson.dumps(
                        [[0, 0, REGISTERED, "ConsentGranted", 1, orjson.loads(GRANTED["data"])]]
                    ).decode()
                    if c in self.profiles
                    else None,
                }
                for c in args[0]
                if c not in self.unknown
            ]
        return []

    async def fetchval(self, sql: str, *args: Any, **_: Any) -> Any:
        if "FROM customer_merges WHERE duplicate = $1" in sql:
            return self.merges.get(args[0])
        return 1 if sql.strip() == "SELECT 1" else None

    async def execute(self, sql: str, *args: Any, **_: Any) -> str:
        return "OK"


class CheckingPublisher(FakePublisher):
    """Keeps what is published, after encoding and decoding it as the platform does."""

    def __init__(self, pool: FakePool) -> None:
        super().__init__()
        self.pool = pool
        self.contracts = {c.name: c for c in TOPICS}

    async def publish(self, topic: str, envelopes: Sequence[Envelope]) -> list[Position]:
        for envelope in envelopes:
            decoded = decode_envelope(encode(envelope))
            decode_event(decoded, self.contracts[topic].events)
            if topic == CONTACTS_EVENTS.name and envelope.type == "ContactRegistered":
                self.pool.register(envelope.subject)  # the read model shows it at once
        return await super().publish(topic, envelopes)


class AppliedAtOnce:
    """The profile read model shows a registration at once (see `CheckingPublisher`); no other
    fake read model shows anything."""

    async def passed(self, projection: str, positions: Sequence[Position]) -> bool:
        return projection == "contacts.profiles"


class FakeRuntimes:
    """A runtime factory for `create_api`: fake pool and publisher, in-memory data keys."""

    def __init__(self) -> None:
        self.pool = FakePool()
        self.publisher = CheckingPublisher(self.pool)
        self.keys = InMemoryKeyStore()

    @asynccontextmanager
    async def __call__(
        self, service: str, settings: ServiceSettings
    ) -> AsyncIterator[tuple[ApiRuntime, dict[str, Probe]]]:
        runtime = ApiRuntime(
            service,
            settings,
            self.pool,  # type: ignore[arg-type]
            self.publisher,
            self.keys,
            InMemoryErasedContactPoints(),
        )
        runtime.idempotency = InMemoryIdempotencyStore()
        runtime.applied = AppliedAtOnce()
        yield runtime, {}


def fake_app(definition: ServiceDefinition, **settings: Any) -> tuple[FastAPI, FakeRuntimes]:
    """The service's real API over fakes."""
    fakes = FakeRuntimes()
    app = create_api(
        definition.name,
        definition.settings(**settings),
        definition.routers,
        runtime_factory=fakes,
    )
    return app, fakes


@asynccontextmanager
async def client_of(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process, its lifespan run around it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://api", headers=AUTH
        ) as client:
            yield client
