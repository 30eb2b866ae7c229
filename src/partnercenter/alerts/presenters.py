"""An alert's figures as people read them: labelled, amounts to the currency's minor unit, with
the exact stored text beside each amount for tests and copy."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils import formats
from django.utils.translation import gettext as _

from partnercenter.billing.payment_services import shown
from partnercenter.core import clock

from .models import AlertRule, CustomerAlert


@dataclass(frozen=True)
class Figure:
    code: str
    label: str
    value: str
    exact: str = ""


def _money(code: str, label: str, alert: CustomerAlert) -> Figure:
    text = str(alert.figures.get(code, "0"))
    return Figure(code, label, f"{shown(Decimal(text), alert.currency)} {alert.currency}", text)


def _credit(alert: CustomerAlert) -> list[Figure]:
    return [
        Figure("threshold_percent", _("Threshold"), f"{alert.figures.get('threshold_percent', '')}%"),
        _money("available", _("Available credit"), alert),
        _money("limit", _("Credit limit"), alert),
    ]


def _spike(alert: CustomerAlert) -> list[Figure]:
    f = alert.figures
    return [
        Figure("day", _("Day (billing time zone)"), str(f.get("day", ""))),
        _money("spend", _("Expenditure of the day"), alert),
        _money("previous_average", _("Average of the previous 14 days"), alert),
        _money("previous_total", _("Total of the previous 14 days"), alert),
        Figure(
            "rule",
            _("Rule"),
            _("Above %(factor)s × the average and at least %(floor)s %(currency)s")
            % {"factor": f.get("factor", ""), "floor": f.get("floor", ""), "currency": alert.currency},
        ),
    ]


def _unpaid(alert: CustomerAlert) -> list[Figure]:
    f = alert.figures
    generated = dt.datetime.fromisoformat(str(f.get("generated_at")))
    local = generated.astimezone(clock.billing_tz())
    return [
        Figure("month", _("Billing month"), str(f.get("month", ""))),
        Figure("generated_at", _("Generated at"), formats.date_format(local, "Y-m-d H:i")),
        _money("total", _("Bill total"), alert),
        _money("confirmed", _("Confirmed"), alert),
        _money("remaining", _("Amount to be confirmed"), alert),
        Figure("days", _("Unpaid for more than (days)"), str(f.get("days", ""))),
    ]


def figures(alert: CustomerAlert) -> list[Figure]:
    if alert.rule == AlertRule.SPEND_SPIKE:
        return _spike(alert)
    if alert.rule == AlertRule.UNPAID_BILL:
        return _unpaid(alert)
    return _credit(alert)


def summary(alert: CustomerAlert) -> str:
    """One line for the table: the figure that matters most for the rule."""
    f = alert.figures
    cur = alert.currency
    if alert.rule == AlertRule.SPEND_SPIKE:
        return _("%(spend)s %(currency)s on %(day)s; 14-day average %(average)s") % {
            "spend": shown(Decimal(f["spend"]), cur),
            "currency": cur,
            "day": f["day"],
            "average": shown(Decimal(f["previous_average"]), cur),
        }
    if alert.rule == AlertRule.UNPAID_BILL:
        return _("%(remaining)s %(currency)s of the %(month)s bill to be confirmed") % {
            "remaining": shown(Decimal(f["remaining"]), cur),
            "currency": cur,
            "month": f["month"],
        }
    return _("Available %(available)s of %(limit)s %(currency)s") % {
        "available": shown(Decimal(f["available"]), cur),
        "limit": shown(Decimal(f["limit"]), cur),
        "currency": cur,
    }
