"""Creating the catalog's topics, idempotently, with their retention and compaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from dialog_schemas.catalog import SERVICES, TOPICS, TopicContract, dead_letter_topic

__all__ = ["SERVICES", "dead_letter_topic", "ensure_topics", "platform_topics"]


def platform_topics() -> list[TopicContract]:
    """Every topic the platform uses: event, state, ingress and dead-letter topics."""
    return list(TOPICS)


async def ensure_topics(
    bootstrap: str,
    specs: Iterable[TopicContract],
    *,
    partitions: int,
    replication: int,
    security: Mapping[str, Any] | None = None,
) -> list[str]:
    """Create missing topics; return the names that were created.

    `security`: connection options from `kafka_client_options` (plaintext if None)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="topic-setup", **(security or {})
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            new = [
                NewTopic(s.name, partitions, replication, topic_configs=s.config) for s in missing
            ]
            response = await admin.create_topics(new)
            for name, code, message in _topic_errors(response):
                if code not in (0, TopicAlreadyExistsError.errno):
                    raise RuntimeError(f"creating topic {name} failed: error {code} {message}")
        return [s.name for s in missing]
    finally:
        await admin.close()


def _topic_errors(response: Any) -> list[tuple[str, int, str | None]]:
    """(topic, error code, message) of aiokafka's CreateTopicsResponse, of any version."""
    return [(e[0], e[1], e[2] if len(e) > 2 else None) for e in response.topic_errors]
