"""A consent event not signed by the consent service changes nothing and is a dead letter."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consentledger.eligibility import eligibility
from consentledger.store import load_state
from dialog_schemas import Envelope, Event
from dialog_schemas.catalog import CONSENT_EVENTS, CONTACTS_EVENTS
from dialog_schemas.common import Channel, CustomerKind, Purpose
from dialog_schemas.consent import CaptureMedium, ConsentGranted, Evidence
from dialog_schemas.contacts import ContactRegistered
from dialogkit.ledger import BAD_SIGNATURE, LedgerSigner
from dialogkit.publishing import KafkaPublisher
from tests.support import eventually, read_topic, service_process

NOW = datetime.now(UTC)


def granted(channel: Channel) -> ConsentGranted:
    return ConsentGranted(
        consent_id=uuid.uuid4(),
        channel=channel,
        purpose=Purpose.MARKETING,
        evidence=Evidence(
            medium=CaptureMedium.PHONE_CALL,
            wording_version="v1",
            wording_sha256="34" * 32,
            captured_at=NOW - timedelta(days=1),
            source_ref="rec-1",
            actor="agent-1",
        ),
        pending_confirmation=False,
    )


def wrap(customer: str, event: Event) -> Envelope:
    return Envelope.wrap(event, id=uuid.uuid4(), source="/consent/api", subject=customer, time=NOW)


async def test_a_forged_consent_grant_changes_no_eligibility_and_is_a_dead_letter(
    new_database,
    pool_for,
    publisher: KafkaPublisher,
    platform_topics_ready: str,
    customer_id: str,
    tmp_path: Path,
    data_keys_env: dict[str, str],
) -> None:
    dsn = await new_database("consent")
    pool = await pool_for(dsn)
    registered = ContactRegistered(
        kind=CustomerKind.CONSUMER, name="Kim Doe", registered_at=NOW - timedelta(days=2)
    )
    await publisher.publish(CONTACTS_EVENTS.name, [wrap(customer_id, registered)])
    unsigned = wrap(customer_id, granted(Channel.PHONE))
    other_key = wrap(customer_id, granted(Channel.PHONE))
    genuine = wrap(customer_id, granted(Channel.SMS))
    forger = KafkaPublisher(platform_topics_ready, client_id="forger")
    impostor = KafkaPublisher(
        platform_topics_ready,
        client_id="impostor",
        signers={CONSENT_EVENTS.name: LedgerSigner(Ed25519PrivateKey.generate())},
    )
    for producer in (forger, impostor):
        await producer.start()
    try:
        await forger.publish(CONSENT_EVENTS.name, [unsigned])
        await impostor.publish(CONSENT_EVENTS.name, [other_key])
    finally:
        for producer in (forger, impostor):
            await producer.stop()
    await publisher.publish(CONSENT_EVENTS.name, [genuine])  # signed as the consent service

    async def history() -> list[str]:
        rows = await pool.fetch(
            "SELECT event_id FROM consent_history WHERE customer_id = $1", customer_id
        )
        return [str(r["event_id"]) for r in rows]

    common = {"bootstrap": platform_topics_ready, "dsn": dsn, "extra_env": data_keys_env}
    with service_process("consent", "worker", logs=tmp_path / "worker.log", **common):
        # one customer's events share a partition: once the genuine one is in, the others passed
        assert await eventually(history, lambda ids: str(genuine.id) in ids) == [str(genuine.id)]

        async def refused() -> dict[str, str]:
            records = await read_topic(platform_topics_ready, "consent.deadletter.v1")
            return {
                r.value.decode(): dict(r.headers)["dlq_reason"].decode()
                for r in records
                if r.key == customer_id.encode() and r.value is not None
            }

        dead = await eventually(refused, lambda found: len(found) >= 2, timeout=60)
    assert {Envelope.model_validate_json(v).id for v in dead} == {unsigned.id, other_key.id}
    assert set(dead.values()) == {BAD_SIGNATURE}
    state = await load_state(pool, customer_id)
    assert state is not None
    phone = eligibility(state, Channel.PHONE, Purpose.MARKETING, NOW, expiry=timedelta(days=730))
    sms = eligibility(state, Channel.SMS, Purpose.MARKETING, NOW, expiry=timedelta(days=730))
    assert not phone.allowed
    assert sms.allowed
