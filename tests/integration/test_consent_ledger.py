"""The §7a ledger in the consent database: chained as applied, verifiable offline."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from consent.ledger import chains
from consent.projections import ConsentStateProjection
from consent.signing import verify_bundle
from dialog_schemas import Envelope, Event
from dialog_schemas.catalog import CONSENT_EVENTS
from dialog_schemas.common import Channel
from dialog_schemas.consent import ObjectionLifted, ObjectionRecorded
from dialogkit.codec import encode
from dialogkit.deadletters import DeadLetters
from dialogkit.ledger import LedgerVerifier
from dialogkit.projection import ProjectionRunner
from dialogkit.publishing import FakePublisher
from dialogkit.records import SourceRecord
from tests.support import LEDGER_SIGNER

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def signed(offset: int, customer: str, event: Event, event_id: uuid.UUID) -> SourceRecord:
    envelope = Envelope.wrap(event, id=event_id, source="/consent/api", subject=customer, time=T0)
    value = encode(envelope)
    headers = (("content-type", b"application/cloudevents+json"), *LEDGER_SIGNER.headers(value))
    return SourceRecord(CONSENT_EVENTS.name, 0, offset, customer.encode(), value, headers)


async def test_the_chain_holds_each_event_once_in_order_and_verifies(
    new_database, pool_for
) -> None:
    customer = f"ledger-{uuid.uuid4().hex[:8]}"
    pool = await pool_for(await new_database("consent"))
    projection = ConsentStateProjection(FakePublisher(), timedelta(days=730), LEDGER_SIGNER)
    runner = ProjectionRunner(
        pool,
        projection,
        DeadLetters(FakePublisher(), "consent.deadletter.v1", "test"),
        LedgerVerifier(LEDGER_SIGNER.public_key),
    )
    objection = uuid.uuid4()
    first, second = uuid.uuid4(), uuid.uuid4()
    objected = ObjectionRecorded(objection_id=objection, objected_at=T0, via_channel=Channel.PHONE)
    lifted = ObjectionLifted(
        objection_id=objection, lifted_at=T0 + timedelta(days=1), consent_id=uuid.uuid4()
    )
    await runner.handle([signed(0, customer, objected, first)])
    # the same event published again (a retried command) and the next one, in one batch
    await runner.handle([signed(1, customer, objected, first), signed(2, customer, lifted, second)])

    ledger = await chains(pool, [customer], LEDGER_SIGNER.key_id)
    [chain] = ledger["chains"]
    assert [e["event_id"] for e in chain["events"]] == [str(first), str(second)]
    assert chain["head"]["length"] == 2
    bundle = {"events": [{"event_id": str(first)}, {"event_id": str(second)}], "ledger": ledger}
    assert verify_bundle(bundle, LedgerVerifier(LEDGER_SIGNER.public_key)) == []
