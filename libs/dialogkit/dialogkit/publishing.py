"""Publishing events to Kafka: acks=all, keyed by customer id so one customer stays ordered."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner

from dialog_schemas import Envelope
from dialog_schemas.envelope import CONTENT_TYPE, binding_headers
from dialogkit import metrics
from dialogkit.codec import decode_envelope, encode
from dialogkit.ledger import LedgerSigner
from dialogkit.tracing import producer_span

Headers = list[tuple[str, bytes]]
PUBLISH_SECONDS = "dialog_publish_seconds"  # until the broker acknowledged every record
STRUCTURED = ("content-type", CONTENT_TYPE.encode())
HEADER_OF = {
    name: f"ce_{name}" for name in Envelope.model_fields if name not in ("data", "datacontenttype")
}
"""The `ce_*` header of each attribute that travels in one (`binding_headers`)."""
PARTITIONER = DefaultPartitioner()
"""The producer's own: a key's records land where `send` would put them."""


@dataclass(frozen=True, slots=True)
class Position:
    """Where the broker put a record: a command waits until projections have passed it."""

    topic: str
    partition: int
    offset: int


class BrokerUnavailable(Exception):
    """The broker could not be reached and nothing was handed to it: a retry is safe."""


class PublishOutcomeUnknown(Exception):
    """Events were handed to the broker but not confirmed in time: they may be written or not.

    A retry with the same Idempotency-Key derives the same event ids, so whatever happened, the
    events take effect at most once.
    """

    def __init__(self, topic: str, event_ids: Sequence[UUID], reason: str) -> None:
        super().__init__(f"publishing {len(event_ids)} event(s) to {topic}: {reason}")
        self.topic = topic
        self.event_ids = list(event_ids)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Encoded:
    """An event as it travels: key (the customer), structured-mode value, the binding's headers."""

    key: bytes
    value: bytes
    headers: Headers


def encoded(value: bytes) -> Encoded:
    """The record of an envelope's `encode`d value, as `publish` would write that envelope: the
    headers come from the value's attributes (one JSON parse, no validation)."""
    document = orjson.loads(value)
    headers = [STRUCTURED]
    for name, attribute in document.items():  # an attribute left out is not null (`encode`)
        if (header := HEADER_OF.get(name)) is not None and attribute is not None:
            text = attribute if isinstance(attribute, str) else str(attribute)
            headers.append((header, text.encode()))
    return Encoded(document["subject"].encode(), value, headers)


class EventPublisher(Protocol):
    async def publish(self, topic: str, envelopes: Sequence[Envelope]) -> Sequence[Position]:
        """Write envelopes to a topic; return once the broker has them all, with their places."""

    async def send_raw(self, topic: str, key: bytes | None, value: bytes, headers: Headers) -> None:
        """Write one record as given (dead letters keep the original bytes)."""


@runtime_checkable
class EncodedPublisher(Protocol):
    async def publish_encoded(self, topic: str, records: Sequence[Encoded]) -> None:
        """Write records encoded beforehand, as they are; return once the broker has them all."""


async def publish_encoded(
    publisher: EventPublisher, topic: str, records: Sequence[Encoded]
) -> None:
    """Write encoded records through `publisher`: as they are where it takes them so (the Kafka
    publisher), else decoded into the envelopes they were made of (fakes and wrappers in tests)."""
    if isinstance(publisher, EncodedPublisher):
        await publisher.publish_encoded(topic, records)
    elif records:
        await publisher.publish(topic, [decode_envelope(r.value, r.headers) for r in records])


def envelope_headers(envelope: Envelope) -> Headers:
    """Headers that let consumers route without decoding the value (structured mode + `ce_*`)."""
    return [(name, value.encode()) for name, value in binding_headers(envelope)]


class KafkaPublisher:
    """An EventPublisher on aiokafka."""

    def __init__(
        self,
        bootstrap: str,
        *,
        client_id: str,
        idempotent: bool = False,
        timeout_s: float = 10.0,
        security: Mapping[str, Any] | None = None,
        signers: Mapping[str, LedgerSigner] | None = None,
    ) -> None:
        """`security`: connection options from `kafka_client_options` (plaintext if None);
        `signers`: topic -> the signer whose signature every event published there carries."""
        self.timeout_s = timeout_s
        self._signers = dict(signers or {})
        self._options = {
            **(security or {}),
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

    async def publish(self, topic: str, envelopes: Sequence[Envelope]) -> list[Position]:
        """Send all envelopes and wait up to `timeout_s` for the broker to confirm them; where
        each landed. BrokerUnavailable if nothing was sent, PublishOutcomeUnknown otherwise."""
        if not envelopes:  # nothing to confirm (asyncio.wait refuses an empty set)
            return []
        records = [Encoded(e.subject.encode(), encode(e), envelope_headers(e)) for e in envelopes]
        with metrics.timed(PUBLISH_SECONDS, topic=topic):
            placed = await self._confirmed(topic, records, self._one_by_one)
        return [Position(m.topic, m.partition, m.offset) for m in placed]

    async def publish_encoded(self, topic: str, records: Sequence[Encoded]) -> None:
        """`publish` of records encoded beforehand (`encoded`), sent as they are: in batches per
        partition (the partition `publish` gives the key; each key's records in order) under one
        producer span, whose `traceparent` every record carries. Errors as `publish`."""
        if records:
            with metrics.timed(PUBLISH_SECONDS, topic=topic):
                await self._confirmed(topic, records, self._in_batches)

    async def _one_by_one(
        self, topic: str, records: Sequence[Encoded], futures: list[asyncio.Future[Any]]
    ) -> None:
        signer, send = self._signers.get(topic), self._producer.send
        for r in records:
            headers = r.headers if signer is None else r.headers + signer.headers(r.value)
            futures.append(await send(topic, r.value, key=r.key, headers=list(headers)))

    async def _in_batches(
        self, topic: str, records: Sequence[Encoded], futures: list[asyncio.Future[Any]]
    ) -> None:
        producer, signer = self._producer, self._signers.get(topic)
        partitions = sorted(await producer.partitions_for(topic))
        of_key: dict[bytes, int] = {}
        runs: dict[int, list[Encoded]] = {}
        for r in records:
            if (partition := of_key.get(r.key)) is None:
                partition = of_key[r.key] = PARTITIONER(r.key, partitions, partitions)
            runs.setdefault(partition, []).append(r)
        with producer_span(topic, len(records)) as trace:
            for partition, run in runs.items():
                batch = producer.create_batch()
                for r in run:
                    headers = r.headers + trace
                    if signer is not None:
                        headers += signer.headers(r.value)
                    added = batch.append(key=r.key, value=r.value, timestamp=None, headers=headers)
                    if added is not None:
                        continue
                    futures.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()  # a record always fits an empty batch
                    batch.append(key=r.key, value=r.value, timestamp=None, headers=headers)
                futures.append(await producer.send_batch(batch, topic, partition=partition))

    async def _confirmed(
        self,
        topic: str,
        records: Sequence[Encoded],
        send: Callable[[str, Sequence[Encoded], list[asyncio.Future[Any]]], Awaitable[None]],
    ) -> list[Any]:
        """Hand the records to the producer by `send`, then wait until the broker confirmed
        them all, within `timeout_s`; what the futures gave."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        futures: list[asyncio.Future[Any]] = []
        try:
            async with asyncio.timeout_at(deadline):
                await send(topic, records, futures)
        except (TimeoutError, KafkaError) as error:
            if not futures:
                raise BrokerUnavailable(f"broker unreachable: {error!r}") from error
            raise PublishOutcomeUnknown(topic, _ids(records), repr(error)) from error
        # asyncio.wait leaves the futures alone at the deadline: the producer may still deliver
        _, pending = await asyncio.wait(futures, timeout=max(0.0, deadline - loop.time()))
        if pending:
            reason = f"no confirmation within {self.timeout_s:g} s"
            raise PublishOutcomeUnknown(topic, _ids(records), reason)
        for future in futures:
            if (failure := future.exception()) is not None:
                raise PublishOutcomeUnknown(topic, _ids(records), repr(failure)) from failure
        metrics.EVENTS_PRODUCED.labels(topic=topic).inc(len(records))
        return [future.result() for future in futures]

    async def send_raw(self, topic: str, key: bytes | None, value: bytes, headers: Headers) -> None:
        await self._producer.send_and_wait(topic, value, key=key, headers=list(headers))
        metrics.EVENTS_PRODUCED.labels(topic=topic).inc()

    async def reachable(self) -> bool:
        """True when the broker answers a metadata request."""
        try:
            await self._producer.client.fetch_all_metadata()
        except Exception:
            return False
        return True


def _ids(records: Sequence[Encoded]) -> list[UUID]:
    return [UUID(orjson.loads(r.value)["id"]) for r in records]


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
