"""Legal periods counted as German law counts them (§§ 187, 188, 193 BGB), in the customer's
calendar: their time zone and the public holidays of their federal state.

- §187(1): a period that starts with an event (the confirmation reaching the customer) starts
  the next day; the day of the event does not count.
- §188(1): a period of days ends at the end of its last day.
- §193: if the last day is a Saturday, Sunday or a public holiday at the place, the period ends
  on the next working day instead.

Public holidays come from the `holidays` library: the federal state's where it is known, else
the nationwide ones.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

DEFAULT_TIME_ZONE = "Europe/Berlin"
DEFAULT_COUNTRY = "DE"
WITHDRAWAL_DAYS = 14
"""Withdrawal period of a distance contract (§ 355(2) BGB)."""


def known_time_zone(value: str) -> str:
    """An IANA time zone name, or ValueError."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Berlin") from None
    return value


def known_federal_state(value: str) -> str:
    """An ISO 3166-2 code (DE-BY) of a subdivision whose holidays are known, or ValueError."""
    country, _, subdivision = value.partition("-")
    supported = holidays.list_supported_countries().get(country)
    if supported is None or subdivision not in supported:
        raise ValueError(
            f"{value!r} is not a federal state with known public holidays (e.g. DE-BY, DE-NW)"
        )
    return value


@cache
def _holidays(country: str, subdivision: str | None) -> holidays.HolidayBase:
    return holidays.country_holidays(country, subdiv=subdivision)


def is_working_day(day: date, federal_state: str | None = None) -> bool:
    """Not a Saturday, Sunday or public holiday of `federal_state` (nationwide if None)."""
    country, _, subdivision = (federal_state or DEFAULT_COUNTRY).partition("-")
    return day.weekday() < 5 and day not in _holidays(country, subdivision or None)


def period_end(
    event_at: datetime,
    days: int,
    *,
    time_zone: str = DEFAULT_TIME_ZONE,
    federal_state: str | None = None,
) -> date:
    """The last day of a period of `days` days that starts with an event at `event_at`, in the
    calendar of `time_zone` (§§ 187(1), 188(1), 193 BGB)."""
    event_day = event_at.astimezone(ZoneInfo(time_zone)).date()
    last = event_day + timedelta(days=days)
    while not is_working_day(last, federal_state):
        last += timedelta(days=1)
    return last


def withdrawal_ends_on(
    received_at: datetime,
    *,
    time_zone: str = DEFAULT_TIME_ZONE,
    federal_state: str | None = None,
) -> date:
    """The last day to withdraw from a distance contract whose confirmation reached the customer
    at `received_at` (14 days, § 355(2) BGB, counted by §§ 187, 188, 193 BGB)."""
    return period_end(
        received_at, WITHDRAWAL_DAYS, time_zone=time_zone, federal_state=federal_state
    )
