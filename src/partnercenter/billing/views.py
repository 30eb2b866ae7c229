"""Console: Sales › Financial Information › Partner Bills, Bills tab (seed 001). The Monthly Bills
pane is rendered here; the Amount Due pane, payments, PDFs, exports and the chart are their own
views at the relative URLs the templates name."""

from __future__ import annotations

import re
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _

from partnercenter import scoping
from partnercenter.core import menus
from partnercenter.core.decorators import current_user, menu_required
from partnercenter.partners.models import Partner

from . import selectors
from .models import Bill

_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
VIEWS = ("product", "customer")
CUSTOMERS_PER_PAGE = 50


def _partner(request: HttpRequest, problems: list[str]) -> Partner | None:
    user = current_user(request)
    in_scope = scoping.partners_for(user).order_by("code")
    code = request.GET.get("partner", "")
    if code:
        found = in_scope.filter(code=code).first()
        if found is None:
            problems.append(_("Partner: no partner with code %(code)s is yours to view.") % {"code": code[:64]})
        return found
    if user.partner is not None:
        return user.partner
    return in_scope.filter(pk__in=Bill.objects.values("partner_id")).first() or in_scope.first()


def _chosen_bill(request: HttpRequest, bills: list[Bill], problems: list[str]) -> Bill | None:
    month, currency = request.GET.get("month", ""), request.GET.get("currency", "")
    if month and not _MONTH.fullmatch(month):
        problems.append(_("Month: %(value)s is not a month as YYYY-MM.") % {"value": month[:20]})
        return None
    if month:
        bills = [b for b in bills if f"{b.month:%Y-%m}" == month]
        if not bills:
            problems.append(_("Month: there is no bill for %(month)s.") % {"month": month})
            return None
    if currency:
        bills = [b for b in bills if b.currency == currency] or bills
    return bills[0] if bills else None


def _monthly(request: HttpRequest, partner: Partner | None, problems: list[str]) -> dict[str, Any]:
    user = current_user(request)
    bills = list(selectors.bills_for(user).filter(partner=partner)) if partner else []
    bill = _chosen_bill(request, bills, problems)
    view = request.GET.get("view", "product")
    if view not in VIEWS:
        problems.append(_("View: choose By Product or By Customer."))
        view = "product"
    ctx: dict[str, Any] = {
        "partner": partner,
        "bill": bill,
        "months": sorted({f"{b.month:%Y-%m}" for b in bills}, reverse=True),
        "currencies": sorted({b.currency for b in bills if bill and b.month == bill.month}),
        "view": view,
        "estimates": selectors.latest_estimates(partner) if partner else [],
    }
    if bill is None:
        return ctx
    ctx["figures"] = selectors.figures(bill)
    ctx["month_end"] = selectors.month_end(bill.month)
    if view == "customer":
        ctx["customers"] = Paginator(selectors.by_customer(bill), CUSTOMERS_PER_PAGE).get_page(request.GET.get("page"))
    else:
        region = request.GET.get("region", "")[:64]
        ctx["product"] = selectors.by_product(bill, region)
    return ctx


@menu_required(menus.PARTNER_BILLS)
def index(request: HttpRequest) -> HttpResponse:
    problems: list[str] = []
    partner = _partner(request, problems)
    ctx = _monthly(request, partner, problems)
    ctx["problems"] = problems
    ctx["partners"] = scoping.partners_for(current_user(request)).order_by("code")
    partial = _is_htmx(request)
    status = 400 if problems and not partial else 200
    response = render(request, "billing/_monthly.html" if partial else "billing/index.html", ctx, status=status)
    # The pane and the page share a URL (hx-push-url): Back must not get the cached pane alone.
    patch_vary_headers(response, ["HX-Request"])
    return response


def _is_htmx(request: HttpRequest) -> bool:
    """An htmx swap of the Monthly Bills pane; htmx restoring history asks for the whole page."""
    headers = request.headers
    return headers.get("HX-Request") == "true" and "HX-History-Restore-Request" not in headers
