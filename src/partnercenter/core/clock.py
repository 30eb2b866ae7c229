"""The one clock: every "now" in Partner Center comes from here so tests can move time.

Storage is UTC. Calendar days and months are taken in the billing time zone
(``settings.BILLING_TIME_ZONE``, Asia/Shanghai by default).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.utils import timezone

_frozen: dt.datetime | None = None


def now() -> dt.datetime:
    """The current instant, aware, in UTC."""
    if _frozen is not None:
        return _frozen
    return timezone.now()


@contextmanager
def frozen_at(instant: dt.datetime) -> Iterator[None]:
    """Make :func:`now` answer ``instant`` inside the block (tests and the demo)."""
    global _frozen
    if timezone.is_naive(instant):
        raise ValueError("frozen_at needs an aware datetime")
    previous, _frozen = _frozen, instant.astimezone(dt.UTC)
    try:
        yield
    finally:
        _frozen = previous


def billing_tz() -> dt.tzinfo:
    return settings.BILLING_TIME_ZONE


def billing_date(instant: dt.datetime) -> dt.date:
    """The calendar day of ``instant`` in the billing time zone."""
    return instant.astimezone(billing_tz()).date()


def today() -> dt.date:
    return billing_date(now())


def start_of_day(day: dt.date) -> dt.datetime:
    """00:00:00 of ``day`` in the billing time zone, as a UTC instant."""
    local = dt.datetime.combine(day, dt.time.min, tzinfo=billing_tz())
    return local.astimezone(dt.UTC)


def start_of_next_day(instant: dt.datetime) -> dt.datetime:
    """00:00:00 of the billing-time-zone day after the one ``instant`` falls on (rule E3)."""
    return start_of_day(billing_date(instant) + dt.timedelta(days=1))
