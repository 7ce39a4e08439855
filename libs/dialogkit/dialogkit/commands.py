"""The one command path: a service registers its commands in a table; `execute` does the rest.

A service declares, per command type, a `Handler`: how to load the state the command decides
on, the pure decision, and how the ids of its events derive. `execute` then, the same for
every service:

1. with an Idempotency-Key (or the command's natural key), claims the key: a retry repeats the
   first answer, the same key with another request is 422, one still running is 409;
2. loads the state and decides (decisions raise `RuleViolation`, `Conflict`, `NotFound`);
3. wraps the events (`Emitter`: source and trace derived), seals their personal fields and
   publishes them;
4. runs the handler's `after` step, if any (effects that must follow the published event);
5. where the handler asks (`wait=True`), waits up to `command_wait_s` until the table's
   read model has applied the events (`applied` tells whether it has);
6. records the answer under the key.

If a step fails, the claim is released and the error propagates; a retry runs the command
again with the same derived ids, so events already published are applied once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Protocol
from uuid import UUID, uuid5

from pydantic import TypeAdapter
from typing_extensions import TypeVar

from dialog_schemas import Event
from dialog_schemas.catalog import TopicContract
from dialogkit.applied import AppliedPositions, wait_applied
from dialogkit.config import ServiceSettings
from dialogkit.emitter import Emitter
from dialogkit.erasures import ErasedContactPoints
from dialogkit.idempotency import IdempotencyStore, Recorded, fingerprint
from dialogkit.pii import PersonalDataCipher
from dialogkit.problems import Problem
from dialogkit.publishing import EventPublisher

S = TypeVar("S", bound=ServiceSettings, default=ServiceSettings)
S_co = TypeVar("S_co", bound=ServiceSettings, default=ServiceSettings, covariant=True)
C = TypeVar("C", default=Any)
St = TypeVar("St", default=Any)


@dataclass(frozen=True)
class Ids:
    """The ids of one command's events and entities; the same command yields the same ids.

    `numbered`: event i is `uuid5(namespace, f"{root}/event-{i}")`; `chained`: the first event
    is `first`, each consequence `uuid5(first, its type)`. Named ids (a new consent's id) are
    `uuid5` of the root and the name."""

    namespace: UUID
    root: str
    first: UUID | None = None

    @classmethod
    def numbered(cls, namespace: UUID, root: str) -> Ids:
        return cls(namespace, root)

    @classmethod
    def chained(cls, first: UUID) -> Ids:
        return cls(first, "", first)

    def __call__(self, name: str) -> UUID:
        if self.first is not None:
            return uuid5(self.first, name)
        return uuid5(self.namespace, f"{self.root}/{name}")

    def events(self, events: Sequence[Event]) -> list[UUID]:
        if self.first is not None:
            return [self.first, *(uuid5(self.first, e.event_type) for e in events[1:])]
        return [self(f"event-{i}") for i in range(len(events))]


@dataclass(frozen=True)
class Context(Generic[S]):
    """What a decision knows besides state and command: subject, time, its ids, settings."""

    subject: str
    now: datetime
    ids: Ids
    settings: S


class Ports(Protocol[S_co]):
    """What `execute` needs; `ApiRuntime` provides it, fakes in unit tests."""

    @property
    def settings(self) -> S_co: ...
    @property
    def pool(self) -> Any: ...
    @property
    def publisher(self) -> EventPublisher: ...
    @property
    def cipher(self) -> PersonalDataCipher: ...
    @property
    def idempotency(self) -> IdempotencyStore: ...
    @property
    def applied(self) -> AppliedPositions: ...
    @property
    def emitter(self) -> Emitter: ...
    @property
    def erased_contact_points(self) -> ErasedContactPoints | None: ...


def _no_answer(state: Any, command: Any, context: Context[Any]) -> Mapping[str, Any]:
    return {}


@dataclass(frozen=True)
class Handler(Generic[C, St, S]):
    """How one command type is handled; registered in the service's `CommandTable`."""

    load: Callable[[Ports[S], str, C], Awaitable[St]]
    """The state the command decides on, for (ports, subject, command); may raise NotFound."""
    decide: Callable[[St, C, Context[S]], Sequence[Event]]
    """The pure decision: the events, or a RuleViolation / Conflict / NotFound."""
    ids: Callable[[str, C, str | None], Ids]
    """The ids, from (subject, command, idempotency key)."""
    answer: Callable[[St, C, Context[S]], Mapping[str, Any]] = _no_answer
    """Fields the answer carries besides event ids (JSON-ready; repeated on a retry)."""
    natural_key: Callable[[C], str] | None = None
    """Makes the command idempotent without an Idempotency-Key (a merge of one pair)."""
    wait: bool = False
    """Wait until the read model has applied the events (`command_wait_s`)."""
    after: Callable[[Ports[S], str, St], Awaitable[None]] | None = None
    """What must happen once the events are on the topic (erasure destroys keys)."""


@dataclass(frozen=True)
class CommandTable(Generic[S]):
    """A service's commands: where their events go, which read model confirms them, handlers."""

    topic: TopicContract
    confirmed_by: str
    """The projection whose position tells that a command's events are applied."""
    handlers: Mapping[type[Any], Handler[Any, Any, S]] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What a command did: its events, whether the read model shows them, and its answer."""

    event_ids: list[UUID]
    applied: bool
    waited: bool
    answer: Mapping[str, Any]
    replayed: bool = False

    @property
    def pending(self) -> bool:
        """The command waited for its events and they are not applied yet (HTTP 202)."""
        return self.waited and not self.applied


def request_print(command_type: str, subject: str, command: Any) -> str:
    """The fingerprint of a request: command type, subject and the command's every field."""
    body = TypeAdapter(type(command)).dump_python(command, mode="json")
    return fingerprint([command_type, subject, body])


async def execute(
    ports: Ports[S], table: CommandTable[S], subject: str, command: Any, key: str | None = None
) -> Outcome:
    """Run one command through the path above; `key` is the client's Idempotency-Key."""
    handler = table.handlers[type(command)]
    name = type(command).__name__
    key = key or (handler.natural_key(command) if handler.natural_key else None)
    if key is not None:
        earlier = await ports.idempotency.claim(
            name, subject, key, request_print(name, subject, command)
        )
        if earlier is not None:
            return _repeat(name, subject, command, key, earlier, handler.wait)
    try:
        outcome = await _run(ports, table, handler, subject, command, key)
    except BaseException:
        if key is not None:
            await ports.idempotency.release(name, subject, key)
        raise
    if key is not None:
        answer = {"applied": outcome.applied, "answer": dict(outcome.answer)}
        await ports.idempotency.complete(name, subject, key, outcome.event_ids, answer)
    return outcome


async def _run(
    ports: Ports[S],
    table: CommandTable[S],
    handler: Handler[Any, Any, S],
    subject: str,
    command: Any,
    key: str | None,
) -> Outcome:
    state = await handler.load(ports, subject, command)
    now = datetime.now(UTC)
    context = Context(subject, now, handler.ids(subject, command, key), ports.settings)
    events = handler.decide(state, command, context)
    envelopes = ports.emitter.all_new(events, context.ids.events(events), subject=subject, time=now)
    envelopes = await ports.cipher.seal_envelopes(envelopes)
    positions = await ports.publisher.publish(table.topic.name, envelopes)
    if handler.after is not None:
        await handler.after(ports, subject, state)
    applied = handler.wait and await wait_applied(
        ports.applied, table.confirmed_by, positions, ports.settings.command_wait_s
    )
    answer = handler.answer(state, command, context)
    return Outcome([e.id for e in envelopes], applied, handler.wait, answer)


def _repeat(
    name: str, subject: str, command: Any, key: str, earlier: Recorded, waited: bool
) -> Outcome:
    """The first answer again, if the request is the one the key was first used with."""
    if earlier.fingerprint != request_print(name, subject, command):
        raise Problem(
            422,
            "Idempotency key reused",
            f"the key {key!r} was used with another request; use a new key for a new request",
            field="Idempotency-Key",
        )
    if earlier.answer is None or earlier.event_ids is None:
        raise Problem(
            409, "Request in progress", f"a request with the key {key!r} is still running"
        )
    recorded = earlier.answer
    return Outcome(earlier.event_ids, recorded["applied"], waited, recorded["answer"], True)
