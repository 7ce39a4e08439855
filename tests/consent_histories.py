"""Generated consent histories: any mix of the consent events, their times in any order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from hypothesis import strategies as st

from dialog_schemas import Event
from dialog_schemas.common import Channel, Purpose
from dialog_schemas.consent import (
    CaptureMedium,
    ChannelObjectionRecorded,
    ConsentConfirmed,
    ConsentExpired,
    ConsentGranted,
    ConsentRevoked,
    ConsentUsed,
    ContactPointSuppressed,
    Evidence,
    ObjectionLifted,
    ObjectionRecorded,
)

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
CONSENTS = [UUID(int=n + 1) for n in range(3)]
OBJECTIONS = [UUID(int=n + 100) for n in range(2)]
times = st.integers(min_value=0, max_value=60 * 24 * 900).map(lambda m: T0 + timedelta(minutes=m))
channels = st.sampled_from(list(Channel))
purposes = st.sampled_from(list(Purpose))


@st.composite
def consent_events(draw: st.DrawFn) -> Event:
    consent_id = draw(st.sampled_from(CONSENTS))
    at = draw(times)
    kind = draw(st.integers(min_value=0, max_value=8))
    if kind == 0:
        return ConsentGranted(
            consent_id=consent_id,
            channel=draw(channels),
            purpose=draw(purposes),
            evidence=Evidence(
                medium=CaptureMedium.WEB_FORM,
                wording_version="v1",
                wording_sha256="ab" * 32,
                captured_at=at,
                source_ref="form-1",
                actor="web",
            ),
            pending_confirmation=draw(st.booleans()),
            lifts_objection=draw(st.booleans()),
        )
    if kind == 1:
        return ConsentConfirmed(consent_id=consent_id, confirmed_at=at, source_ref="sha256:ab")
    if kind == 2:
        return ConsentRevoked(
            consent_id=consent_id,
            channel=draw(channels),
            purpose=draw(purposes),
            revoked_at=at,
            via_channel=Channel.LETTER,
        )
    if kind == 3:
        return ConsentUsed(
            consent_id=consent_id,
            used_at=at,
            channel=draw(channels),
            purpose=draw(purposes),
            reference="o-1",
        )
    if kind == 4:
        return ConsentExpired(consent_id=consent_id, expired_at=at, last_used_at=at)
    if kind == 5:
        return ObjectionRecorded(
            objection_id=draw(st.sampled_from(OBJECTIONS)),
            objected_at=at,
            via_channel=Channel.PHONE,
        )
    if kind == 6:
        return ObjectionLifted(
            objection_id=draw(st.sampled_from(OBJECTIONS)), lifted_at=at, consent_id=consent_id
        )
    if kind == 7:
        return ChannelObjectionRecorded(
            channel=draw(channels), objected_at=at, via_channel=Channel.EMAIL
        )
    return ContactPointSuppressed(
        channel=draw(channels),
        list_name="robinson",
        list_version="2026-03",
        matched_at=at,
        contact_point_hash="cd" * 32,
    )


def histories(max_size: int = 25) -> st.SearchStrategy[list[Event]]:
    """A customer's consent history: grants first more often, then anything in any order."""
    return st.lists(consent_events(), min_size=0, max_size=max_size)
