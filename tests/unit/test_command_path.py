"""The shared command path with fakes behind its ports: keys, ids, publishing, waiting."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from pydantic import BaseModel

from dialog_schemas import Event
from dialog_schemas.catalog import INTERACTIONS_EVENTS
from dialog_schemas.common import Channel
from dialog_schemas.interactions import OptOutReceived
from dialogkit.applied import InMemoryAppliedPositions
from dialogkit.commands import (
    CommandTable,
    Context,
    Handler,
    Ids,
    Outcome,
    execute,
    request_print,
)
from dialogkit.config import ServiceSettings
from dialogkit.emitter import Emitter
from dialogkit.idempotency import InMemoryIdempotencyStore
from dialogkit.keys import InMemoryKeyStore
from dialogkit.pii import PersonalDataCipher
from dialogkit.problems import Problem
from dialogkit.publishing import FakePublisher, Position
from dialogkit.rules import Conflict

NAMESPACE = UUID("0b5e0c1e-4a8b-4f77-9d53-5d0f3f3f9a10")
TOPIC = INTERACTIONS_EVENTS.name


class OptOut(BaseModel):
    touchpoint_id: str
    channel: Channel


@dataclass
class FakePorts:
    settings: ServiceSettings = field(default_factory=lambda: ServiceSettings(command_wait_s=0))
    pool: Any = None
    publisher: FakePublisher = field(default_factory=FakePublisher)
    idempotency: InMemoryIdempotencyStore = field(default_factory=InMemoryIdempotencyStore)
    applied: InMemoryAppliedPositions = field(default_factory=InMemoryAppliedPositions)
    keys: InMemoryKeyStore = field(default_factory=InMemoryKeyStore)
    emitter: Emitter = field(default_factory=lambda: Emitter("interactions", "api"))
    erased_contact_points: Any = None
    known: dict[str, int] = field(default_factory=dict)
    """The fake store: how many opt-outs each customer has."""
    after_calls: list[str] = field(default_factory=list)
    fail_after: bool = False

    @property
    def cipher(self) -> PersonalDataCipher:
        return PersonalDataCipher(self.keys)

    def published(self) -> list[Any]:
        return self.publisher.sent.get(TOPIC, [])


async def load(ports: FakePorts, subject: str, command: OptOut) -> int:
    return ports.known.get(subject, 0)


def decide(state: int, command: OptOut, context: Context[Any]) -> Sequence[Event]:
    if command.touchpoint_id == "refused":
        raise Conflict("refused")
    return [
        OptOutReceived(
            touchpoint_id=command.touchpoint_id, channel=command.channel, received_at=context.now
        )
    ]


def table(**options: Any) -> CommandTable[Any]:
    handler: Handler[Any, Any, Any] = Handler(
        load=load,
        decide=decide,
        ids=lambda subject, command, key: Ids.numbered(NAMESPACE, f"{subject}/{key or uuid4()}"),
        answer=lambda state, command, context: {"known_before": state},
        **options,
    )
    return CommandTable(INTERACTIONS_EVENTS, "interactions.timeline", {OptOut: handler})


async def run(ports: FakePorts, command: OptOut, key: str | None = None, **options: Any) -> Outcome:
    return await execute(ports, table(**options), "c-1", command, key)  # type: ignore[arg-type]


CALL = OptOut(touchpoint_id="call-1", channel=Channel.PHONE)


async def test_a_command_publishes_its_events_wrapped_with_derived_ids_and_source() -> None:
    ports = FakePorts(known={"c-1": 2})
    outcome = await run(ports, CALL, "k-1")
    [envelope] = ports.published()
    assert outcome.event_ids == [Ids.numbered(NAMESPACE, "c-1/k-1")("event-0")] == [envelope.id]
    assert (envelope.source, envelope.subject, envelope.type) == (
        "/interactions/api",
        "c-1",
        "OptOutReceived",
    )
    assert envelope.correlationid == envelope.id
    assert envelope.causationid is None
    assert (outcome.answer, outcome.replayed, outcome.waited) == ({"known_before": 2}, False, False)


async def test_a_retry_with_the_same_key_repeats_the_first_answer_and_publishes_nothing() -> None:
    ports = FakePorts()
    first = await run(ports, CALL, "k-1")
    ports.known["c-1"] = 5
    again = await run(ports, CALL, "k-1")
    assert (again.event_ids, again.answer, again.replayed) == (first.event_ids, first.answer, True)
    assert len(ports.published()) == 1


async def test_the_same_key_with_another_request_is_refused_with_422() -> None:
    ports = FakePorts()
    await run(ports, CALL, "k-1")
    with pytest.raises(Problem) as refused:
        await run(ports, CALL.model_copy(update={"channel": Channel.EMAIL}), "k-1")
    assert (refused.value.status, refused.value.extensions["field"]) == (422, "Idempotency-Key")
    assert len(ports.published()) == 1


async def test_a_key_whose_first_request_still_runs_is_409() -> None:
    ports = FakePorts()
    await ports.idempotency.claim("OptOut", "c-1", "k-1", request_print("OptOut", "c-1", CALL))
    with pytest.raises(Problem) as busy:
        await run(ports, CALL, "k-1")
    assert busy.value.status == 409
    assert ports.published() == []


async def test_a_refused_command_publishes_nothing_and_frees_its_key() -> None:
    ports = FakePorts()
    refused = OptOut(touchpoint_id="refused", channel=Channel.PHONE)
    with pytest.raises(Conflict):
        await run(ports, refused, "k-1")
    assert ports.published() == []
    assert await ports.idempotency.claim("OptOut", "c-1", "k-1", "other") is None


async def test_without_a_key_each_request_runs_unless_the_command_has_a_natural_key() -> None:
    ports = FakePorts()
    await run(ports, CALL)
    await run(ports, CALL)
    assert len({e.id for e in ports.published()}) == 2
    natural = FakePorts()
    first = await run(natural, CALL, natural_key=lambda c: f"opt-out/{c.touchpoint_id}")
    again = await run(natural, CALL, natural_key=lambda c: f"opt-out/{c.touchpoint_id}")
    assert (again.replayed, again.event_ids) == (True, first.event_ids)
    assert len(natural.published()) == 1


async def test_a_waiting_command_is_applied_once_the_read_model_passed_its_events() -> None:
    ports = FakePorts()
    ports.applied.advance("interactions.timeline", Position(TOPIC, 0, 0))
    applied = await run(ports, CALL, "k-1", wait=True)
    assert (applied.applied, applied.pending) == (True, False)
    behind = await run(ports, CALL, "k-2", wait=True)
    assert (behind.applied, behind.pending) == (False, True), "answered 202 after the wait"
    assert (await run(ports, CALL, "k-2", wait=True)).pending, "the retry repeats it"


async def test_the_after_step_runs_once_the_events_are_published_and_a_retry_completes_it() -> None:
    ports = FakePorts()

    async def after(p: FakePorts, subject: str, state: int) -> None:
        assert len(p.published()) >= 1, "the event is on the topic first"
        if p.fail_after:
            raise ConnectionError("broken")
        p.after_calls.append(subject)

    ports.fail_after = True
    with pytest.raises(ConnectionError):
        await run(ports, CALL, "k-1", after=after)
    ports.fail_after = False
    outcome = await run(ports, CALL, "k-1", after=after)
    assert ports.after_calls == ["c-1"]
    assert not outcome.replayed
    assert {e.id for e in ports.published()} == set(outcome.event_ids), "same ids again"


def test_chained_ids_start_at_the_first_and_derive_the_consequences() -> None:
    first = uuid4()
    events = [
        OptOutReceived(touchpoint_id="t", channel=Channel.PHONE, received_at=datetime.now(UTC))
    ] * 2
    assert Ids.chained(first).events(events) == [first, Ids.chained(first)("OptOutReceived")]
