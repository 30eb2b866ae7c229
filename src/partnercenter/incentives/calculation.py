"""The arithmetic of incentives (I1) and their reconciliation calendar, with no database access.

:func:`line_amount` is the one rounding point: the worker that generates incentives, the API and
the exports all call it, so a line's amount is ``round_minor(base × rate)`` (half-up, the
currency's minor unit) wherever it is shown, and an incentive's amount is the exact sum of its
lines' (:func:`incentive_amount`), never a rounding of the summed base.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import NamedTuple

from partnercenter.core import clock
from partnercenter.core.money import CONTEXT, ZERO, round_minor

DUE_DAY = 5  # a period's incentives are generated on the 5th of the month after it, like bills


class RateRow(NamedTuple):
    """A program's rate as :func:`choose_rate` reads it."""

    product_type: str
    min_base: Decimal
    rate: Decimal


def line_amount(base: Decimal, rate: Decimal, currency: str) -> Decimal:
    """The amount of a line of eligible ``base`` at ``rate``, rounded half-up to the minor unit."""
    return round_minor(CONTEXT.multiply(base, rate), currency)


def incentive_amount(amounts: Iterable[Decimal]) -> Decimal:
    """An incentive's amount: the exact sum of its lines' amounts."""
    total = ZERO
    for amount in amounts:
        total = CONTEXT.add(total, amount)
    return total


def choose_rate(rates: Iterable[RateRow], product_type: str, period_base: Decimal) -> Decimal | None:
    """The rate of ``product_type`` for a partner whose whole-period eligible base is
    ``period_base``: the highest tier reached (``min_base ≤ period_base``) among the product type's
    own rates, or among the ``''`` rates when it has none. None when no tier is reached."""
    rows = list(rates)
    own = [r for r in rows if r.product_type == product_type]
    tiers = own or [r for r in rows if r.product_type == ""]
    reached = [r for r in tiers if r.min_base <= period_base]
    if not reached:
        return None
    return max(reached, key=lambda r: r.min_base).rate


# ---- the reconciliation calendar (billing time zone) ------------------------------------------


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def period_months(kind: str) -> int:
    return 3 if kind == "quarterly" else 1


def period_start(day: dt.date, kind: str) -> dt.date:
    """The first day of the period holding ``day``: its month, or its quarter (Jan/Apr/Jul/Oct)."""
    if kind == "quarterly":
        return dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return day.replace(day=1)


def period_end(start: dt.date, kind: str) -> dt.date:
    """The first day after the period starting on ``start``."""
    return add_months(start, period_months(kind))


def next_period(start: dt.date, kind: str) -> dt.date:
    return period_end(start, kind)


def due_at(start: dt.date, kind: str) -> dt.datetime:
    """The instant from which the period's incentives are generated: 00:00 on the 5th of the month
    after the period ends (billing time zone)."""
    return clock.start_of_day(period_end(start, kind).replace(day=DUE_DAY))


def deadline(generated_at: dt.datetime, confirmation_days: int) -> dt.datetime:
    """The end of the ``confirmation_days``-th day after the generation day: confirming is possible
    while now < deadline, and an unconfirmed incentive is confirmed automatically from it on (I3)."""
    day = clock.billing_date(generated_at) + dt.timedelta(days=confirmation_days + 1)
    return clock.start_of_day(day)
