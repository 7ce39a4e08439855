"""Property: what the APIs accept, every projection of every service applies (real PostgreSQL).

Every command endpoint gets its valid body with each special value (control characters, NUL,
surrogates, long and sealed-looking text, naive, far-off and DST-edge datetimes, huge numbers)
at each position; the events of whatever is accepted go through every projection that reads
their topic, into a database of its service. No variation may be answered with a 5xx, and
no accepted event may be dead-lettered.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest

from dialog_schemas import Envelope
from dialog_schemas.catalog import TOPICS
from dialogkit.codec import encode
from dialogkit.deadletters import DeadLetters
from dialogkit.pii import InMemoryKeyStore
from dialogkit.projection import ProjectionRunner
from dialogkit.publishing import FakePublisher
from dialogkit.records import SourceRecord
from dialogkit.topics import SERVICES
from tests.commands import COMMANDS, KNOWN, NEW, variations
from tests.fakes import client_of, fake_app

NO_WAITING: dict[str, dict[str, float]] = {
    "consent": {"command_wait_s": 0},
    "campaigns": {"command_wait_s": 0},
    "interactions": {"sale_wait_s": 0},  # the fakes never show the sale call a moment later
}
"""Settings that make a command stop waiting for a read model the fakes do not advance."""


async def accepted_events() -> tuple[list[Envelope], InMemoryKeyStore, list[tuple[str, str]]]:
    """The events published for every accepted variation of every command, their keys, and
    the variations answered with a 5xx (there must be none)."""
    keys = InMemoryKeyStore()
    envelopes: list[Envelope] = []
    server_errors: list[tuple[str, str]] = []
    for service in {c.service.name: c.service for c in COMMANDS}.values():
        app, fakes = fake_app(service, **NO_WAITING.get(service.name, {}))
        fakes.keys = keys
        for customer in (KNOWN, "c-2"):
            fakes.pool.register(customer)
        async with client_of(app) as client:
            for command in (c for c in COMMANDS if c.service is service):
                bodies = [command.body, *variations(command.body)]
                for body in bodies:
                    fakes.pool.profiles.pop(NEW, None)
                    response = await client.request(
                        command.method,
                        command.path,
                        content=json.dumps(body),
                        headers={"content-type": "application/json"},
                    )
                    if response.status_code >= 500:
                        server_errors.append((command.path, json.dumps(body)))
        envelopes += [e for sent in fakes.publisher.sent.values() for e in sent]
    return envelopes, keys, server_errors


async def test_every_accepted_event_is_applied_by_every_projection(
    new_database: Any, pool_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    envelopes, keys, server_errors = await accepted_events()
    assert server_errors == [], "no special value at any position reaches a 500"
    assert len({e.type for e in envelopes}) >= 8, "the commands were accepted at all"
    topic_of = {name: c.name for c in reversed(TOPICS) for name in c.events}
    records: dict[str, list[SourceRecord]] = {}
    for envelope in envelopes:
        topic = topic_of[envelope.type]
        batch = records.setdefault(topic, [])
        batch.append(
            SourceRecord(topic, 0, len(batch), envelope.subject.encode(), encode(envelope))
        )
    dead = FakePublisher()
    for service in SERVICES:
        definition = importlib.import_module(f"{service}.bootstrap").DEFINITION
        monkeypatch.setattr(definition.settings, "key_store", lambda self, pool=None: keys)
        pool = await pool_for(await new_database(service))
        if service == "contacts":  # it opens personal data with the keys in its own database
            for customer, key in keys._keys.items():
                assert key is not None
                await pool.execute(
                    "INSERT INTO data_keys (customer_id, key_id, secret) VALUES ($1, $2, $3)",
                    customer,
                    key.key_id,
                    key.secret,
                )
        for projection in definition.projections(definition.settings(), FakePublisher()):
            runner = ProjectionRunner(pool, projection, DeadLetters(dead, "dl", projection.name))
            outcome = await runner.handle(records.get(projection.source.name, []))
            assert outcome.dead_lettered == 0, [
                (dict(h)["dlq_detail"], value[:600]) for _, value, h in dead.raw["dl"]
            ]
    assert dead.raw == {}
