"""Ingress: records other systems write become canonical events, or dead letters with a reason.

Validation is strict: the envelope, the event type, the schema version and every field must
match the ingress contract, and unknown fields are rejected (on platform topics consumers are
tolerant instead). A record the service's rules refuse is rejected the same way. Canonical
events get ids derived from the business key, so a record read twice, after a crash or a
producer's retry, yields the same event, which every projection applies once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, Generic, Protocol

from pydantic import ValidationError
from typing_extensions import TypeVar

from dialog_schemas import Envelope
from dialog_schemas.catalog import TopicContract
from dialogkit import metrics
from dialogkit.codec import DecodeError, validation_detail
from dialogkit.config import ServiceSettings
from dialogkit.deadletters import DeadLetters
from dialogkit.keys import KeyDestroyed, KeyStore
from dialogkit.pii import PersonalDataCipher
from dialogkit.projection import BatchOutcome, Decoded, decode
from dialogkit.publishing import EventPublisher
from dialogkit.records import SourceRecord
from dialogkit.retry import retry_transient
from dialogkit.rules import RuleViolation
from dialogkit.tracing import batch_span

INGRESS_RECORDS_TOTAL = "dialog_ingress_records_total"
S = TypeVar("S", bound=ServiceSettings, default=ServiceSettings)
S_co = TypeVar("S_co", bound=ServiceSettings, default=ServiceSettings, covariant=True)
S_contra = TypeVar("S_contra", bound=ServiceSettings, default=ServiceSettings, contravariant=True)


@dataclass(frozen=True)
class IngressContext(Generic[S_co]):
    """What a route may consult while translating: the service's database and its own settings
    (`IngressContext[Settings]` in a route that reads them)."""

    db: Any
    settings: S_co


class IngressRoute(Protocol[S_contra]):
    """A service's ingress topic; `IngressRoute[Settings]` when it reads the service's settings."""

    name: str
    source: TopicContract
    target: TopicContract

    async def translate(
        self, incoming: Decoded, now: datetime, context: IngressContext[S_contra]
    ) -> Sequence[Envelope]:
        """The canonical events for one valid record, each built by the service's ingress
        `Emitter` as caused by the record; a `RuleViolation` rejects it."""


class Rejected(DecodeError):
    """A valid record the service's rules refuse; says which field and why."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__("rejected", [{"field": field, "problem": problem, "kind": "rule"}])


@contextmanager
def _refusals(
    record: SourceRecord, rejected: list[tuple[SourceRecord, DecodeError]]
) -> Iterator[None]:
    """Turn what refuses one record into its dead-letter reason; the batch goes on."""
    try:
        yield
    except DecodeError as refused:
        rejected.append((record, refused))
    except RuleViolation as violation:
        rejected.append((record, Rejected(violation.field, violation.problem)))
    except ValidationError as invalid:  # what the record says breaks a canonical event
        rejected.append((record, DecodeError("invalid_data", validation_detail(invalid))))
    except KeyDestroyed as erased:  # dead-lettered without its value: no fresh copy
        rejected.append((replace(record, value=None), Rejected("subject", str(erased))))


class IngressProcessor(Generic[S]):
    """Validates a batch of ingress records and publishes what they become."""

    def __init__(
        self,
        route: IngressRoute[S],
        publisher: EventPublisher,
        dead_letters: DeadLetters,
        keys: KeyStore | None = None,
        *,
        context: IngressContext[S],
    ) -> None:
        """`context` is what the route's `translate` may read: the service's pool and settings."""
        self._route = route
        self._context = context
        self._publisher = publisher
        self._dead_letters = dead_letters
        self._cipher = PersonalDataCipher(keys) if keys is not None else None

    async def handle(self, records: Sequence[SourceRecord]) -> BatchOutcome:
        """Publish the canonical events of the valid records, dead-letter the others."""
        with batch_span(f"ingress {self._route.name}", records):  # continues the records' trace
            return await self._handle(records)

    async def _handle(self, records: Sequence[SourceRecord]) -> BatchOutcome:
        now = datetime.now(UTC)
        rejected: list[tuple[SourceRecord, DecodeError]] = []
        translated: list[tuple[SourceRecord, Sequence[Envelope]]] = []
        for record in records:
            with _refusals(record, rejected):
                incoming = decode(record, self._route.source, strict=True)
                translated.append(
                    (record, await self._route.translate(incoming, now, self._context))
                )
        canonical: list[Envelope] = []
        cipher = self._cipher.batch() if self._cipher is not None else None
        if cipher is not None:  # the batch's keys asked for at once, not one record at a time
            batch = [e for _, some in translated for e in some]
            await retry_transient(
                lambda: cipher.warm_for_sealing(batch), what=f"ingress {self._route.name} keys"
            )
        for record, envelopes in translated:
            with _refusals(record, rejected):
                canonical += await self._sealed(cipher, envelopes)
        what = f"ingress {self._route.name}"
        target = self._route.target.name
        await retry_transient(lambda: self._publisher.publish(target, canonical), what=what)
        for record, reason in rejected:
            await retry_transient(partial(self._dead_letters.send, record, reason), what=what)
        topic = self._route.source.name
        accepted = len(records) - len(rejected)
        metrics.increment(INGRESS_RECORDS_TOTAL, accepted, topic=topic, outcome="accepted")
        metrics.increment(INGRESS_RECORDS_TOTAL, len(rejected), topic=topic, outcome="rejected")
        return BatchOutcome(accepted, len(rejected), 0)

    async def _sealed(
        self, cipher: PersonalDataCipher | None, envelopes: Sequence[Envelope]
    ) -> Sequence[Envelope]:
        """Personal fields sealed with the subject's data key, where this route has keys."""
        if cipher is None:
            return envelopes
        return await retry_transient(
            lambda: cipher.seal_envelopes(envelopes), what=f"ingress {self._route.name} keys"
        )
