"""The campaign command path: one registered table of pure decisions, one small executor.

command -> load the campaign's state -> decide (pure, `campaigns.domain`) -> publish the events
-> wait until the read model shows them. Event ids derive from the campaign and the
`Idempotency-Key`, so a retried command publishes nothing new once its events are recorded, and
events published twice are applied once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4, uuid5

from pydantic import BaseModel

from campaigns import domain
from campaigns.campaign_view import applied, load_campaign
from campaigns.config import Settings
from dialog_schemas import Envelope, Event
from dialog_schemas.catalog import CAMPAIGNS_EVENTS
from dialogkit.http import ApiRuntime
from dialogkit.tracing import current_traceparent

NAMESPACE = UUID("3f0c9d7e-8b1a-4f55-a2d4-6c0e9b7a1d21")
MAX_EVENTS_PER_COMMAND = 8

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


def event_ids(campaign_id: str, key: str | None) -> Callable[[int], UUID]:
    base = f"{campaign_id}/{key or uuid4()}"
    return lambda n: uuid5(NAMESPACE, f"{base}/event-{n}")


async def execute(
    runtime: ApiRuntime, campaign_id: str, command: BaseModel, key: str | None
) -> CommandResult:
    """Decide a command on the campaign's current state and publish what it decided.

    Raises NotFound, Conflict or RuleViolation from the decision (404, 409, 422)."""
    ids = event_ids(campaign_id, key)
    earlier = await applied(runtime.pool, [ids(n) for n in range(MAX_EVENTS_PER_COMMAND)])
    if earlier:
        return CommandResult(
            campaign_id=campaign_id, event_ids=earlier, applied=True, replayed=True
        )
    state = await load_campaign(runtime.pool, campaign_id)
    now = datetime.now(UTC)
    decided = COMMANDS[type(command)](state, command, now)
    envelopes = [
        Envelope.wrap(
            event,
            id=ids(n),
            source=f"/{runtime.service}/api",
            subject=campaign_id,
            time=now,
            traceparent=current_traceparent(),
        )
        for n, event in enumerate(decided)
    ]
    await runtime.publisher.publish(CAMPAIGNS_EVENTS.name, envelopes)
    published = [e.id for e in envelopes]
    return CommandResult(
        campaign_id=campaign_id,
        event_ids=published,
        applied=await wait_applied(runtime, published),
    )


async def wait_applied(runtime: ApiRuntime, ids: list[UUID]) -> bool:
    """Poll the read model until it shows every event, for at most `command_wait_s`."""
    settings = runtime.settings
    wait_s = settings.command_wait_s if isinstance(settings, Settings) else 0.0
    deadline = time.monotonic() + wait_s
    while True:
        if len(await applied(runtime.pool, ids)) == len(ids):
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.02)
