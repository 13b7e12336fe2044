"""Simulated time: instants are integer seconds since the Unix epoch, always UTC.

Nothing here reads the wall clock or the process time zone. Central European time is computed
from the EU rule (last Sunday of March/October, 01:00 UTC) so that Adyen's CET/CEST labels do
not depend on the machine's tz database.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache

DAY = 86_400
_EPOCH = date(1970, 1, 1)
# Offsets the billing application's servers log with; the instant is the same whatever the offset.
EVENT_OFFSETS_MINUTES = (0, -300, 330, 60, -480, 540, 0, 120)


def day_start(d: date) -> int:
    return (d - _EPOCH).days * DAY


@cache
def _date_of_day(day_number: int) -> date:
    return _EPOCH + timedelta(days=day_number)


def utc_date(instant: int) -> date:
    return _date_of_day(instant // DAY)


@cache
def _offset_text(offset_minutes: int) -> str:
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{'-' if offset_minutes < 0 else '+'}{hours:02d}:{minutes:02d}"


def rfc3339(instant: int, offset_minutes: int) -> str:
    """The instant as local time at a fixed offset, e.g. '2026-10-05T08:03:14-05:00'."""
    day_number, seconds = divmod(instant + offset_minutes * 60, DAY)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return (
        f"{_date_of_day(day_number).isoformat()}T{hours:02d}:{minutes:02d}:{secs:02d}"
        f"{_offset_text(offset_minutes)}"
    )


def utc_text(instant: int) -> str:
    """'YYYY-MM-DD HH:MM:SS' in UTC, as Stripe's *_utc columns."""
    return f"{datetime.fromtimestamp(instant, UTC):%Y-%m-%d %H:%M:%S}"


def _last_sunday(year: int, month: int) -> date:
    last = date(year, month + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() + 1) % 7)


def central_european(instant: int) -> tuple[str, str]:
    """('YYYY-MM-DD HH:MM:SS' local, 'CET' | 'CEST') for an instant."""
    year = utc_date(instant).year
    summer_from = day_start(_last_sunday(year, 3)) + 3600
    summer_to = day_start(_last_sunday(year, 10)) + 3600
    summer = summer_from <= instant < summer_to
    local = instant + (7200 if summer else 3600)
    return utc_text(local), "CEST" if summer else "CET"


def is_business_day(d: date) -> bool:
    return d.weekday() < 5


def on_or_after_business_day(d: date) -> date:
    while not is_business_day(d):
        d += timedelta(days=1)
    return d


def add_business_days(d: date, n: int) -> date:
    d = on_or_after_business_day(d)
    for _ in range(n):
        d = on_or_after_business_day(d + timedelta(days=1))
    return d


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]
