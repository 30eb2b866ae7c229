"""The calendar window the ledger accepts (docs/architecture.md, "Usage ledger").

Charges, billing periods and customer associations must fall between 2000-01-01 00:00 and
2100-01-01 00:00 in the billing time zone (the end is allowed as an exclusive period end). Dates
far outside it are typing errors, and at the edges of Python's calendar (year 1, year 9999) a
time zone conversion overflows.
"""

from __future__ import annotations

import datetime as dt

from . import clock

FIRST_DAY = dt.date(2000, 1, 1)
END_DAY = dt.date(2100, 1, 1)  # exclusive for days; an instant may be exactly its 00:00


class OutOfRange(ValueError):
    pass


def _window() -> str:
    return f"{FIRST_DAY.isoformat()} to {(END_DAY - dt.timedelta(days=1)).isoformat()}"


def check_day(day: dt.date) -> dt.date:
    """``day`` (a billing-time-zone calendar day) if it is inside the window."""
    if not FIRST_DAY <= day < END_DAY:
        raise OutOfRange(f"outside the accepted dates {_window()}")
    return day


def check_instant(value: dt.datetime) -> dt.datetime:
    """``value`` (aware) if it is inside the window; checked before any conversion can overflow."""
    if not FIRST_DAY.year - 1 <= value.year <= END_DAY.year:
        raise OutOfRange(f"outside the accepted dates {_window()} ({clock.billing_tz()})")
    tz = clock.billing_tz()
    first = dt.datetime.combine(FIRST_DAY, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(END_DAY, dt.time.min, tzinfo=tz)
    if not first <= value <= end:
        raise OutOfRange(f"outside the accepted dates {_window()} ({tz})")
    return value
