"""Calling hours for end-to-end campaign tests: open 08:00-20:00 every day without holidays, a
default zone where it is now about noon, and a far zone twelve hours away, about midnight."""

from __future__ import annotations

from datetime import UTC, datetime

NOW = datetime.now(UTC).replace(microsecond=0)


def zone(offset: int) -> str:
    """The fixed-offset zone `offset` hours east of UTC (the Etc names count the other way)."""
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


NOON = 12 - NOW.hour
FAR = NOON + 12 if NOON + 12 <= 14 else NOON - 12


def campaigns_env(interval_s: float) -> dict[str, str]:
    """The campaigns worker's settings for these hours, planning and dispatching every
    `interval_s` seconds."""
    return {
        "CAMPAIGNS_DEFAULT_TIME_ZONE": zone(NOON),
        "CAMPAIGNS_CALLING_HOURS_START": "08:00",
        "CAMPAIGNS_CALLING_HOURS_END": "20:00",
        "CAMPAIGNS_CALLING_WEEKDAYS": "[0,1,2,3,4,5,6]",
        "CAMPAIGNS_HOLIDAY_COUNTRY": "",
        "CAMPAIGNS_DISPATCH_INTERVAL_S": str(interval_s),
        "CAMPAIGNS_PLAN_INTERVAL_S": str(interval_s),
    }
