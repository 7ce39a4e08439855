from datetime import UTC, datetime, timedelta

import pytest

from dialog_schemas.interactions import Channel, Direction
from dialogkit.rules import InFuture
from interactions.domain import (
    RecordTouchpoint,
    record_touchpoint,
    touchpoint_event_id,
)

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def command(**changes: object) -> RecordTouchpoint:
    fields: dict[str, object] = {
        "customer_id": "c-1",
        "touchpoint_id": "mail-7",
        "channel": Channel.EMAIL,
        "direction": Direction.OUTBOUND,
        "occurred_at": NOW - timedelta(minutes=5),
        "summary": "newsletter sent",
    }
    return RecordTouchpoint.model_validate(fields | changes)


def test_a_touchpoint_is_recorded_as_reported() -> None:
    [event] = record_touchpoint(command(), NOW)
    assert (event.touchpoint_id, event.channel, event.direction) == (
        "mail-7",
        Channel.EMAIL,
        Direction.OUTBOUND,
    )
    assert event.occurred_at == NOW - timedelta(minutes=5)


def test_a_touchpoint_cannot_lie_in_the_future() -> None:
    with pytest.raises(InFuture, match=r"occurred_at: .* is after now"):
        record_touchpoint(command(occurred_at=NOW + timedelta(seconds=1)), NOW)


def test_the_same_touchpoint_sent_twice_gets_the_same_event_id() -> None:
    assert touchpoint_event_id("c-1", "mail-7") == touchpoint_event_id("c-1", "mail-7")


def test_equal_touchpoint_ids_of_different_customers_stay_apart() -> None:
    assert touchpoint_event_id("c-1", "mail-7") != touchpoint_event_id("c-2", "mail-7")
