"""Customer expenditure API (E1-E6): summary and details, scoped like the console."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema

from partnercenter.accounts.schemas import ErrorOut
from partnercenter.core import menus
from partnercenter.core.decorators import router_menu
from partnercenter.core.errors import ValidationFailed
from partnercenter.core.masking import mask_email, mask_mobile, mask_name
from partnercenter.core.pagination import IsoDate, limit_field, offset_field

from . import selectors, services

router = Router(tags=["expenditure"])
router_menu(router, menus.CUSTOMER_EXPENDITURE)

RESPONSES: dict[int, Any] = {200: dict[str, Any], 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}

NOTICE = (
    "The customer expenditure summary is not the partner bill and cannot be used as the basis for "
    "settlement, repayment or billing. Data of day D is available after 24:00 of day D+1 (billing time zone)."
)


def _user(request: HttpRequest) -> Any:
    user: Any = request.user
    return user


def _money(totals: dict[str, dict[str, Decimal]]) -> dict[str, dict[str, str]]:
    return {cur: {k: format(v, "f") for k, v in t.items()} for cur, t in sorted(totals.items())}


def _period(p: selectors.Period) -> dict[str, Any]:
    return {
        "start": p.start.isoformat(),
        "end": p.end.isoformat(),
        "last_visible_day": p.last_visible_day.isoformat(),
        "complete_through": p.complete_through.isoformat() if p.complete_through else None,
        # No dates were given and nothing of this month is queryable yet: last month is shown.
        "fell_back_to_last_month": p.fell_back,
    }


def _check_period(start: dt.date | None, end: dt.date | None) -> None:
    if start and end and start > end:
        raise ValidationFailed(
            f"start ({start.isoformat()}) must not be after end ({end.isoformat()}).",
            details=[{"where": "query.start", "why": "after query.end"}],
        )


def _reveal(user: Any, raw: str, where: str) -> frozenset[str]:
    """The audited reveal of the ``reveal`` option (E5); blank items of the list are ignored."""
    wanted = [c.strip() for c in raw.split(",") if c.strip()]
    return services.reveal(user, wanted, where=where) if wanted else frozenset()


class SummaryQuery(Schema):
    name: str = ""
    start: IsoDate | None = None
    end: IsoDate | None = None
    manager: str = ""
    association_type: str = ""
    sort: str = "-expenditure"
    limit: int = limit_field()
    offset: int = offset_field()
    reveal: str = ""


@router.get(
    "/summary",
    response=RESPONSES,
    summary="Expenditure summary per customer",
    description="One row per customer (and association type and currency) for the period; totals cover the "
    "whole filter. Amounts are exact decimal strings; refund is shown positive; net = Σ BilledCost. "
    "`reveal=name,email,mobile` shows sensitive columns to roles allowed to (recorded in the audit log). " + NOTICE,
)
def summary(request: HttpRequest, q: Query[SummaryQuery]) -> dict[str, Any]:
    user = _user(request)
    if q.association_type and q.association_type not in ("reseller", "referral"):
        raise ValidationFailed("association_type must be reseller or referral.")
    if q.sort.lstrip("-") not in selectors.SUMMARY_SORTS:
        raise ValidationFailed(f"sort must be one of {', '.join(selectors.SUMMARY_SORTS)} (optionally with -).")
    _check_period(q.start, q.end)
    manager_id = None
    if q.manager:
        from partnercenter.partners.selectors import account_managers

        m = account_managers(user).filter(username=q.manager).first()
        if m is None:
            raise ValidationFailed(f"No account manager {q.manager!r}.")
        manager_id = m.pk
    reveal = _reveal(user, q.reveal, "api:/expenditure/summary")
    f = selectors.SummaryFilter(q.name, q.start, q.end, manager_id, q.association_type, q.sort)
    limit = max(1, min(q.limit, 500))
    result = selectors.summary(user, f, limit=limit, offset=max(0, q.offset))
    return {
        "notice": NOTICE,
        "period": _period(result.period),
        "total": result.total,
        "limit": limit,
        "offset": max(0, q.offset),
        "totals": _money(result.totals),
        "items": [
            {
                "account_id": r.account_id,
                "customer_name": r.name if "name" in reveal else mask_name(r.name),
                "email": r.email if "email" in reveal else mask_email(r.email),
                "mobile": r.mobile if "mobile" in reveal else mask_mobile(r.mobile),
                "association_type": r.association_type,
                "account_manager": r.manager_username,
                "currency": r.currency,
                "expenditure": format(r.expenditure, "f"),
                "refund": format(r.refund, "f"),
                "adjustment": format(r.adjustment, "f"),
                "tax": format(r.tax, "f"),
                "net": format(r.net, "f"),
            }
            for r in result.rows
        ],
    }


class DetailsQuery(Schema):
    account_id: str = ""
    start: IsoDate | None = None
    end: IsoDate | None = None
    product: str = ""
    service_type: str = ""
    region_id: str = ""
    billing_mode: str = ""
    classification: str = ""
    order_id: str = ""
    resource_id: str = ""
    project: str = ""
    limit: int = limit_field()
    offset: int = offset_field()
    reveal: str = ""


def _str(v: Any) -> Any:
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    return v


@router.get(
    "/details",
    response=RESPONSES,
    summary="Expenditure details (line items)",
    description="The line items behind the summary, newest first, with the period's totals per currency. "
    "Customer names are masked unless `reveal=name` asks to see them, for roles allowed to (recorded in the audit "
    "log). " + NOTICE,
)
def details(request: HttpRequest, q: Query[DetailsQuery]) -> dict[str, Any]:
    user = _user(request)
    _check_period(q.start, q.end)
    if q.service_type and q.service_type not in ("cloud", "marketplace"):
        raise ValidationFailed("service_type must be cloud or marketplace.")
    if q.classification and q.classification not in selectors.CLASSES:
        raise ValidationFailed(f"classification must be one of {', '.join(selectors.CLASSES)}.")
    if {c.strip() for c in q.reveal.split(",") if c.strip()} - {"name"}:
        raise ValidationFailed(
            "reveal: only name can be revealed in the details.", details=[{"where": "query.reveal", "why": q.reveal}]
        )
    reveal = _reveal(user, q.reveal, "api:/expenditure/details")
    fields = {k: getattr(q, k) for k in selectors.DetailFilter.__dataclass_fields__}
    f = selectors.DetailFilter(**fields)
    limit = max(1, min(q.limit, 500))
    result = selectors.details(user, f, limit=limit, offset=max(0, q.offset))
    items = []
    for row in result.rows:
        item = {k.replace("customer__", "customer_").replace("partner__", "partner_"): _str(v) for k, v in row.items()}
        item["customer_name"] = row["customer__name"] if "name" in reveal else mask_name(row["customer__name"])
        items.append(item)
    return {
        "notice": NOTICE,
        "period": _period(result.period),
        "total": result.total,
        "limit": limit,
        "offset": max(0, q.offset),
        "totals": _money(result.totals),
        "items": items,
    }
