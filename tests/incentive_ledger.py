"""Line items and programs for the incentive calculation tests: records ingested through the
same path as real data (native format, with product type and order id), programs defined through
``incentives.programs``. Built on the ``org`` fixture of conftest."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from partnercenter.core import clock
from partnercenter.incentives import programs
from partnercenter.incentives.models import Incentive, Program
from partnercenter.incentives.programs import RateSpec
from partnercenter.usage import services as usage_services

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
MARCH, APRIL, MAY = dt.date(2026, 3, 1), dt.date(2026, 4, 1), dt.date(2026, 5, 1)
# Programs are defined on 1 February; the org's customers are associated from 9 January.
DEFINED = dt.datetime(2026, 2, 1, 10, 0, tzinfo=SHANGHAI)


def on(day: int, month: int = 3, hour: int = 10, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, second, tzinfo=SHANGHAI)


def rec(
    line_id: str,
    account: str,
    billed: str,
    start: dt.datetime,
    *,
    product: str = "Compute",
    order: str = "",
    **extra: str,
) -> dict[str, str]:
    utc = start.astimezone(dt.UTC)
    r = {
        "line_id": line_id,
        "account_id": account,
        "billed_cost": billed,
        "currency": "USD",
        "charge_category": "Usage",
        "charge_period_start": utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "charge_period_end": (utc + dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "service_name": "ECS",
        "service_type": "cloud",
        "service_category": product,
        "order_id": order,
        "region_id": "ap-shanghai",
        "billing_mode": "pay_per_use",
    }
    r.update(extra)
    return r


def ingest(records: list[dict[str, str]], at: dt.datetime) -> None:
    with clock.frozen_at(at):
        report = usage_services.ingest_records(records, fmt="native", source="t")
    assert report.error_count == 0, report.errors


def program(code: str, rates: list[RateSpec], **extra: Any) -> Program:
    fields: dict[str, Any] = {
        "name": code.replace("-", " ").title(),
        "period": "monthly",
        "currency": "USD",
        "association_type": "reseller",
        "valid_from": dt.date(2026, 2, 1),
        "partner_kinds": ["solution_provider"],
    }
    fields.update(extra)
    with clock.frozen_at(DEFINED):
        return programs.create_program(code=code, rates=rates, **fields)


def get(code: str, partner: str, period: dt.date, kind: str = "earning") -> Incentive:
    return Incentive.objects.get(program__code=code, partner__code=partner, period_start=period, kind=kind)


def lines(incentive: Incentive) -> list[tuple[str, str, str, Decimal, Decimal, Decimal]]:
    """(customer, order, product type, base, rate, amount) in customer, order, product order."""
    rows = incentive.lines.select_related("customer").order_by("customer__account_id", "order_id", "product_type")
    return [(r.customer.account_id, r.order_id, r.product_type, r.base_amount, r.rate, r.amount) for r in rows]


def d(text: str) -> Decimal:
    return Decimal(text)
