"""Dead letters: records that cannot be processed go aside with their reason, never dropped."""

from __future__ import annotations

import orjson

from dialogkit import metrics
from dialogkit.codec import DecodeError
from dialogkit.publishing import EventPublisher
from dialogkit.records import SourceRecord

DEAD_LETTERS_TOTAL = "dialog_dead_letters_total"


class DeadLetters:
    """Sends a rejected record, unchanged, to a dead-letter topic with the reason in headers."""

    def __init__(self, publisher: EventPublisher, topic: str, consumer: str) -> None:
        self._publisher = publisher
        self._topic = topic
        self._consumer = consumer

    async def send(self, record: SourceRecord, error: DecodeError) -> None:
        """Publish the record with why it was rejected, where it came from and who rejected it."""
        headers = [
            ("dlq_reason", error.reason.encode()),
            ("dlq_detail", orjson.dumps(error.detail)),
            ("dlq_source_topic", record.topic.encode()),
            ("dlq_source_partition", str(record.partition).encode()),
            ("dlq_source_offset", str(record.offset).encode()),
            ("dlq_consumer", self._consumer.encode()),
            *record.headers,
        ]
        await self._publisher.send_raw(self._topic, record.key, record.value or b"", headers)
        metrics.increment(
            DEAD_LETTERS_TOTAL, consumer=self._consumer, topic=record.topic, reason=error.reason
        )
