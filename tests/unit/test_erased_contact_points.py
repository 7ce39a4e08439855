"""The port consent asks whether a granted contact point was erased: fake and HTTP adapter."""

from __future__ import annotations

import pytest

from devstack.processes import free_port
from dialogkit.erasures import HttpErasedContactPoints, InMemoryErasedContactPoints
from dialogkit.problems import Problem

MATCH = {"contact_point_hash": "h1", "channels": ["phone", "sms"], "erased_at": "2026-11-01"}


async def test_the_fake_answers_what_it_holds_and_nothing_else() -> None:
    erased = InMemoryErasedContactPoints({"+4915177482508": [MATCH]})
    assert await erased.matches("+4915177482508") == [MATCH]
    assert await erased.matches("+4930123456") == []


async def test_contacts_that_cannot_be_asked_is_a_503_problem_naming_it() -> None:
    erased = HttpErasedContactPoints(f"http://127.0.0.1:{free_port()}", "token", timeout_s=2)
    with pytest.raises(Problem) as raised:
        await erased.matches("erika@example.org")
    assert raised.value.status == 503
    assert raised.value.title == "Contacts unavailable"
