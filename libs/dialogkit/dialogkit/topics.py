"""Topic layout: every service's event topic and its dead-letter topic, created idempotently."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from dialog_schemas.catalog import TOPICS

DEAD_LETTER_SUFFIX = ".deadletter.v1"
SERVICES = ("consent", "contacts", "interactions", "campaigns")


@dataclass(frozen=True)
class TopicSpec:
    name: str
    compacted: bool = False


def dead_letter_topic(service: str) -> str:
    return f"{service}{DEAD_LETTER_SUFFIX}"


def platform_topics() -> list[TopicSpec]:
    """Every topic the platform uses."""
    specs = [TopicSpec(t.name, t.compacted) for t in TOPICS]
    specs += [TopicSpec(dead_letter_topic(s)) for s in SERVICES]
    return specs


async def ensure_topics(
    bootstrap: str, specs: Iterable[TopicSpec], *, partitions: int, replication: int
) -> list[str]:
    """Create missing topics; return the names that were created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="topic-setup")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            new = [
                NewTopic(
                    s.name,
                    partitions,
                    replication,
                    topic_configs={"cleanup.policy": "compact"} if s.compacted else {},
                )
                for s in missing
            ]
            response = await admin.create_topics(new)
            for name, code, message in _topic_errors(response):
                if code not in (0, TopicAlreadyExistsError.errno):
                    raise RuntimeError(f"creating topic {name} failed: error {code} {message}")
        return [s.name for s in missing]
    finally:
        await admin.close()


def _topic_errors(response: object) -> list[tuple[str, int, str | None]]:
    return [(e[0], e[1], e[2] if len(e) > 2 else None) for e in response.topic_errors]  # type: ignore[attr-defined]
