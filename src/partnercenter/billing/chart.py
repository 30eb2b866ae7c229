"""The 12-month chart of a partner's bill amounts, drawn on the server as inline SVG (no script,
no CDN): geometry from exact amounts, coordinates rounded to a tenth of a pixel."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from partnercenter.core import clock, money

from .models import Bill

MONTHS = 12
WIDTH, HEIGHT = 720, 230
LEFT, RIGHT, TOP, BOTTOM = 64, 8, 22, 40
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
SLOT = Decimal(PLOT_W) / MONTHS
BAR = Decimal(30)
TENTH = Decimal("0.1")


def _px(value: Decimal) -> str:
    return str(value.quantize(TENTH, rounding=money.ROUNDING))


def compact(value: Decimal) -> str:
    """``1,298,508.51`` → ``1.30M``: a bar's label; the exact amount is in its tooltip."""
    sign = "-" if value < 0 else ""
    v = abs(value)
    for limit, suffix in ((Decimal(10) ** 9, "B"), (Decimal(10) ** 6, "M"), (Decimal(10) ** 3, "K")):
        if v >= limit:
            return f"{sign}{(v / limit).quantize(Decimal('0.01'), rounding=money.ROUNDING)}{suffix}"
    return f"{sign}{v.quantize(Decimal(1), rounding=money.ROUNDING)}"


def last_months(at: dt.datetime) -> list[dt.date]:
    """The 12 billed months before the current one (billing time zone), oldest first."""
    first = clock.billing_date(at).replace(day=1)
    months = []
    for back in range(MONTHS, 0, -1):
        index = first.year * 12 + first.month - 1 - back
        months.append(dt.date(index // 12, index % 12 + 1, 1))
    return months


@dataclass(frozen=True)
class Bar:
    month: dt.date
    label: str  # the month as shown under the bar
    amount: Decimal | None  # None: no bill that month
    amount_text: str
    value_label: str
    x: str
    y: str
    height: str
    text_x: str
    text_y: str
    negative: bool


@dataclass(frozen=True)
class Chart:
    currency: str
    bars: list[Bar]
    zero_y: str
    top_label: str
    bottom_label: str  # empty when it would sit on the zero line
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_top: int = TOP
    plot_bottom: int = TOP + PLOT_H


def _bar(i: int, month: dt.date, amount: Decimal | None, currency: str, zero: Decimal, scale: Decimal) -> Bar:
    x = LEFT + SLOT * i + (SLOT - BAR) / 2
    a = amount or Decimal(0)
    height = abs(a) * scale
    y = zero - height if a >= 0 else zero
    text_y = y - 4 if a >= 0 else zero + height + 11
    label = f"{month:%m}" if month.month != 1 and i else f"{month:%Y-%m}"
    return Bar(
        month=month,
        label=label,
        amount=amount,
        amount_text="—" if amount is None else f"{money.round_minor(amount, currency):,}",
        value_label="" if amount is None else compact(amount),
        x=_px(x),
        y=_px(y),
        height=_px(height),
        text_x=_px(x + BAR / 2),
        text_y=_px(text_y),
        negative=a < 0,
    )


def build(bills: list[Bill], months: list[dt.date]) -> list[Chart]:
    """One chart per currency of ``bills`` over ``months``."""
    charts = []
    for currency in sorted({b.currency for b in bills}):
        by_month = {b.month: b.amount for b in bills if b.currency == currency}
        amounts = [by_month.get(m) for m in months]
        known = [a for a in amounts if a is not None]
        high = max([*known, Decimal(0)])
        low = min([*known, Decimal(0)])
        span = high - low
        # Room above the highest bar and below the lowest one for their labels.
        scale = (Decimal(PLOT_H) - 24) / span if span else Decimal(0)
        zero = TOP + 12 + high * scale
        charts.append(
            Chart(
                currency=currency,
                bars=[
                    _bar(i, m, a, currency, zero, scale) for i, (m, a) in enumerate(zip(months, amounts, strict=True))
                ],
                zero_y=_px(zero),
                top_label=compact(high),
                bottom_label=compact(low) if TOP + PLOT_H - zero >= 14 else "",
            )
        )
    return charts
