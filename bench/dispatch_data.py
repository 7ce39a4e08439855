"""The dispatch bench's data: facts, consent histories and a launched campaign, written straight
into the campaigns read model as the worker's projections would have left them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import orjson

from dialog_schemas.campaigns import Audience, AudienceRule, CampaignDefinition
from dialog_schemas.common import Channel, Purpose
from dialog_schemas.consent import CaptureMedium, ConsentGranted, Evidence
from dialogkit.pii import InMemoryKeyStore

CHUNK = 10_000


async def seed(pool: asyncpg.Pool, keys: InMemoryKeyStore, customers: int, tag: str) -> None:
    """Facts and consent histories as the worker's projections would have written them."""
    registered = datetime.now(UTC) - timedelta(days=400)
    evidence = Evidence(
        medium=CaptureMedium.PHONE_CALL,
        wording_version="v1",
        wording_sha256="ab" * 32,
        captured_at=registered,
        source_ref="recording",
        actor="bench",
    )
    points = orjson.dumps({"phone_numbers": ["+493012345678"]}).decode()
    for start in range(0, customers, CHUNK):
        ids = [f"b-{n:07d}" for n in range(start, min(start + CHUNK, customers))]
        for customer in ids:
            await keys.key_for(customer, create=True)
        await pool.copy_records_to_table(
            "audience_facts",
            records=[(c, "consumer", registered, [tag], points, "Europe/Berlin") for c in ids],
            columns=[
                "customer_id",
                "kind",
                "registered_at",
                "interests",
                "contact_points",
                "time_zone",
            ],
        )
        await pool.copy_records_to_table(
            "customer_facts",
            records=[(c, "consumer", registered) for c in ids],
            columns=["customer_id", "kind", "registered_at"],
        )
        history = []
        for n, customer in enumerate(ids):
            if (start + n) % 10 == 9:
                continue
            event = ConsentGranted(
                consent_id=uuid.uuid4(),
                channel=Channel.PHONE,
                purpose=Purpose.MARKETING,
                evidence=evidence,
                pending_confirmation=False,
            )
            history.append(
                (
                    uuid.uuid4(),
                    customer,
                    "ConsentGranted",
                    1,
                    registered,
                    registered,
                    "/bench",
                    uuid.uuid4(),
                    event.model_dump_json(),
                    0,
                    start + n,
                )
            )
        await pool.copy_records_to_table(
            "consent_history",
            records=history,
            columns=[
                "event_id",
                "customer_id",
                "type",
                "schema_version",
                "effective_at",
                "recorded_at",
                "source",
                "correlation_id",
                "data",
                "partition",
                "kafka_offset",
            ],
        )


async def launch(pool: asyncpg.Pool, campaign: str, tag: str, due: datetime) -> None:
    """A running campaign with wave 1 launched, as the worker's projections record it."""
    definition = CampaignDefinition(
        name="Bench",
        channel=Channel.PHONE,
        purpose=Purpose.MARKETING,
        audience=Audience(rule=AudienceRule(interests_any=[tag])),
    )
    await pool.execute(
        "INSERT INTO campaigns (campaign_id, name, channel, purpose, created_at, status,"
        " definition) VALUES ($1, 'Bench', 'phone', 'marketing', $2, 'running', $3::jsonb)",
        campaign,
        due,
        definition.model_dump_json(),
    )
    await pool.execute(
        "INSERT INTO wave_plans (campaign_id, wave, launched_at, due_from) VALUES ($1, 1, $2, $2)",
        campaign,
        due,
    )
