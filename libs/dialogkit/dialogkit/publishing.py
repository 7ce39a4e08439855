"""Publishing events to Kafka: acks=all, keyed by customer id so one customer stays ordered."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from aiokafka import AIOKafkaProducer

from dialog_schemas import Envelope
from dialog_schemas.envelope import binding_headers
from dialogkit import metrics
from dialogkit.codec import encode

Headers = list[tuple[str, bytes]]
PUBLISH_SECONDS = "dialog_publish_seconds"  # until the broker acknowledged every record


class EventPublisher(Protocol):
    async def publish(self, topic: str, envelopes: Sequence[Envelope]) -> None:
        """Write envelopes to a topic and return once the broker has them all."""

    async def send_raw(self, topic: str, key: bytes | None, value: bytes, headers: Headers) -> None:
        """Write one record as given (dead letters keep the original bytes)."""


def envelope_headers(envelope: Envelope) -> Headers:
    """Headers that let consumers route without decoding the value (structured mode + `ce_*`)."""
    return [(name, value.encode()) for name, value in binding_headers(envelope)]


class KafkaPublisher:
    """An EventPublisher on aiokafka."""

    def __init__(self, bootstrap: str, *, client_id: str, idempotent: bool = False) -> None:
        self._options = {
            "bootstrap_servers": bootstrap,
            "client_id": client_id,
            "acks": "all",
            "enable_idempotence": idempotent,
            # a lone event (one POST) goes out at once; records that arrive while a request is
            # in flight are batched into the next one anyway
            "linger_ms": 0,
            "request_timeout_ms": 15_000,
        }
        self._started: AIOKafkaProducer | None = None

    @property
    def _producer(self) -> AIOKafkaProducer:
        if self._started is None:
            raise RuntimeError("KafkaPublisher used before start()")
        return self._started

    async def start(self) -> None:
        """Connect; the producer is bound to the running event loop."""
        self._started = AIOKafkaProducer(**self._options)
        await self._started.start()

    async def stop(self) -> None:
        if self._started is not None:
            await self._started.stop()
            self._started = None

    async def publish(self, topic: str, envelopes: Sequence[Envelope]) -> None:
        with metrics.timed(PUBLISH_SECONDS, topic=topic):
            await self._publish(topic, envelopes)

    async def _publish(self, topic: str, envelopes: Sequence[Envelope]) -> None:
        futures = [
            await self._producer.send(
                topic,
                encode(e),
                key=e.subject.encode(),
                headers=envelope_headers(e),
            )
            for e in envelopes
        ]
        for future in futures:
            await future

    async def send_raw(self, topic: str, key: bytes | None, value: bytes, headers: Headers) -> None:
        await self._producer.send_and_wait(topic, value, key=key, headers=headers)

    async def reachable(self) -> bool:
        """True when the broker answers a metadata request."""
        try:
            await self._producer.client.fetch_all_metadata()
        except Exception:
            return False
        return True


@dataclass
class FakePublisher:
    """In-memory EventPublisher for unit tests."""

    sent: dict[str, list[Envelope]] = field(default_factory=dict)
    raw: dict[str, list[tuple[bytes | None, bytes, Headers]]] = field(default_factory=dict)

    async def publish(self, topic: str, envelopes: Sequence[Envelope]) -> None:
        self.sent.setdefault(topic, []).extend(envelopes)

    async def send_raw(self, topic: str, key: bytes | None, value: bytes, headers: Headers) -> None:
        self.raw.setdefault(topic, []).append((key, value, headers))
