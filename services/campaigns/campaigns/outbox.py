"""The outbox: events decided inside a database transaction, published after it commits.

Planning and dispatch write their events into `outbox` in the transaction that records the
decision; the relay publishes them afterwards, in the order written, and deletes them once the
broker acknowledged them. A crash between commit and publish leaves the rows for the next relay
(on any replica: rows are claimed for a lease, never inside an open transaction over the
network). An event may then be published twice, always with the same id, which every consumer
on the platform applies once.

A row keeps the event's value as it is published (`codec.encode` of its envelope, stored as
`json`, which keeps the bytes): the relay sends it as it is, with the binding's headers read from
it, and never validates or encodes it again.

A channel request is written without its contact point: the relay opens the customer's sealed
contact points (the data key is asked for outside any transaction), takes the first, seals it as
the request's field and publishes the request, then `OutreachDispatched`. When the customer's key
is gone (erased since the decision) or no contact point is left, it publishes
`OutreachCancelled` (`no_contact_point`) instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid5

import asyncpg
import orjson
from pydantic import ValidationError

from campaigns import decision_metrics
from campaigns.config import SERVICE
from dialog_schemas import Envelope, Event
from dialog_schemas.campaigns import CancellationReason, OutreachCancelled, OutreachDispatched
from dialog_schemas.catalog import CAMPAIGNS_EVENTS
from dialog_schemas.common import Channel
from dialogkit.codec import encode
from dialogkit.emitter import Emitter, Trace
from dialogkit.pii import (
    PREFIX,
    DataKey,
    KeyDestroyed,
    KeyServiceUnavailable,
    KeyStore,
    decrypt,
    encrypt,
    event_class,
)
from dialogkit.publishing import Encoded, EventPublisher, encoded, publish_encoded
from dialogkit.tracing import current_traceparent

log = logging.getLogger(__name__)
NAMESPACE = UUID("0b8e3c52-7d7f-4c1e-9a55-2f1d6a9e4b10")
WORKER = Emitter(SERVICE, "worker")
LEASE_S = 30
Row = tuple[int, str, bytes | Envelope, Any]
"""seq, topic, the event's encoded value (or its envelope), contact point to seal (requests)."""


def event_id(outreach_id: UUID, what: str) -> UUID:
    """An outreach event's id, the same however often it is decided or published."""
    return uuid5(NAMESPACE, f"{outreach_id}/{what}")


def outreach_envelope(
    event: Event,
    customer: str,
    outreach_id: UUID,
    what: str,
    traceparent: str | Trace | None = Trace.CURRENT,
) -> Envelope:
    """The envelope of an event about one outreach; its conversation is the outreach. A round
    that makes many passes the `traceparent` it read once (`current_traceparent`)."""
    return WORKER.new(
        event,
        id=event_id(outreach_id, what),
        subject=customer,
        time=datetime.now(UTC),
        conversation=outreach_id,
        traceparent=traceparent,
    )


def event_row(topic: str, envelope: Envelope) -> tuple[Any, ...]:
    return (topic, encode(envelope).decode(), None)


def request_row(
    topic: str, envelope: Envelope, field: str, value: Any, path: str
) -> tuple[Any, ...]:
    """A request whose contact point (`path`) is the first of the customer's `field`."""
    contact = {"field": field, "value": value, "path": path}
    return (topic, encode(envelope).decode(), orjson.dumps(contact).decode())


async def write(connection: asyncpg.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Add rows made by `event_row` / `request_row`, in this order, to the outbox."""
    if rows:  # COPY keeps the order of the rows, so `seq` follows it
        await connection.copy_records_to_table(
            "outbox", records=rows, columns=["topic", "envelope", "contact"]
        )


class OutboxRelay:
    """Publishes the outbox in order; safe on several replicas at once."""

    def __init__(self, keys: KeyStore, *, batch: int = 2000, parallel: int = 16) -> None:
        self._keys = keys
        self._batch = batch
        self._parallel = parallel

    async def flush(self, pool: asyncpg.Pool, publisher: EventPublisher) -> int:
        """Publish everything in the outbox now; the number of rows published."""
        total = 0
        while rows := await self._claim(pool):
            kept = await self.publish(rows, publisher)
            published = [r[0] for r in rows if r[0] not in kept]
            await pool.execute("DELETE FROM outbox WHERE seq = ANY($1::bigint[])", published)
            total += len(published)
        return total

    async def _claim(self, pool: asyncpg.Pool) -> list[Row]:
        records = await pool.fetch(
            "UPDATE outbox SET claimed_until = now() + make_interval(secs => $2)"
            " WHERE seq IN (SELECT seq FROM outbox WHERE claimed_until IS NULL"
            " OR claimed_until < now() ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED)"
            " RETURNING seq, topic, envelope, contact",
            self._batch,
            LEASE_S,
        )
        rows = [
            (
                r["seq"],
                r["topic"],
                r["envelope"].encode(),
                orjson.loads(r["contact"]) if r["contact"] else None,
            )
            for r in records
        ]
        return sorted(rows, key=lambda r: r[0])

    async def publish(self, rows: Sequence[Row], publisher: EventPublisher) -> set[int]:
        """Publish runs of rows of one topic in order; after a run of requests, the
        `OutreachDispatched` (or `OutreachCancelled`) of each. Returns the rows kept: requests
        whose data key could not be asked for (the key service is down); they stay in the
        outbox and are tried again once their lease ends, after their decision, which went."""
        values = [
            (seq, topic, v, contact, orjson.loads(v) if contact is not None else None)
            for seq, topic, v, contact in ((s, t, _value(v), c) for s, t, v, c in rows)
        ]
        keys = await self._keys_of({r["subject"] for *_, r in values if r is not None})
        traceparent = current_traceparent()
        kept: set[int] = set()
        outcomes: list[tuple[Envelope, str]] = []
        run_topic, run, after = "", list[Encoded](), list[Envelope]()
        for seq, topic, value, contact, request in values:
            if topic != run_topic:
                await _send(publisher, run_topic, run, after)
                run_topic, run, after = topic, [], []
            if request is None:
                run.append(encoded(value))
                continue
            key = keys.get(request["subject"])
            if isinstance(key, KeyServiceUnavailable):
                kept.add(seq)
                continue
            sealed = _sealed_request(key, request, contact)
            if sealed is None:
                after.append(cancelled(request, channel_of(topic), traceparent))
            else:
                run.append(encoded(orjson.dumps(sealed)))
                after.append(dispatched(request, topic, traceparent))
            outcomes.append((after[-1], request["data"]["purpose"]))
        await _send(publisher, run_topic, run, after)
        decision_metrics.relayed(outcomes)
        if kept:
            log.warning("requests kept until the key service answers", extra={"rows": len(kept)})
        return kept

    async def _keys_of(
        self, customers: set[str]
    ) -> dict[str, DataKey | KeyServiceUnavailable | None]:
        """The customers' data keys (None once erased), asked for in one go; where the key
        service does not answer that, asked for one by one, `parallel` at a time, so that only
        the customers whose key could not be had wait (the error in their place)."""
        try:
            return dict(await self._keys.keys_for(sorted(customers)))
        except KeyServiceUnavailable:
            pass
        gate = asyncio.Semaphore(self._parallel)

        async def ask(customer: str) -> tuple[str, DataKey | KeyServiceUnavailable | None]:
            async with gate:
                try:
                    return customer, await self._keys.key_for(customer)
                except KeyServiceUnavailable as error:
                    return customer, error

        return dict(await asyncio.gather(*(ask(c) for c in sorted(customers))))


def _value(value: bytes | Envelope) -> bytes:
    return encode(value) if isinstance(value, Envelope) else value


def _sealed_request(
    key: DataKey | None, request: dict[str, Any], contact: dict[str, Any]
) -> dict[str, Any] | None:
    """The request (its encoded envelope, parsed) with its first contact point sealed; None
    without a key or contact point."""
    if key is None:
        return None
    customer, value = request["subject"], contact["value"]
    try:
        points = decrypt(key, customer, contact["field"], value) if _sealed(value) else value
    except (KeyDestroyed, ValueError):
        return None
    if not points:
        return None
    kind = event_class(request["type"])
    try:
        kind.model_validate({**request["data"], contact["path"]: points[0]})
    except ValidationError:
        log.warning("contact point not usable", extra={"outreach": request["correlationid"]})
        return None
    data = {**request["data"], contact["path"]: encrypt(key, customer, contact["path"], points[0])}
    return {**request, "data": data}


def _sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def channel_of(topic: str) -> Channel:
    return Channel(topic.split(".")[2])


def dispatched(request: dict[str, Any], topic: str, traceparent: str | None) -> Envelope:
    """`OutreachDispatched` for a request (its parsed envelope) handed to its channel's topic."""
    outreach_id = UUID(request["data"]["outreach_id"])
    event = OutreachDispatched(
        outreach_id=outreach_id,
        campaign_id=request["data"]["campaign_id"],
        channel=channel_of(topic),
        dispatched_at=datetime.now(UTC),
    )
    return outreach_envelope(event, request["subject"], outreach_id, "dispatched", traceparent)


async def _send(
    publisher: EventPublisher, topic: str, run: list[Encoded], after: list[Envelope]
) -> None:
    if run:
        await publish_encoded(publisher, topic, run)
    if after:
        outcomes = [encoded(encode(e)) for e in after]
        await publish_encoded(publisher, CAMPAIGNS_EVENTS.name, outcomes)


def cancelled(request: dict[str, Any], channel: Channel, traceparent: str | None) -> Envelope:
    """`OutreachCancelled` (no contact point) for a request that cannot be sealed."""
    outreach_id = UUID(request["data"]["outreach_id"])
    event = OutreachCancelled(
        outreach_id=outreach_id,
        campaign_id=request["data"]["campaign_id"],
        channel=channel,
        cancelled_at=datetime.now(UTC),
        reason=CancellationReason.NO_CONTACT_POINT,
    )
    return outreach_envelope(event, request["subject"], outreach_id, "cancelled", traceparent)
