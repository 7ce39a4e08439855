"""Where each partition of a topic ends: the platform's one reader of broker-side end offsets.

The lag table and gauges (`dialogkit.lag`) and the campaigns worker's read barrier both ask it.
It is kafka-python's consumer without a group (a ListOffsets request, then at most one fetch per
partition), on the service's Kafka connection settings (`kafka_client_options`).

Some brokers report a partition's end as the start of its last record batch (the embedded
broker does), so the end is confirmed by fetching from just before the reported end: the offset
after the last record fetched is the true end. On Apache Kafka that is the reported end. A
partition whose record before the reported end is gone (retention) keeps the reported end.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # kafka-python loads on the first reading: a third of a second of start-up
    from kafka import KafkaConsumer, TopicPartition

Ends = dict[tuple[str, int], int]
"""The next offset to be written, per (topic, partition)."""


class KafkaTopicEnds:
    """True end offsets of topics, read by one long-lived consumer without a group.

    `security`: connection options from `kafka_client_options` (plaintext if None).
    `timeout_s`: how long one reading may take; a broker that does not answer in time raises
    (kafka-python's errors on connect, TimeoutError naming the partitions on the fetch)."""

    def __init__(
        self,
        bootstrap: str,
        security: Mapping[str, Any] | None = None,
        *,
        timeout_s: float = 10.0,
    ) -> None:
        self._bootstrap = [b.strip() for b in bootstrap.split(",")]
        self._security = dict(security or {})
        self._timeout_s = timeout_s
        self._consumer: KafkaConsumer | None = None
        self._lock = asyncio.Lock()

    async def ends(self, topics: Sequence[str]) -> Ends:
        """The true end of every partition of `topics` as of now (one reading at a time)."""
        async with self._lock:
            return await asyncio.to_thread(self.read, topics)

    def read(self, topics: Sequence[str]) -> Ends:
        """`ends`, blocking: for a thread, or a command that has no event loop."""
        from kafka import TopicPartition

        consumer = self._started()
        consumer.topics()  # fresh metadata: topics or partitions may have been added
        partitions = [
            TopicPartition(topic, partition)
            for topic in sorted(set(topics))
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        reported = consumer.end_offsets(partitions) if partitions else {}
        return self._confirmed(consumer, {tp: int(end) for tp, end in reported.items()})

    def _confirmed(self, consumer: KafkaConsumer, reported: dict[TopicPartition, int]) -> Ends:
        from kafka.errors import OffsetOutOfRangeError

        ends = {(tp.topic, tp.partition): end for tp, end in reported.items()}
        waiting = {tp for tp, end in reported.items() if end > 0}
        deadline = time.monotonic() + self._timeout_s
        self._seek(consumer, waiting, reported)
        try:
            while waiting:
                if time.monotonic() > deadline:
                    names = ", ".join(sorted(f"{tp.topic}[{tp.partition}]" for tp in waiting))
                    raise TimeoutError(f"could not read the end of {names}")
                try:
                    fetched = consumer.poll(timeout_ms=50)
                except OffsetOutOfRangeError as gone:  # nothing left before the reported end
                    waiting -= set(gone.args[0]) if gone.args else waiting
                    self._seek(consumer, waiting, reported)
                    continue
                for tp, records in fetched.items():
                    if records and tp in waiting:
                        key = (tp.topic, tp.partition)
                        ends[key] = max(ends[key], records[-1].offset + 1)
                        waiting.discard(tp)
                        consumer.pause(tp)
        finally:
            consumer.assign([])
        return ends

    @staticmethod
    def _seek(
        consumer: KafkaConsumer, partitions: set[TopicPartition], at: Mapping[TopicPartition, int]
    ) -> None:
        consumer.assign(sorted(partitions))
        for tp in partitions:
            consumer.seek(tp, at[tp] - 1)

    def _started(self) -> KafkaConsumer:
        if self._consumer is None:
            from kafka import KafkaConsumer

            timeout_ms = max(1000, int(self._timeout_s * 1000))
            self._consumer = KafkaConsumer(
                bootstrap_servers=self._bootstrap,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="none",
                client_id="dialog-topic-ends",
                max_partition_fetch_bytes=64 * 1024,
                fetch_max_wait_ms=20,
                bootstrap_timeout_ms=timeout_ms,
                request_timeout_ms=timeout_ms,
                **self._security,
            )
        return self._consumer

    def close(self) -> None:
        """Close the connection (a later reading opens a new one)."""
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    async def stop(self) -> None:
        """`close`, for the worker's shutdown."""
        async with self._lock:
            await asyncio.to_thread(self.close)


def end_offsets(
    bootstrap: str,
    topics: Sequence[str],
    security: Mapping[str, Any] | None = None,
    timeout_s: float = 10.0,
) -> Ends:
    """One reading of the true ends of `topics` on a connection of its own (blocking)."""
    reader = KafkaTopicEnds(bootstrap, security, timeout_s=timeout_s)
    try:
        return reader.read(topics)
    finally:
        reader.close()
