"""Campaign lifecycle: draft -> running <-> paused -> stopped | completed, edits only as a draft."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from campaigns import domain
from campaigns.domain import (
    CreateCampaign,
    LaunchWave,
    PauseCampaign,
    ResumeCampaign,
    Status,
    StopCampaign,
    UpdateCampaign,
)
from dialog_schemas import Event
from dialog_schemas.campaigns import (
    Audience,
    CampaignCompleted,
    CampaignCreated,
    CampaignLaunched,
    CampaignStopped,
    WaveLaunched,
)
from dialogkit.rules import Conflict, NotFound, RuleViolation

NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)
CREATE = CreateCampaign(
    campaign_id="spring",
    name="Spring offer",
    channel="phone",
    purpose="cross_sell",
    product_category="mobile",
    audience=Audience(include_ids=["c-1"]),
)


def history(*steps: object) -> tuple[domain.Campaign | None, list[Event]]:
    events: list[Event] = []
    state: domain.Campaign | None = None
    for step in steps:
        decided = step(state)  # type: ignore[operator]
        events += decided
        for event in decided:
            state = domain.evolve(state, event)
    return state, events


def created(state: domain.Campaign | None) -> list[Event]:
    return domain.create(state, CREATE, NOW)


def launched(state: domain.Campaign | None) -> list[Event]:
    return domain.launch(state, LaunchWave(), NOW)


def paused(state: domain.Campaign | None) -> list[Event]:
    return domain.pause(state, PauseCampaign(), NOW)


def test_create_makes_a_draft_with_the_whole_definition() -> None:
    state, events = history(created)
    assert isinstance(events[0], CampaignCreated)
    assert events[0].definition is not None
    assert events[0].definition.product_category == "mobile"
    assert state is not None
    assert state.status is Status.DRAFT


def test_an_id_is_used_once() -> None:
    state, _ = history(created)
    with pytest.raises(Conflict):
        domain.create(state, CREATE, NOW)


def test_end_must_follow_start() -> None:
    bad = CREATE.model_copy(update={"starts_at": NOW, "ends_at": NOW})
    with pytest.raises(RuleViolation) as error:
        domain.create(None, bad, NOW)
    assert error.value.field == "ends_at"


def test_a_campaign_goes_out_on_a_channel_it_can_be_handed_to() -> None:
    social = CREATE.model_copy(update={"channel": "social"})
    with pytest.raises(RuleViolation) as error:
        domain.create(None, social, NOW)
    assert error.value.field == "channel"


def test_a_draft_can_be_edited_and_keeps_what_the_edit_leaves_out() -> None:
    state, _ = history(created)
    events = domain.update(state, UpdateCampaign(changes={"name": "Spring offer 2"}), NOW)
    state = domain.evolve(state, events[0])
    assert state is not None
    assert state.definition.name == "Spring offer 2"
    assert state.definition.product_category == "mobile"


def test_an_edit_that_breaks_the_definition_names_the_field() -> None:
    state, _ = history(created)
    with pytest.raises(RuleViolation) as error:
        domain.update(state, UpdateCampaign(changes={"channel": "fax"}), NOW)
    assert error.value.field == "channel"


def stopped(state: domain.Campaign | None) -> list[Event]:
    return domain.stop(state, StopCampaign(), NOW)


@pytest.mark.parametrize("then", [launched, stopped])
def test_only_a_draft_can_be_edited(then: object) -> None:
    state, _ = history(created, then)
    with pytest.raises(Conflict):
        domain.update(state, UpdateCampaign(changes={"name": "x"}), NOW)


def test_launching_a_draft_runs_its_first_wave_now_or_at_its_start() -> None:
    later = NOW + timedelta(days=1)
    state, _ = history(created)
    assert state is not None
    state = domain.evolve(
        state, domain.update(state, UpdateCampaign(changes={"starts_at": later}), NOW)[0]
    )
    events = domain.launch(state, LaunchWave(), NOW)
    assert isinstance(events[0], CampaignLaunched)
    assert isinstance(events[1], WaveLaunched)
    assert (events[1].wave, events[1].due_from) == (1, later)


def test_a_running_campaign_launches_its_next_wave() -> None:
    state, _ = history(created, launched)
    events = domain.launch(state, LaunchWave(due_from=NOW + timedelta(hours=2)), NOW)
    assert [type(e) for e in events] == [WaveLaunched]
    assert isinstance(events[0], WaveLaunched)
    assert events[0].wave == 2
    assert events[0].due_from == NOW + timedelta(hours=2)


def test_an_empty_audience_cannot_be_launched() -> None:
    empty = CREATE.model_copy(update={"audience": Audience()})
    state = domain.evolve(None, domain.create(None, empty, NOW)[0])
    with pytest.raises(RuleViolation) as error:
        domain.launch(state, LaunchWave(), NOW)
    assert error.value.field == "audience"


def test_an_ended_campaign_cannot_be_launched() -> None:
    ending = CREATE.model_copy(update={"ends_at": NOW - timedelta(hours=1)})
    state = domain.evolve(None, domain.create(None, ending, NOW - timedelta(days=1))[0])
    with pytest.raises(RuleViolation):
        domain.launch(state, LaunchWave(), NOW)


def test_pause_and_resume() -> None:
    state, _ = history(created, launched, paused)
    assert state is not None
    assert state.status is Status.PAUSED
    with pytest.raises(Conflict):
        domain.pause(state, PauseCampaign(), NOW)
    with pytest.raises(Conflict):
        domain.launch(state, LaunchWave(), NOW)
    state = domain.evolve(state, domain.resume(state, ResumeCampaign(), NOW)[0])
    assert state is not None
    assert state.status is Status.RUNNING


def test_only_a_paused_campaign_resumes_and_only_a_running_one_pauses() -> None:
    state, _ = history(created)
    with pytest.raises(Conflict):
        domain.resume(state, ResumeCampaign(), NOW)
    with pytest.raises(Conflict):
        domain.pause(state, PauseCampaign(), NOW)


def test_stop_ends_for_good() -> None:
    state, _ = history(created, launched, paused)
    events = domain.stop(state, StopCampaign(), NOW)
    assert isinstance(events[0], CampaignStopped)
    state = domain.evolve(state, events[0])
    assert state is not None
    assert state.status is Status.STOPPED
    with pytest.raises(Conflict):
        domain.stop(state, StopCampaign(), NOW)
    with pytest.raises(Conflict):
        domain.resume(state, ResumeCampaign(), NOW)
    with pytest.raises(Conflict):
        domain.launch(state, LaunchWave(), NOW)


def test_a_campaign_completes_when_its_end_passes() -> None:
    ending = CREATE.model_copy(update={"ends_at": NOW + timedelta(days=1)})
    state = domain.evolve(None, domain.create(None, ending, NOW)[0])
    for event in domain.launch(state, LaunchWave(), NOW):
        state = domain.evolve(state, event)
    assert state is not None
    assert domain.complete(state, NOW) == []
    events = domain.complete(state, NOW + timedelta(days=2))
    assert isinstance(events[0], CampaignCompleted)
    assert events[0].completed_at == NOW + timedelta(days=1)
    state = domain.evolve(state, events[0])
    assert state is not None
    assert state.status is Status.COMPLETED
    assert domain.complete(state, NOW + timedelta(days=3)) == []


def test_commands_on_an_unknown_campaign_are_not_found() -> None:
    with pytest.raises(NotFound):
        domain.launch(None, LaunchWave(), NOW)


def test_a_wave_seen_twice_counts_once() -> None:
    state, events = history(created, launched)
    again = domain.evolve(state, events[-1])
    assert again is not None
    assert len(again.waves) == 1
