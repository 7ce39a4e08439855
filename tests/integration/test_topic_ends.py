"""The platform's one end reader (`dialogkit.offsets`) on the real broker: true ends per partition,
also where the broker reports the start of the last batch, and topics made after it started."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from dialog_schemas import Envelope
from dialog_schemas.catalog import TopicContract
from dialog_schemas.common import CustomerKind
from dialog_schemas.contacts import ContactRegistered
from dialogkit.offsets import KafkaTopicEnds, end_offsets
from dialogkit.publishing import KafkaPublisher
from dialogkit.topics import ensure_topics


def registered(customer: str) -> Envelope:
    now = datetime.now(UTC)
    event = ContactRegistered(kind=CustomerKind.CONSUMER, name="N", registered_at=now)
    return Envelope.wrap(event, id=uuid.uuid4(), source="/t", subject=customer, time=now)


async def new_topic(bootstrap: str) -> str:
    topic = TopicContract.of(f"ends-test-{uuid.uuid4().hex[:8]}.v1", [ContactRegistered])
    await ensure_topics(bootstrap, [topic], partitions=2, replication=1)
    return topic.name


async def test_ends_count_every_record_of_the_last_batch(
    platform_topics_ready: str, publisher: KafkaPublisher
) -> None:
    bootstrap = platform_topics_ready
    reader = KafkaTopicEnds(bootstrap)
    try:
        topic = await new_topic(bootstrap)  # made after the reader's first metadata
        assert await reader.ends([topic]) == {(topic, 0): 0, (topic, 1): 0}
        positions = await publisher.publish(topic, [registered("c-1") for _ in range(7)])
        [partition] = {p.partition for p in positions}  # one key: one partition, one batch
        expected = {(topic, 0): 0, (topic, 1): 0} | {(topic, partition): 7}
        assert await reader.ends([topic]) == expected
        await publisher.publish(topic, [registered("c-1")])
        expected[(topic, partition)] = 8
        assert await reader.ends([topic]) == expected, "the same reader reads again"
        assert end_offsets(bootstrap, [topic]) == expected, "and so does a reading of its own"
    finally:
        await reader.stop()


async def test_a_topic_that_does_not_exist_has_no_partitions(platform_topics_ready: str) -> None:
    assert end_offsets(platform_topics_ready, [f"missing-{uuid.uuid4().hex[:8]}"]) == {}
