"""Contacts commands on the shared path with the real database: erasure in a durable order."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
import pytest

from contacts.commands import COMMANDS, Erase
from contacts.config import Settings
from contacts.profiles import RegisterContact
from contacts.projections import ProfileProjection
from dialog_schemas.catalog import CONTACTS_EVENTS
from dialogkit.codec import encode
from dialogkit.commands import execute
from dialogkit.deadletters import DeadLetters
from dialogkit.http import ApiRuntime
from dialogkit.keys import PostgresKeyStore
from dialogkit.projection import ProjectionRunner
from dialogkit.publishing import FakePublisher
from dialogkit.records import SourceRecord


class BrokenOnce:
    """A pool whose first statement destroying a key fails as a lost connection would."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self.broken = True

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._pool, name)

        async def call(query: str, *args: Any, **kwargs: Any) -> Any:
            if self.broken and "data_keys" in query and "destroyed_at" in query:
                self.broken = False
                raise ConnectionResetError("connection lost between publishing and destroying")
            return await method(query, *args, **kwargs)

        return call


async def project(pool: asyncpg.Pool, publisher: FakePublisher) -> None:
    """Apply what was published to the profile read model, as the worker would."""
    envelopes = publisher.sent.get(CONTACTS_EVENTS.name, [])
    records: Sequence[SourceRecord] = [
        SourceRecord(CONTACTS_EVENTS.name, 0, n, e.subject.encode(), encode(e))
        for n, e in enumerate(envelopes)
    ]
    dead = DeadLetters(FakePublisher(), "contacts.deadletter.v1", "t")
    await ProjectionRunner(pool, ProfileProjection(), dead).handle(records)


async def test_an_erasure_failing_after_its_event_is_completed_by_a_retry(
    new_database: Any, pool_for: Any
) -> None:
    pool = await pool_for(await new_database("contacts"))
    customer = f"c-{uuid.uuid4().hex[:8]}"
    publisher = FakePublisher()
    runtime = ApiRuntime("contacts", Settings(command_wait_s=0), pool, publisher)
    person = RegisterContact(kind="consumer", name="Kim Muster", email_addresses=["k@example.org"])
    await execute(runtime, COMMANDS, customer, person, "signup")
    await project(pool, publisher)
    assert await PostgresKeyStore(pool).key_for(customer) is not None

    broken = BrokenOnce(pool)
    faulty = ApiRuntime("contacts", Settings(command_wait_s=0), broken, publisher)
    with pytest.raises(ConnectionResetError):
        await execute(faulty, COMMANDS, customer, Erase())
    erased = [e for e in publisher.sent[CONTACTS_EVENTS.name] if e.type == "ContactErased"]
    assert len(erased) == 1, "the erasure event is on the topic before any key is destroyed"
    assert await PostgresKeyStore(pool).key_for(customer) is not None, "the key is still there"

    retried = await execute(runtime, COMMANDS, customer, Erase())
    assert not retried.replayed, "the failed erasure runs again"
    assert await PostgresKeyStore(pool).key_for(customer) is None, "the retry destroyed the key"
    again = [e for e in publisher.sent[CONTACTS_EVENTS.name] if e.type == "ContactErased"]
    assert {e.id for e in again} == {erased[0].id}, "published again with the same id"
    await project(pool, publisher)
    row = await pool.fetchrow(
        "SELECT erased_at, profile FROM profiles WHERE customer_id = $1", customer
    )
    assert row["erased_at"] is not None
    assert "k@example.org" not in row["profile"], "no readable personal data is left"
    assert (await execute(runtime, COMMANDS, customer, Erase())).replayed
