"""Pages of the marketplace (O5): Share Product Link and Revenue Sharing. Thin: reads in
:mod:`.selectors`, writes in :mod:`.services`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from partnercenter.core import clock, menus
from partnercenter.core.decorators import current_user, forbidden, menu_required
from partnercenter.core.errors import DomainError, Forbidden, NotFound
from partnercenter.exports import services as export_services
from partnercenter.exports.models import ExportStatus

from . import selectors as sel
from . import services as svc
from .links import link_url
from .models import MarketplaceProduct

DETAILS_PER_PAGE = 20
MONTHS_SHOWN = 13


@menu_required(menus.MARKETPLACE_LINKS)
def index(request: HttpRequest) -> HttpResponse:
    page = sel.link_page(current_user(request))
    rows = [{"product": r.product, "url": link_url(request, r.link) if r.link else ""} for r in page.rows]
    return render(request, "marketplace/index.html", {"page": page, "rows": rows})


@menu_required(menus.MARKETPLACE_LINKS)
@require_POST
def make_link(request: HttpRequest, code: str) -> HttpResponse:
    try:
        _link, created = svc.share_link(current_user(request), code)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except Forbidden as exc:
        return forbidden(request, exc.message)
    if created:
        messages.success(request, _("Your link is ready to share."))
    return redirect("marketplace:index")


def product(request: HttpRequest, code: str) -> HttpResponse:
    """Where a shared link lands: the product and who shared it; ordering happens on the storefront."""
    item = get_object_or_404(MarketplaceProduct, code=code, active=True)
    return render(request, "marketplace/product.html", {"product": item, "partner": request.GET.get("partner", "")})


def _months() -> list[dt.date]:
    m = clock.today().replace(day=1)
    out = []
    for _i in range(MONTHS_SHOWN):
        out.append(m)
        m = (m - dt.timedelta(days=1)).replace(day=1)
    return out


def _chosen_month(text: str, months: list[dt.date]) -> dt.date:
    try:
        month = dt.date.fromisoformat(f"{text}-01")
    except ValueError:
        return months[1]
    return month if month in months else months[1]


def _revenue_context(request: HttpRequest) -> dict[str, Any]:
    user = current_user(request)
    publishers = list(sel.publishers_for(user))
    months = _months()
    month = _chosen_month(request.GET.get("month", ""), months)
    ctx: dict[str, Any] = {"publishers": publishers, "months": months, "month": month, "partner": None}
    if not publishers:
        return ctx
    code = request.GET.get("partner") or publishers[0].code
    try:
        statement = sel.statement(user, code, month)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    items = sel.statement_items(user, code, month)
    details = Paginator(items, DETAILS_PER_PAGE).get_page(request.GET.get("page"))
    names = {p.service_name: p for p in sel.product_by_service_name(statement.partner).values()}
    ctx.update(
        partner=statement.partner,
        statement=statement,
        totals=statement.totals(),
        details=details,
        detail_rows=[(i, names[i.service_name]) for i in details],
        query=urlencode({"partner": code, "month": f"{month:%Y-%m}"}),
    )
    return ctx


@menu_required(menus.REVENUE_SHARING)
def revenue(request: HttpRequest) -> HttpResponse:
    return render(request, "marketplace/revenue.html", _revenue_context(request))


@menu_required(menus.REVENUE_SHARING)
@require_POST
def revenue_export(request: HttpRequest) -> HttpResponse:
    """Export the statement or its transaction details: an export task (X1)."""
    kind = "revenue_details" if request.POST.get("what") == "details" else "revenue_statement"
    params = {"partner": request.POST.get("partner", ""), "month": request.POST.get("month", "")}
    try:
        task, _created = export_services.create_export(
            current_user(request), kind, params, request.POST.get("format", "xlsx")
        )
    except Forbidden:
        return forbidden(request)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if task.status == ExportStatus.SUCCEEDED:
            messages.success(request, _("Records exported successfully"))
        else:
            messages.success(request, _("Export task created"))
    return redirect(reverse("marketplace:revenue") + "?" + urlencode(params))
