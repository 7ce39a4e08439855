"""The campaign commands: one registered table of pure decisions on the shared command path.

command -> load the campaign's state -> decide (pure, `campaigns.domain`) -> publish the events
-> wait until the campaign read model has applied them (`dialogkit.commands`). Event ids derive
from the campaign and the `Idempotency-Key`; a retry with the same key repeats the first answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from fastapi import Response
from pydantic import BaseModel

from campaigns import domain
from campaigns.campaign_view import load_campaign
from campaigns.config import Settings
from dialog_schemas import Event
from dialog_schemas.catalog import CAMPAIGNS_EVENTS
from dialogkit.commands import CommandTable, Handler, Ids, Ports
from dialogkit.commands import execute as run
from dialogkit.http import ApiRuntime

NAMESPACE = UUID("3f0c9d7e-8b1a-4f55-a2d4-6c0e9b7a1d21")

Decide = Callable[[domain.Campaign | None, Any, datetime], list[Event]]
COMMANDS: dict[type[BaseModel], Decide] = {
    domain.CreateCampaign: domain.create,
    domain.UpdateCampaign: domain.update,
    domain.LaunchWave: domain.launch,
    domain.PauseCampaign: domain.pause,
    domain.ResumeCampaign: domain.resume,
    domain.StopCampaign: domain.stop,
}
"""Every command a campaign takes, and the pure decision it runs."""


class CommandResult(BaseModel):
    campaign_id: str
    event_ids: list[UUID]
    applied: bool
    """True once the read model shows the events; false (HTTP 202) while it does not yet."""
    replayed: bool = False
    """True when the Idempotency-Key was used before and this answer repeats the first one."""


def answered(result: CommandResult, response: Response, created: bool = False) -> CommandResult:
    """202 while the read model does not show the events; 201 for a campaign created now."""
    if not result.applied:
        response.status_code = 202
    elif created and not result.replayed:
        response.status_code = 201
    return result


def _current(ports: Ports[Settings], campaign_id: str, command: Any) -> Awaitable[Any]:
    return load_campaign(ports.pool, campaign_id)


def _ids(campaign_id: str, command: Any, key: str | None) -> Ids:
    return Ids.numbered(NAMESPACE, f"{campaign_id}/{key or uuid4()}")


def _handler(decide: Decide) -> Handler[Any, domain.Campaign | None, Settings]:
    return Handler(
        _current, lambda state, command, ctx: decide(state, command, ctx.now), _ids, wait=True
    )


TABLE: CommandTable[Settings] = CommandTable(
    topic=CAMPAIGNS_EVENTS,
    confirmed_by="campaigns.campaigns",
    handlers={kind: _handler(decide) for kind, decide in COMMANDS.items()},
)


async def execute(
    runtime: ApiRuntime[Settings], campaign_id: str, command: BaseModel, key: str | None
) -> CommandResult:
    """Decide a command on the campaign's current state and publish what it decided, on the
    shared command path (`dialogkit.commands.execute`).

    Raises NotFound, Conflict or RuleViolation from the decision (404, 409, 422)."""
    outcome = await run(runtime, TABLE, campaign_id, command, key)
    return CommandResult(
        campaign_id=campaign_id,
        event_ids=outcome.event_ids,
        applied=outcome.applied,
        replayed=outcome.replayed,
    )
