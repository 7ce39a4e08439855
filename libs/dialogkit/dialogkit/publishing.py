"""Publishing events to Kafka: acks=all, keyed by customer id so one customer stays ordered."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from aiokafka import AIOKafkaProducer

from dialog_schemas import Envelope
from dialog_schemas.envelope import binding_headers
from dialogkit.codec import encode

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class Position:
    """Where the broker put a record: a command waits until projections have passed it."""

    topic: str
    partition: int
    offset: int


class EventPublisher(Protocol):
    async def publish(self, topic: str, envelopes: Sequence[Envelope]) -> Sequence[Position]:
        """Write envelopes to a topic; return once the broker has them all, with their places."""

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
            "linger_ms": 5,
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

    async def publish(self, topic: str, envelopes: Sequence[Envelope]) -> list[Position]:
        futures = [
            await self._producer.send(
                topic,
                encode(e),
                key=e.subject.encode(),
                headers=envelope_headers(e),
            )
            for e in envelopes
        ]
        placed = [await future for future in futures]
        return [Position(m.topic, m.partition, m.offset) for m in placed]

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

    async def publish(self, topic: str, envelopes: Sequence[Envelope]) -> list[Position]:
        """Keeps the envelopes; each lands on partition 0 at the next offset of its topic."""
        sent = self.sent.setdefault(topic, [])
        sent.extend(envelopes)
        return [Position(topic, 0, n) for n in range(len(sent) - len(envelopes), len(sent))]

    async def send_raw(self, topic: str, key: bytes | None, value: bytes, headers: Headers) -> None:
        self.raw.setdefault(topic, []).append((key, value, headers))
