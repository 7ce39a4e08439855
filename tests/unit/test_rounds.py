"""Rounds: concurrent asks coalesced into one batch request per round, without I/O."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest

from dialogkit.rounds import Rounds, Unanswered


class Service:
    """A batch service whose requests wait until the test lets them answer."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.gates: list[asyncio.Event] = []
        self.open_now = 0
        self.most_open = 0
        self.failures: dict[int, Exception] = {}
        self.per_key: dict[str, BaseException] = {}

    async def ask(self, keys: list[str]) -> Mapping[str, str | BaseException]:
        number = len(self.batches)
        self.batches.append(keys)
        gate = asyncio.Event()
        self.gates.append(gate)
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            await gate.wait()
        finally:
            self.open_now -= 1
        if number in self.failures:
            raise self.failures[number]
        return {k: self.per_key.get(k, f"{k}@{number}") for k in keys}

    def answer(self, number: int) -> None:
        self.gates[number].set()


async def settle() -> None:
    """Let every ready task run (no time passes: the loop only turns)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_lone_ask_is_sent_at_once_and_answered() -> None:
    service = Service()
    rounds = Rounds(service.ask)
    asked = asyncio.ensure_future(rounds.get("a"))
    await settle()
    assert service.batches == [["a"]], "no timer: the loop turning is enough to send it"
    service.answer(0)
    assert await asked == "a@0"


async def test_asks_made_while_a_round_is_in_flight_go_together_in_the_next() -> None:
    service = Service()
    rounds = Rounds(service.ask)
    first = asyncio.ensure_future(rounds.get("a"))
    await settle()
    later = [asyncio.ensure_future(rounds.get(k)) for k in ("b", "c", "b")]
    await settle()
    assert service.batches == [["a"]], "one round in flight at a time"
    service.answer(0)
    await settle()
    assert service.batches == [["a"], ["b", "c"]], "each key once per round"
    service.answer(1)
    assert await first == "a@0"
    assert await asyncio.gather(*later) == ["b@1", "c@1", "b@1"]
    assert service.most_open == 1


async def test_a_key_asked_after_its_round_began_waits_for_the_next() -> None:
    service = Service()
    rounds = Rounds(service.ask)
    early = asyncio.ensure_future(rounds.get("a"))
    await settle()
    late = asyncio.ensure_future(rounds.get("a"))
    service.answer(0)
    assert await early == "a@0"
    await settle()
    service.answer(1)
    assert await late == "a@1", "never answered from a round that began before it asked"


async def test_a_few_rounds_may_be_in_flight_and_no_more() -> None:
    service = Service()
    rounds = Rounds(service.ask, in_flight=2)
    asks = [asyncio.ensure_future(rounds.get(k)) for k in ("a", "b")]
    await settle()
    asks += [asyncio.ensure_future(rounds.get(k)) for k in ("c", "d")]
    await settle()
    assert service.batches == [["a", "b"], ["c", "d"]]
    asks.append(asyncio.ensure_future(rounds.get("e")))
    await settle()
    assert len(service.batches) == 2, "two rounds in flight: the third waits"
    service.answer(1)
    await settle()
    assert service.batches[2] == ["e"]
    for number in (0, 2):
        service.answer(number)
    assert await asyncio.gather(*asks) == ["a@0", "b@0", "c@1", "d@1", "e@2"]
    assert service.most_open == 2


async def test_a_round_takes_at_most_max_keys() -> None:
    service = Service()
    rounds = Rounds(service.ask, max_keys=2)
    asks = [asyncio.ensure_future(rounds.get(k)) for k in ("a", "b", "c")]
    await settle()
    assert service.batches == [["a", "b"]]
    service.answer(0)
    await settle()
    service.answer(1)
    assert await asyncio.gather(*asks) == ["a@0", "b@0", "c@1"]
    assert service.batches == [["a", "b"], ["c"]]


async def test_each_caller_gets_its_own_keys_answer_or_exception() -> None:
    service = Service()
    service.per_key = {"bad": ValueError("bad key")}
    rounds = Rounds(service.ask)
    good = asyncio.ensure_future(rounds.get("good"))
    bad = asyncio.ensure_future(rounds.get("bad"))
    await settle()
    service.answer(0)
    assert await good == "good@0"
    with pytest.raises(ValueError, match="bad key"):
        await bad


async def test_a_key_the_answer_leaves_out_raises_unanswered() -> None:
    async def ask(keys: list[str]) -> Mapping[str, str | BaseException]:
        return {"a": "found"}

    rounds: Rounds[str, str] = Rounds(ask)
    assert await rounds.get("a") == "found"
    with pytest.raises(Unanswered, match="'b'"):
        await rounds.get("b")


async def test_a_failed_round_fails_only_its_own_callers() -> None:
    service = Service()
    service.failures[0] = ConnectionError("down")
    rounds = Rounds(service.ask)
    failing = [asyncio.ensure_future(rounds.get(k)) for k in ("a", "b")]
    await settle()
    next_round = asyncio.ensure_future(rounds.get("a"))
    service.answer(0)
    for ask in failing:
        with pytest.raises(ConnectionError, match="down"):
            await ask
    await settle()
    service.answer(1)
    assert await next_round == "a@1"


async def test_a_cancelled_caller_leaves_its_round_to_the_others() -> None:
    service = Service()
    rounds = Rounds(service.ask)
    cancelled = asyncio.ensure_future(rounds.get("a"))
    kept = asyncio.ensure_future(rounds.get("a"))
    other = asyncio.ensure_future(rounds.get("b"))
    await settle()
    cancelled.cancel()
    await settle()
    service.answer(0)
    assert await kept == "a@0"
    assert await other == "b@0"
    assert cancelled.cancelled()


async def test_a_key_no_one_waits_for_any_more_is_left_out_of_the_next_round() -> None:
    service = Service()
    rounds = Rounds(service.ask)
    first = asyncio.ensure_future(rounds.get("a"))
    await settle()
    gone = asyncio.ensure_future(rounds.get("gone"))
    kept = asyncio.ensure_future(rounds.get("kept"))
    await settle()
    gone.cancel()
    service.answer(0)
    await settle()
    assert service.batches == [["a"], ["kept"]]
    service.answer(1)
    assert (await first, await kept) == ("a@0", "kept@1")


async def test_a_round_stopped_midway_cancels_its_callers_and_the_next_round_runs() -> None:
    service = Service()
    rounds = Rounds(service.ask)
    stranded = asyncio.ensure_future(rounds.get("a"))
    await settle()
    waiting = asyncio.ensure_future(rounds.get("b"))
    [round_task] = rounds._running
    round_task.cancel()
    await settle()
    assert stranded.cancelled()
    assert service.batches == [["a"], ["b"]]
    service.answer(1)
    assert await waiting == "b@1"


def test_limits_below_one_are_refused() -> None:
    async def ask(keys: list[str]) -> Mapping[str, str | BaseException]:
        return {}

    with pytest.raises(ValueError, match="at least 1"):
        Rounds(ask, in_flight=0)
    with pytest.raises(ValueError, match="at least 1"):
        Rounds(ask, max_keys=0)


async def test_many_keys_of_one_caller_share_rounds_with_single_asks() -> None:
    service = Service()
    rounds = Rounds(service.ask, max_keys=3)
    single = asyncio.ensure_future(rounds.get("b"))
    await settle()
    many = asyncio.ensure_future(rounds.get_many(["a", "b", "c", "d"]))
    also = asyncio.ensure_future(rounds.get("c"))
    await settle()
    assert service.batches == [["b"]]
    service.answer(0)
    await settle()
    assert service.batches == [["b"], ["a", "b", "c"]], "a key asked twice goes once"
    service.answer(1)
    await settle()
    assert service.batches[2] == ["d"]
    service.answer(2)
    assert await single == "b@0"
    assert await many == ["a@1", "b@1", "c@1", "d@2"]
    assert await also == "c@1"


async def test_a_failed_round_fails_a_many_keys_caller_and_the_next_round_still_runs() -> None:
    service = Service()
    service.failures[0] = ConnectionError("down")
    rounds = Rounds(service.ask, max_keys=2)
    many = asyncio.ensure_future(rounds.get_many(["a", "b", "c"]))
    await settle()
    service.answer(0)
    with pytest.raises(ConnectionError, match="down"):
        await many
    await settle()
    assert service.batches == [["a", "b"], ["c"]]
    later = asyncio.ensure_future(rounds.get("z"))
    service.answer(1)
    await settle()
    service.answer(2)
    assert await later == "z@2"


async def test_a_cancelled_many_keys_caller_leaves_its_keys_out_of_the_next_round() -> None:
    service = Service()
    rounds = Rounds(service.ask)
    first = asyncio.ensure_future(rounds.get("a"))
    await settle()
    gone = asyncio.ensure_future(rounds.get_many(["x", "y"]))
    kept = asyncio.ensure_future(rounds.get("k"))
    await settle()
    gone.cancel()
    service.answer(0)
    await settle()
    assert service.batches == [["a"], ["k"]]
    service.answer(1)
    assert (await first, await kept) == ("a@0", "k@1")
