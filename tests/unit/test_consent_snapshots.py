"""A snapshot of the folded consent history gives the same state as folding it all, for every
time at or after the latest effective time it holds (`consentledger.snapshots`)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from consentledger import snapshots
from consentledger.domain import state_as_of
from consentledger.effective import effective_at
from consentledger.eligibility import eligibility
from dialog_schemas import Event
from dialog_schemas.common import Channel, Purpose
from tests.consent_histories import histories, times

EXPIRY = timedelta(days=730)


@settings(max_examples=200, deadline=None)
@given(histories())
def test_a_state_survives_encoding(history: list[Event]) -> None:
    state = state_as_of(history)
    assert snapshots.decode(snapshots.encode(state).decode()) == state


@settings(max_examples=300, deadline=None)
@given(histories(), st.data())
def test_folding_from_a_snapshot_answers_as_folding_the_whole_history(
    history: list[Event], data: st.DataObject
) -> None:
    split = data.draw(st.integers(min_value=0, max_value=len(history)))
    before, after = history[:split], history[split:]
    through = max((t for t in map(effective_at, before) if t is not None), default=None)
    later = data.draw(times.filter(lambda t: through is None or t >= through))
    snapshot = snapshots.decode(snapshots.encode(state_as_of(before)).decode())
    for at in (None, later):
        assert state_as_of(after, at, snapshot) == state_as_of(history, at)
    whole = state_as_of(history, later)
    resumed = state_as_of(after, later, snapshot)
    for channel in Channel:
        for purpose in Purpose:
            assert eligibility(resumed, channel, purpose, later, expiry=EXPIRY) == eligibility(
                whole, channel, purpose, later, expiry=EXPIRY
            )
