"""Calling hours in the customer's local time: working days, daytime, no Sundays or holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from campaigns.calling_hours import CallingHours, customer_zones, next_open

BERLIN = ZoneInfo("Europe/Berlin")
HOURS = CallingHours()


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


def test_within_hours_on_a_working_day_is_now() -> None:
    at = berlin(2026, 3, 3, 10, 0)  # a Tuesday
    assert next_open(at, [BERLIN], HOURS) == at


def test_before_opening_waits_for_the_opening_the_same_day() -> None:
    assert next_open(berlin(2026, 3, 3, 7, 30), [BERLIN], HOURS) == berlin(2026, 3, 3, 9)


def test_after_closing_waits_for_the_next_working_day() -> None:
    assert next_open(berlin(2026, 3, 3, 20, 0), [BERLIN], HOURS) == berlin(2026, 3, 4, 9)


def test_saturday_evening_skips_sunday() -> None:
    assert next_open(berlin(2026, 3, 7, 21, 0), [BERLIN], HOURS) == berlin(2026, 3, 9, 9)


def test_sunday_is_closed_all_day() -> None:
    assert next_open(berlin(2026, 3, 8, 12, 0), [BERLIN], HOURS) == berlin(2026, 3, 9, 9)


def test_a_public_holiday_is_closed() -> None:
    # Good Friday 2026 is April 3rd, Easter Monday April 6th: Saturday is open
    assert next_open(berlin(2026, 4, 3, 10, 0), [BERLIN], HOURS) == berlin(2026, 4, 4, 9)
    assert next_open(berlin(2026, 4, 5, 10, 0), [BERLIN], HOURS) == berlin(2026, 4, 7, 9)


def test_christmas_and_new_year() -> None:
    assert next_open(berlin(2026, 12, 24, 20, 30), [BERLIN], HOURS) == berlin(2026, 12, 28, 9)
    assert next_open(berlin(2026, 12, 31, 21, 0), [BERLIN], HOURS) == berlin(2027, 1, 2, 9)


def test_hours_are_configurable() -> None:
    hours = CallingHours(start=time(10), end=time(18), weekdays=frozenset(range(5)))
    assert next_open(berlin(2026, 3, 6, 18, 0), [BERLIN], hours) == berlin(2026, 3, 9, 10)
    none = CallingHours(holiday_country=None, weekdays=frozenset(range(7)))
    assert next_open(berlin(2026, 3, 8, 12, 0), [BERLIN], none) == berlin(2026, 3, 8, 12, 0)


def test_extra_closed_days() -> None:
    hours = CallingHours(extra_closed_days=frozenset({date(2026, 3, 3)}))
    assert next_open(berlin(2026, 3, 3, 10, 0), [BERLIN], hours) == berlin(2026, 3, 4, 9)


def test_hours_that_never_open_give_no_moment() -> None:
    assert next_open(berlin(2026, 3, 3, 10), [BERLIN], CallingHours(weekdays=frozenset())) is None


def test_the_customers_local_time_counts_not_the_servers() -> None:
    new_york = ZoneInfo("America/New_York")
    at = datetime(2026, 3, 3, 13, 0, tzinfo=UTC)  # 14:00 in Berlin, 08:00 in New York
    assert next_open(at, [BERLIN], HOURS) == at
    opens = next_open(at, [new_york], HOURS)
    assert opens == datetime(2026, 3, 3, 9, 0, tzinfo=new_york)


def test_a_number_spanning_zones_is_called_only_when_open_in_all() -> None:
    zones = [ZoneInfo("America/New_York"), ZoneInfo("America/Los_Angeles")]
    at = datetime(2026, 3, 3, 14, 0, tzinfo=UTC)  # 09:00 NY, 06:00 LA
    opens = next_open(at, zones, HOURS)
    assert opens == datetime(2026, 3, 3, 9, 0, tzinfo=ZoneInfo("America/Los_Angeles"))


def test_summer_time_switch() -> None:
    # Berlin moves to summer time on 2026-03-29 (a Sunday): Monday opens at 09:00 CEST
    opens = next_open(berlin(2026, 3, 28, 20, 0), [BERLIN], HOURS)
    assert opens == berlin(2026, 3, 30, 9)
    assert opens is not None
    assert opens.utcoffset() is not None
    assert opens.astimezone(UTC).hour == 7


@pytest.mark.parametrize(
    ("profile", "phone", "expected"),
    [
        ("America/Chicago", "+4930123456", ("America/Chicago",)),
        (None, "+4930123456", ("Europe/Berlin",)),
        (None, "+442071234567", ("Europe/London",)),
        (None, "+81312345678", ("Asia/Tokyo",)),
        (None, None, ("Europe/Berlin",)),
        ("Not/AZone", None, ("Europe/Berlin",)),
        (None, "+999", ("Europe/Berlin",)),
    ],
)
def test_zone_from_profile_else_phone_number_else_default(
    profile: str | None, phone: str | None, expected: tuple[str, ...]
) -> None:
    assert tuple(z.key for z in customer_zones(profile, phone)) == expected


def test_the_default_zone_is_configurable() -> None:
    assert customer_zones(None, None, "Europe/Vienna")[0].key == "Europe/Vienna"
