"""The withdrawal period of a contract by phone, counted as German law counts periods:
§187(1) BGB (from the day after receipt), §188(1) (ends with its 14th day), §193 (a Saturday,
Sunday or public holiday moves the end to the next working day), in the customer's calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from interactions.periods import is_working_day, known_federal_state, withdrawal_ends_on


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_a_confirmation_after_midnight_in_germany_counts_from_the_german_day() -> None:
    # 2026-11-27T23:30Z is 00:30 on Saturday 28 November in Berlin: day 1 is 29 November, day 14
    # is Saturday 12 December, so the period ends on Monday 14 December (not 11 December).
    assert withdrawal_ends_on(utc(2026, 11, 27, 23, 30)) == date(2026, 12, 14)


def test_the_same_instant_counts_from_the_utc_day_in_a_zone_where_it_still_is() -> None:
    # 18:30 on Friday 27 November in New York: day 14 is Friday 11 December
    assert withdrawal_ends_on(utc(2026, 11, 27, 23, 30), time_zone="America/New_York") == date(
        2026, 12, 11
    )


@pytest.mark.parametrize(
    ("received", "ends"),
    [
        # across a month end: 20 Jan + 14 = 3 Feb (Tuesday)
        (utc(2026, 1, 20, 10), date(2026, 2, 3)),
        # February of a common year: 16 Feb + 14 = 2 March (Monday)
        (utc(2026, 2, 16, 10), date(2026, 3, 2)),
        # February of a leap year: 16 Feb 2028 + 14 = 1 March (Wednesday)
        (utc(2028, 2, 16, 10), date(2028, 3, 1)),
        # 31 days in a month: 17 Aug + 14 = 31 Aug (Monday)
        (utc(2026, 8, 17, 10), date(2026, 8, 31)),
    ],
)
def test_month_ends(received: datetime, ends: date) -> None:
    assert withdrawal_ends_on(received) == ends


def test_year_end_and_new_year_holiday() -> None:
    # 18 Dec 2026 + 14 = Friday 1 January 2027, New Year's Day: Monday 4 January
    assert withdrawal_ends_on(utc(2026, 12, 18, 10)) == date(2027, 1, 4)
    # 2026-12-30T23:30Z is 00:30 on New Year's Eve in Berlin: 31 Dec + 14 = Thursday 14 January
    assert withdrawal_ends_on(utc(2026, 12, 30, 23, 30)) == date(2027, 1, 14)


def test_christmas_holidays_move_the_end() -> None:
    # 11 Dec + 14 = Friday 25 December (holiday), 26 (holiday, Saturday), 27 Sunday: Monday 28th
    assert withdrawal_ends_on(utc(2026, 12, 11, 10)) == date(2026, 12, 28)


def test_dst_start_counts_the_local_day() -> None:
    # 2026-03-28T23:30Z is 00:30 CET on 29 March, the night clocks go forward: 29 + 14 = 12 April
    # (Sunday) -> Monday 13 April
    assert withdrawal_ends_on(utc(2026, 3, 28, 23, 30)) == date(2026, 4, 13)
    # one hour earlier it is still 28 March: 28 + 14 = 11 April (Saturday) -> Monday 13 April
    assert withdrawal_ends_on(utc(2026, 3, 28, 22, 30)) == date(2026, 4, 13)
    # 2026-03-29T22:30Z is 00:30 CEST on 30 March: 30 + 14 = 13 April (Monday)
    assert withdrawal_ends_on(utc(2026, 3, 29, 22, 30)) == date(2026, 4, 13)


def test_dst_end_counts_the_local_day() -> None:
    # 2026-10-24T22:30Z is 00:30 CEST on Sunday 25 October (clocks go back that night):
    # 25 + 14 = Sunday 8 November -> Monday 9 November
    assert withdrawal_ends_on(utc(2026, 10, 24, 22, 30)) == date(2026, 11, 9)
    # 2026-10-25T23:30Z is 00:30 CET on 26 October: 26 + 14 = Monday 9 November
    assert withdrawal_ends_on(utc(2026, 10, 25, 23, 30)) == date(2026, 11, 9)
    # 2026-10-25T22:30Z is still 23:30 CET on 25 October
    assert withdrawal_ends_on(utc(2026, 10, 25, 22, 30)) == date(2026, 11, 9)


def test_a_holiday_of_the_federal_state_counts_only_there() -> None:
    # Corpus Christi, Thursday 4 June 2026: a holiday in Bavaria, not in Berlin
    received = utc(2026, 5, 21, 10)
    assert withdrawal_ends_on(received, federal_state="DE-BE") == date(2026, 6, 4)
    assert withdrawal_ends_on(received, federal_state="DE-BY") == date(2026, 6, 5)
    assert withdrawal_ends_on(received) == date(2026, 6, 4), "nationwide holidays only"


def test_a_nationwide_holiday_counts_everywhere() -> None:
    # Good Friday 3 April 2026, Easter Monday 6 April: 20 March + 14 = 3 April -> 7 April
    assert withdrawal_ends_on(utc(2026, 3, 20, 17)) == date(2026, 4, 7)
    assert not is_working_day(date(2026, 4, 3))
    assert is_working_day(date(2026, 4, 7), "DE-NW")


def test_federal_states_are_iso_codes_the_calendar_knows() -> None:
    assert known_federal_state("DE-BY") == "DE-BY"
    for bad in ("DE-XX", "XX-BY", "BY"):
        with pytest.raises(ValueError, match="federal state"):
            known_federal_state(bad)
