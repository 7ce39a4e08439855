"""Campaigns and their lifecycle: commands, the events each decides, and the state they fold to.

draft -> running <-> paused -> stopped | completed. A draft can be edited, launched or stopped;
launching runs the first wave, and a running campaign can launch further waves. Everything here
is pure: time is passed in, nothing is read or written.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from functools import singledispatch
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from campaigns.audience import unknown_zones
from dialog_schemas import Event
from dialog_schemas.campaigns import (
    CampaignCompleted,
    CampaignCreated,
    CampaignDefinition,
    CampaignLaunched,
    CampaignPaused,
    CampaignResumed,
    CampaignStopped,
    CampaignUpdated,
    TriggerKind,
    WaveLaunched,
)
from dialog_schemas.common import Channel, ExternalId, Instant, Purpose
from dialogkit.rules import Conflict, NotFound, RuleViolation


class Status(StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    COMPLETED = "completed"


ENDED = frozenset({Status.STOPPED, Status.COMPLETED})


@dataclass(frozen=True)
class Wave:
    wave: int
    launched_at: datetime
    due_from: datetime


@dataclass(frozen=True)
class Campaign:
    campaign_id: str
    definition: CampaignDefinition
    status: Status
    created_at: datetime
    waves: tuple[Wave, ...] = ()
    ended_at: datetime | None = None
    launched_at: datetime | None = None


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CreateCampaign(CampaignDefinition):
    """Set up a draft campaign under the caller's id."""

    campaign_id: ExternalId


class UpdateCampaign(Command):
    """Change a draft's definition; fields left out stay as they are."""

    changes: dict[str, Any]


class LaunchWave(Command):
    """Launch the campaign (its first wave) or, while it runs, its next wave."""

    due_from: Instant | None = None
    """When the wave's outreach falls due; now (or the campaign's start) when left out."""


class PauseCampaign(Command):
    """Stop deciding and dispatching until resumed."""


class ResumeCampaign(Command):
    """Decide and dispatch again."""


class StopCampaign(Command):
    """End the campaign; undecided outreach is cancelled."""


def create(state: Campaign | None, command: CreateCampaign, now: datetime) -> list[Event]:
    """A new draft; the id must be new."""
    if state is not None:
        raise Conflict(f"campaign {command.campaign_id} exists already")
    definition = CampaignDefinition.model_validate(command.model_dump(exclude={"campaign_id"}))
    _check(definition)
    return [
        CampaignCreated(
            campaign_id=command.campaign_id,
            name=definition.name,
            channel=definition.channel,
            purpose=definition.purpose,
            product_category=definition.product_category,
            created_at=now,
            definition=definition,
        )
    ]


def update(state: Campaign | None, command: UpdateCampaign, now: datetime) -> list[Event]:
    """Only a draft can be edited; a running campaign's audience is fixed per wave."""
    campaign = _known(state)
    if campaign.status is not Status.DRAFT:
        raise Conflict(f"campaign {campaign.campaign_id} is {campaign.status}; only drafts change")
    merged = campaign.definition.model_dump() | command.changes
    try:
        definition = CampaignDefinition.model_validate(merged)
    except ValidationError as error:
        first = error.errors()[0]
        raise RuleViolation(".".join(map(str, first["loc"])), first["msg"]) from None
    _check(definition)
    return [
        CampaignUpdated(campaign_id=campaign.campaign_id, definition=definition, updated_at=now)
    ]


def launch(state: Campaign | None, command: LaunchWave, now: datetime) -> list[Event]:
    """A draft starts running with wave 1; a running campaign gets its next wave."""
    campaign = _known(state)
    definition = campaign.definition
    if campaign.status not in (Status.DRAFT, Status.RUNNING):
        raise Conflict(f"campaign {campaign.campaign_id} is {campaign.status}; cannot launch")
    if definition.ends_at is not None and definition.ends_at <= now:
        raise RuleViolation("ends_at", "the campaign has ended; nothing can be launched")
    if definition.trigger is not None:
        return _launch_triggered(campaign, now)
    if definition.audience.rule is None and not definition.audience.include_ids:
        raise RuleViolation("audience", "name a rule or include_ids; the audience is empty")
    due_from = max(t for t in (now, definition.starts_at, command.due_from) if t is not None)
    if definition.ends_at is not None and due_from >= definition.ends_at:
        raise RuleViolation("due_from", "is not before the campaign's end")
    events: list[Event] = []
    if campaign.status is Status.DRAFT:
        events.append(CampaignLaunched(campaign_id=campaign.campaign_id, launched_at=now))
    events.append(
        WaveLaunched(
            campaign_id=campaign.campaign_id,
            wave=len(campaign.waves) + 1,
            launched_at=now,
            due_from=due_from,
        )
    )
    return events


def _launch_triggered(campaign: Campaign, now: datetime) -> list[Event]:
    """A triggered campaign has no waves: launching starts it, and it plans per event."""
    if campaign.status is Status.RUNNING:
        raise Conflict(
            f"campaign {campaign.campaign_id} is triggered and running; it has no waves to launch"
        )
    return [CampaignLaunched(campaign_id=campaign.campaign_id, launched_at=now)]


def pause(state: Campaign | None, command: PauseCampaign, now: datetime) -> list[Event]:
    campaign = _in(state, Status.RUNNING, "pause")
    return [CampaignPaused(campaign_id=campaign.campaign_id, paused_at=now)]


def resume(state: Campaign | None, command: ResumeCampaign, now: datetime) -> list[Event]:
    campaign = _in(state, Status.PAUSED, "resume")
    return [CampaignResumed(campaign_id=campaign.campaign_id, resumed_at=now)]


def stop(state: Campaign | None, command: StopCampaign, now: datetime) -> list[Event]:
    """A draft, running or paused campaign can be stopped; an ended one cannot."""
    campaign = _known(state)
    if campaign.status in ENDED:
        raise Conflict(f"campaign {campaign.campaign_id} is {campaign.status} already")
    return [CampaignStopped(campaign_id=campaign.campaign_id, stopped_at=now)]


def complete(campaign: Campaign, now: datetime) -> list[Event]:
    """A running or paused campaign whose end time has passed is completed."""
    ends_at = campaign.definition.ends_at
    if campaign.status in (Status.RUNNING, Status.PAUSED) and ends_at and ends_at <= now:
        return [CampaignCompleted(campaign_id=campaign.campaign_id, completed_at=ends_at)]
    return []


DISPATCHED_ON = frozenset({Channel.PHONE, Channel.LETTER, Channel.EMAIL, Channel.SMS})
"""The channels outreach is handed to (each has an outbound topic); social replies are not
campaign outreach."""


def _check(definition: CampaignDefinition) -> None:
    if definition.channel not in DISPATCHED_ON:
        raise RuleViolation("channel", f"campaigns go out by {', '.join(sorted(DISPATCHED_ON))}")
    starts, ends = definition.starts_at, definition.ends_at
    if starts is not None and ends is not None and ends <= starts:
        raise RuleViolation("ends_at", "is not after starts_at")
    thanks = definition.trigger is not None and definition.trigger.on is TriggerKind.SURVEY_ANSWERED
    if thanks and definition.purpose is not Purpose.SERVICE:
        raise RuleViolation("purpose", "a thank-you for a survey answer is a service contact")
    rule = definition.audience.rule
    if rule is not None and (unknown := unknown_zones(rule.time_zones)):
        raise RuleViolation("audience.rule.time_zones", f"no such zone or region: {unknown}")


def _known(state: Campaign | None) -> Campaign:
    if state is None:
        raise NotFound("no such campaign")
    return state


def _in(state: Campaign | None, status: Status, action: str) -> Campaign:
    campaign = _known(state)
    if campaign.status is not status:
        raise Conflict(f"campaign {campaign.campaign_id} is {campaign.status}; cannot {action}")
    return campaign


def evolve(state: Campaign | None, event: Event) -> Campaign | None:
    """The campaign after one of its events."""
    return _apply(event, state)


@singledispatch
def _apply(event: Event, state: Campaign | None) -> Campaign | None:
    return state


@_apply.register
def _created(event: CampaignCreated, state: Campaign | None) -> Campaign | None:
    definition = event.definition or CampaignDefinition(
        name=event.name,
        channel=event.channel,
        purpose=event.purpose,
        product_category=event.product_category,
    )
    return Campaign(event.campaign_id, definition, Status.DRAFT, event.created_at)


@_apply.register
def _updated(event: CampaignUpdated, state: Campaign | None) -> Campaign | None:
    return replace(state, definition=event.definition) if state else None


@_apply.register
def _launched(event: CampaignLaunched, state: Campaign | None) -> Campaign | None:
    return replace(state, status=Status.RUNNING, launched_at=event.launched_at) if state else None


@_apply.register
def _wave(event: WaveLaunched, state: Campaign | None) -> Campaign | None:
    if state is None or any(w.wave == event.wave for w in state.waves):
        return state
    wave = Wave(event.wave, event.launched_at, event.due_from)
    return replace(state, waves=(*state.waves, wave))


@_apply.register
def _paused(event: CampaignPaused, state: Campaign | None) -> Campaign | None:
    return replace(state, status=Status.PAUSED) if state else None


@_apply.register
def _resumed(event: CampaignResumed, state: Campaign | None) -> Campaign | None:
    return replace(state, status=Status.RUNNING) if state else None


@_apply.register
def _stopped(event: CampaignStopped, state: Campaign | None) -> Campaign | None:
    return replace(state, status=Status.STOPPED, ended_at=event.stopped_at) if state else None


@_apply.register
def _completed(event: CampaignCompleted, state: Campaign | None) -> Campaign | None:
    if state is None or state.status is Status.STOPPED:
        return state
    return replace(state, status=Status.COMPLETED, ended_at=event.completed_at)


def fold(events: list[Event]) -> Campaign | None:
    """A campaign from its events in order."""
    state: Campaign | None = None
    for event in events:
        state = evolve(state, event)
    return state
