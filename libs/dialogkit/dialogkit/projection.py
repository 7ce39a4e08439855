"""Projections: read-model changes and consumed positions committed in one transaction."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, Protocol

import asyncpg
from opentelemetry.trace import SpanContext
from typing_extensions import TypeVar

from dialog_schemas import Envelope, Event
from dialog_schemas.catalog import TopicContract
from dialogkit import metrics
from dialogkit.codec import DecodeError, decode_envelope, decode_event
from dialogkit.deadletters import DeadLetters
from dialogkit.ledger import LedgerVerifier
from dialogkit.lifecycle import apply_batch
from dialogkit.logs import handling_event
from dialogkit.merges import events_of
from dialogkit.records import SourceRecord
from dialogkit.retry import retry_transient
from dialogkit.tracing import linked_span, record_context

log = logging.getLogger(__name__)
PROJECTION_DEAD_LETTERS_TOTAL = "dialog_projection_dead_letters_total"
"""Records a projection could not apply, by projection and reason: the read model lacks them."""


E = TypeVar("E", bound=Event, default=Event, covariant=True)
K = TypeVar("K", bound=Event)


@dataclass(frozen=True, slots=True)
class Decoded(Generic[E]):
    """A record and the event it carries; `Decoded[X]` when the event is known to be an X."""

    envelope: Envelope
    event: E
    record: SourceRecord
    trace: SpanContext | None = None
    """The span context the record carries (`dialogkit.tracing.record_context`), read once
    for every projection that applies the record."""


def of_type(events: Iterable[Decoded], kind: type[K]) -> list[Decoded[K]]:
    """The events of a batch that are `kind` (or a subclass), typed as such, in batch order."""
    return events_of(events, kind)


class Projection(Protocol):
    """A read model of one topic.

    One that keeps customer-keyed rows also has `customer_tables` (its service's
    `CustomerTables`) and may have `after_merges`: the runner then records merges and re-keys
    those tables around `apply` (see `dialogkit.lifecycle`)."""

    name: str
    source: TopicContract

    async def apply(self, connection: asyncpg.Connection, events: Sequence[Decoded]) -> None:
        """Change the read model for these events; must be idempotent by event id."""


@dataclass(frozen=True)
class BatchOutcome:
    applied: int
    dead_lettered: int
    skipped: int

    def __add__(self, other: BatchOutcome) -> BatchOutcome:
        return BatchOutcome(
            self.applied + other.applied,
            self.dead_lettered + other.dead_lettered,
            self.skipped + other.skipped,
        )


def decode(record: SourceRecord, source: TopicContract, *, strict: bool = False) -> Decoded:
    """A record as the typed event it carries, or DecodeError saying what is wrong."""
    envelope = decode_envelope(record.value, record.headers)
    event = decode_event(envelope, source.events, strict=strict)
    return Decoded(envelope, event, record, record_context(record))


@dataclass(frozen=True, slots=True)
class Undecodable:
    record: SourceRecord
    error: DecodeError
    trace: SpanContext | None = None


Item = Decoded | Undecodable


def decode_all(
    records: Sequence[SourceRecord],
    source: TopicContract,
    verifier: LedgerVerifier | None = None,
) -> list[Item]:
    """Each record decoded once, before any transaction; what cannot be decoded says why.

    A record of a signed topic (`source.signed_by`) whose signature `verifier` refuses is
    undecodable with reason `bad_signature`. The cyclic garbage collector waits until the batch
    is decoded (`collector_paused`)."""
    items: list[Item] = []
    with collector_paused():
        for record in records:
            try:
                if verifier is not None and source.signed_by:
                    verifier.check(record)
                items.append(decode(record, source))
            except DecodeError as error:
                items.append(Undecodable(record, error, record_context(record)))
    return items


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a synchronous step, then as it was before.

    Decoding a batch allocates some ten container objects per record, all of them kept (the
    batch is applied next), so the collector ran dozens of times per batch and, every hundred
    runs, walked the whole heap of the process: about 40 % of the decoding time. Those objects
    form no reference cycles, and no other code runs during the step (it does not await), so
    nothing is kept alive longer; the collector's count still includes them, and it runs once
    the step is over."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class ProjectionRunner:
    """Feeds batches of records to a projection exactly once in effect.

    Records are decoded before the transaction opens, and a projection with a `prepare(events)`
    coroutine (fetching data keys, say) gets it called there too, so no network call waits
    inside an open transaction. Merged customers' rows are moved in the batch's transaction for
    a projection that declares `customer_tables` (`dialogkit.lifecycle.apply_batch`).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        projection: Projection,
        dead_letters: DeadLetters,
        verifier: LedgerVerifier | None = None,
    ):
        """`verifier` checks the signature of each record of a signed topic (`signed_by`); the
        worker and the rebuild always pass one, so a forged record is a dead letter."""
        self._pool = pool
        self._projection = projection
        self._dead_letters = dead_letters
        self._verifier = verifier if projection.source.signed_by else None

    async def handle(self, records: Sequence[SourceRecord]) -> BatchOutcome:
        """Decode and apply a batch (see `handle_decoded`)."""
        items = decode_all(records, self._projection.source, self._verifier)
        return await self.handle_decoded(items)

    async def handle_decoded(self, items: Sequence[Item]) -> BatchOutcome:
        """Apply a decoded batch, waiting out database outages and isolating records the model
        rejects.

        A record the projection itself fails on (a constraint it breaks, say) is found by halving
        the batch and goes to the dead-letter topic with reason `projection_failed`; everything
        else in the batch is applied.
        """
        try:
            with linked_span(f"projection {self._projection.name}", [i.trace for i in items]):
                return await retry_transient(
                    lambda: self._apply(items), what=f"projection {self._projection.name}"
                )
        except Exception as error:
            if len(items) == 1:
                return await self._reject(items[0].record, error)
            middle = len(items) // 2
            first = await self.handle_decoded(items[:middle])
            return first + await self.handle_decoded(items[middle:])

    async def _reject(self, record: SourceRecord, error: Exception) -> BatchOutcome:
        name = self._projection.name
        async with self._pool.acquire() as connection, connection.transaction():
            positions = await _claim_positions(connection, name, [record])
            if record.offset < positions.get((record.topic, record.partition), 0):
                return BatchOutcome(0, 0, 1)
            await self._dead_letters.send(record, DecodeError("projection_failed", repr(error)))
        with handling_event(dict(record.headers).get("ce_id", b"").decode(errors="replace")):
            log.warning(
                "a record the projection could not apply went to the dead-letter topic",
                extra={
                    "projection": name,
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                    "error": type(error).__name__,
                },
            )
        metrics.increment(
            PROJECTION_DEAD_LETTERS_TOTAL, projection=name, reason="projection_failed"
        )
        return BatchOutcome(0, 1, 0)

    async def _apply(self, items: Sequence[Item]) -> BatchOutcome:
        name = self._projection.name
        prepare = getattr(self._projection, "prepare", None)
        if prepare is not None:
            await prepare([i for i in items if isinstance(i, Decoded)])
        records = [i.record for i in items]
        async with self._pool.acquire() as connection, connection.transaction():
            positions = await _claim_positions(connection, name, records)
            fresh = [i for i in items if i.record.offset >= positions.get(_partition(i.record), 0)]
            decoded = [i for i in fresh if isinstance(i, Decoded)]
            rejected = [i for i in fresh if isinstance(i, Undecodable)]
            for item in rejected:
                await self._dead_letters.send(item.record, item.error)
            if decoded:
                await apply_batch(connection, self._projection, decoded)
        for item in rejected:  # counted once the transaction that sent them committed
            reason = item.error.reason
            metrics.increment(PROJECTION_DEAD_LETTERS_TOTAL, projection=name, reason=reason)
        if decoded:
            metrics.applied_event(name, max(d.envelope.time for d in decoded).timestamp())
        return BatchOutcome(len(decoded), len(rejected), len(items) - len(fresh))


def _partition(record: SourceRecord) -> tuple[str, int]:
    return (record.topic, record.partition)


CLAIM_POSITIONS = (
    "INSERT INTO projection_positions AS p (projection, topic, partition, next_offset)"
    " SELECT $1, t, n, e FROM unnest($2::text[], $3::int[], $4::bigint[]) AS u (t, n, e)"
    " ORDER BY t, n"
    " ON CONFLICT (projection, topic, partition) DO UPDATE"
    " SET next_offset = GREATEST(p.next_offset, excluded.next_offset),"
    " updated_at = CASE WHEN excluded.next_offset > p.next_offset THEN now() ELSE p.updated_at END"
    " RETURNING p.topic, p.partition, old.next_offset AS previous"
)
"""Moves each partition's position past the batch and returns where it stood before, locking
the rows (in a fixed order, so two runners of a projection cannot deadlock) until the batch's
transaction ends: one statement for what was an insert, a select for update and an update.
`old` in RETURNING needs PostgreSQL 18, the platform's version."""


async def _claim_positions(
    connection: asyncpg.Connection, projection: str, records: Sequence[SourceRecord]
) -> dict[tuple[str, int], int]:
    """The positions before the batch, per (topic, partition), once the transaction has moved
    them past it. The rest of the transaction decides which records are fresh; since it commits
    or rolls back as a whole, the position is written with the changes it covers."""
    ends: dict[tuple[str, int], int] = {}
    for r in records:
        key = (r.topic, r.partition)
        ends[key] = max(ends.get(key, 0), r.offset + 1)
    if not ends:
        return {}
    rows = await connection.fetch(
        CLAIM_POSITIONS,
        projection,
        [t for t, _ in ends],
        [p for _, p in ends],
        list(ends.values()),
    )
    return {(r["topic"], r["partition"]): r["previous"] or 0 for r in rows}


async def stored_positions(pool: asyncpg.Pool, projection: str) -> dict[tuple[str, int], int]:
    """The next offset to read per (topic, partition) for a projection."""
    rows = await pool.fetch(
        "SELECT topic, partition, next_offset FROM projection_positions WHERE projection = $1",
        projection,
    )
    return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}
