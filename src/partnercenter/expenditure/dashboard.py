"""The dashboard's expenditure panel: the expenditure of the current period so far (the same
default period and totals as Customer Expenditure shows) and its trend over the last 12 months
(this month included), drawn like the partner bill chart (:mod:`partnercenter.billing.chart`).
Every figure comes from :func:`.selectors.summary`, so scoping, E2 and E3 apply unchanged."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from partnercenter.accounts.models import User
from partnercenter.billing import chart
from partnercenter.billing.models import Bill
from partnercenter.core import clock, dashboard, menus
from partnercenter.core.money import round_minor

from . import selectors


@dataclass(frozen=True)
class MonthTotal:
    """What the chart reads of a bill: a month, a currency and an amount."""

    month: dt.date
    currency: str
    amount: Decimal


def shown(value: Decimal, currency: str) -> str:
    """As Customer Expenditure shows an amount: minor unit, grouped, never "-0.00"."""
    rounded = round_minor(value, currency)
    return f"{abs(rounded) if rounded == 0 else rounded:,}"


def trend_months(at: dt.datetime) -> list[dt.date]:
    """The 12 months ending with the current one (billing time zone), oldest first."""
    return [*chart.last_months(at)[1:], clock.billing_date(at).replace(day=1)]


def _month_end(month: dt.date) -> dt.date:
    nxt = dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def monthly_totals(user: User, at: dt.datetime) -> list[MonthTotal]:
    """The expenditure of each trend month and currency (the current month up to its last visible day)."""
    rows = []
    for month in trend_months(at):
        f = selectors.SummaryFilter(start=month, end=_month_end(month))
        result = selectors.summary(user, f, limit=0, at=at)
        if result.period.empty:
            continue
        rows += [MonthTotal(month, cur, t["expenditure"]) for cur, t in sorted(result.totals.items())]
    return rows


def context(user: User) -> dict[str, Any] | None:
    if user.partner_id is None:
        return None  # an operator has no partner figures of their own
    at = clock.now()
    current = selectors.summary(user, selectors.SummaryFilter(), limit=0, at=at)
    months = trend_months(at)
    return {
        "period": current.period,
        "figures": [(cur, shown(t["expenditure"], cur)) for cur, t in sorted(current.totals.items())],
        "charts": chart.build(cast(list[Bill], monthly_totals(user, at)), months),
    }


dashboard.register(
    dashboard.Panel(
        code="expenditure",
        menu=menus.CUSTOMER_EXPENDITURE,
        template="core/panels/expenditure.html",
        order=10,
        context=context,
    )
)
