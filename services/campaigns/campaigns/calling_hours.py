"""Calling hours: when an outbound call may ring, in the customer's local time.

German practice by default: Monday to Saturday, 09:00 to 20:00, not on Sundays nor on public
holidays (the configured country's, via the `holidays` library). The customer's zone is the one
in their profile, else the one their phone number implies (libphonenumber's time zone data),
else the configured default (Europe/Berlin). A number that spans several zones (a country with
more than one) is called only when it is within hours in all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import phonenumbers
from phonenumbers import timezone as phone_zones

DEFAULT_ZONE = "Europe/Berlin"
MONDAY_TO_SATURDAY = frozenset(range(6))
MAX_DAYS_AHEAD = 60


@dataclass(frozen=True)
class CallingHours:
    """Local times of day and weekdays (0 = Monday) calls may ring, and whose holidays count."""

    start: time = time(9)
    end: time = time(20)
    weekdays: frozenset[int] = MONDAY_TO_SATURDAY
    holiday_country: str | None = "DE"
    """ISO country whose nationwide public holidays are closed; None for none."""
    holiday_subdivision: str | None = None
    default_zone: str = DEFAULT_ZONE
    extra_closed_days: frozenset[date] = field(default_factory=frozenset)

    def closed_on(self, day: date) -> bool:
        if day.weekday() not in self.weekdays or day in self.extra_closed_days:
            return True
        if self.holiday_country is None:
            return False
        return day in _calendar(self.holiday_country, self.holiday_subdivision, day.year)

    def open_at(self, local: datetime) -> bool:
        """Whether a call may ring at this local wall-clock time."""
        return not self.closed_on(local.date()) and self.start <= local.time() < self.end


@cache
def _calendar(country: str, subdivision: str | None, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, subdiv=subdivision, years=year)


def customer_zones(
    profile_zone: str | None, phone_number: str | None, default: str = DEFAULT_ZONE
) -> tuple[ZoneInfo, ...]:
    """The customer's zone(s): profile, else the phone number's, else the default."""
    if profile_zone:
        zone = _zone(profile_zone)
        if zone is not None:
            return (zone,)
    if phone_number:
        zones = _phone_zones(phone_number)
        if zones:
            return zones
    return (ZoneInfo(default),)


def zones_from(
    profile_zone: str | None, phone_zone_names: Sequence[str], default: str = DEFAULT_ZONE
) -> tuple[ZoneInfo, ...]:
    """The customer's zone(s) from the profile, else the names the phone number implied
    (`phone_zone_names`), else the default."""
    if profile_zone:
        zone = _zone(profile_zone)
        if zone is not None:
            return (zone,)
    found = tuple(z for z in (_zone(n) for n in phone_zone_names) if z is not None)
    return found or (ZoneInfo(default),)


def phone_zone_names(phone_number: str) -> list[str]:
    """The time zones a phone number implies (libphonenumber's data); empty when unknown."""
    return [z.key for z in _phone_zones(phone_number)]


@cache
def _phone_zones(phone_number: str) -> tuple[ZoneInfo, ...]:
    try:
        parsed = phonenumbers.parse(phone_number)
    except phonenumbers.NumberParseException:
        return ()
    names = phone_zones.time_zones_for_number(parsed)
    found = [z for z in (_zone(n) for n in names if n != phone_zones.UNKNOWN_TIMEZONE) if z]
    return tuple(found)


@cache
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def next_open(at: datetime, zones: Sequence[ZoneInfo], hours: CallingHours) -> datetime | None:
    """The first moment at or after `at` within calling hours in every zone; None if none
    within MAX_DAYS_AHEAD (hours that never open)."""
    moment = at
    for _ in range(4 * len(zones) + 4):
        later = [_next_open_in(moment, z, hours) for z in zones]
        if any(t is None for t in later):
            return None
        latest = max(t for t in later if t is not None)
        if latest == moment:
            return moment
        moment = latest
    return None


def _next_open_in(at: datetime, zone: ZoneInfo, hours: CallingHours) -> datetime | None:
    local = at.astimezone(zone)
    if hours.open_at(local):
        return at
    day = local.date()
    if local.time() >= hours.start:
        day += timedelta(days=1)
    for _ in range(MAX_DAYS_AHEAD):
        if not hours.closed_on(day):
            opening = datetime.combine(day, hours.start, tzinfo=zone)
            return opening.astimezone(at.tzinfo)
        day += timedelta(days=1)
    return None
