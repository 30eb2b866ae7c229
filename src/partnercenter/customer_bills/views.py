"""Console: Customer Business › Customer Bills (seed 004, C1–C4). The page and its htmx pane are
one view; the pane holds the month, customer and filters, the Bill by Instance / Bill Details
tabs, the table with its display fields (C3) and the downloads (export tasks, C4)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from partnercenter.billing.services import due_at
from partnercenter.core import clock, menus
from partnercenter.core.decorators import current_user, menu_required
from partnercenter.core.errors import DomainError
from partnercenter.core.masking import mask_name
from partnercenter.core.money import round_minor, to_str
from partnercenter.partners.models import Customer
from partnercenter.usage.models import BillingMode, Classification, ServiceType
from partnercenter.usage.resource_months import Filters

from . import bill_selectors, table_settings
from .selectors import may_act
from .table_settings import BILL_BY_INSTANCE, BILL_DETAILS, Field

_MONTH = re.compile(r"(20\d{2})-(0[1-9]|1[0-2])")  # the ledger holds 2000-2099
PER_PAGE = 50
TABS = {"instance": BILL_BY_INSTANCE, "details": BILL_DETAILS}
_STATE_KEYS = ("month", "customer", "tab", "product", "project", "region")
_LABELS: dict[str, dict[str, Any]] = {
    "billing_mode": dict(BillingMode.choices),
    "service_type": dict(ServiceType.choices),
    "classification": dict(Classification.choices),
}


# ---- request state ------------------------------------------------------------------------------


def _month(request: HttpRequest, months: list[dt.date], problems: list[str]) -> dt.date | None:
    text = request.GET.get("month", "")
    if not text:
        return months[0] if months else None
    found = _MONTH.fullmatch(text)
    if not found:
        problems.append(_("Month: %(value)s is not a month as YYYY-MM.") % {"value": text[:20]})
        return months[0] if months else None
    return dt.date(int(found[1]), int(found[2]), 1)


def _customer(request: HttpRequest, problems: list[str]) -> Customer | None:
    account_id = request.GET.get("customer", "").strip()[:64]
    if not account_id:
        return None
    found = bill_selectors.find_customer(current_user(request), account_id)
    if found is None:
        problems.append(_("Customer: no customer with account ID %(id)s is yours to view.") % {"id": account_id})
    return found


def _filters(request: HttpRequest) -> Filters:
    get = request.GET
    return Filters(get.get("product", "")[:200], get.get("project", "")[:100], get.get("region", "")[:64])


def _int(text: str, default: int = 0) -> int:
    return int(text) if text.isdigit() and len(text) < 12 else default


def _status(month: dt.date, through_day: dt.date, at: dt.datetime) -> dict[str, Any]:
    """C1: complete once the bill is issued (the 5th of the next month); before that, the data
    so far (the whole month, or up to yesterday while the month runs)."""
    due = due_at(month)
    issued = clock.billing_date(due)
    if at >= due:
        return {"complete": True, "text": _("Complete bill of %(month)s (issued on %(day)s).")
                % {"month": f"{month:%Y-%m}", "day": f"{issued:%Y-%m-%d}"}}  # fmt: skip
    if through_day < month:
        text = _("No data of %(month)s yet: the current month is shown up to the previous day.")
    elif clock.billing_date(at).replace(day=1) == month:
        text = _("Current data up to %(through)s (the previous day). The complete bill of %(month)s is available after it is issued on %(day)s.")  # fmt: skip
    else:
        text = _("Data of the whole month. The complete bill of %(month)s is available after it is issued on %(day)s.")  # fmt: skip
    values = {"month": f"{month:%Y-%m}", "through": f"{through_day:%Y-%m-%d}", "day": f"{issued:%Y-%m-%d}"}
    return {"complete": False, "text": text % values}


# ---- cells --------------------------------------------------------------------------------------


def _amount(value: Decimal | None, currency: str) -> dict[str, Any]:
    if value is None:
        return {"text": "", "exact": "", "num": True}
    return {"text": format(round_minor(value, currency), ",f"), "exact": to_str(value), "num": True}


def _text(value: Any, key: str = "") -> dict[str, Any]:
    if value is None:
        value = ""
    label = _LABELS.get(key, {}).get(value) if key else None
    return {"text": str(label if label is not None else value), "exact": None, "num": False}


def _instance_value(row: Any, key: str) -> Any:
    return {
        "account_id": row.customer.account_id,
        "customer_name": mask_name(row.customer.name),
        "product": row.service_name,
        "project": row.x_project,
        "region": row.region_id,
        "billing_mode": row.x_billing_mode,
        "line_item_count": row.line_item_count,
        "first_day": f"{row.first_day:%Y-%m-%d}",
        "last_day": f"{row.last_day:%Y-%m-%d}",
    }.get(key, getattr(row, key, ""))


def _detail_value(row: Any, key: str) -> Any:
    tz = clock.billing_tz()
    mapping = {
        "charge_period_start": f"{row.charge_period_start.astimezone(tz):%Y-%m-%d %H:%M:%S}",
        "charge_period_end": f"{row.charge_period_end.astimezone(tz):%Y-%m-%d %H:%M:%S}",
        "account_id": row.customer.account_id,
        "customer_name": mask_name(row.customer.name),
        "product": row.service_name,
        "project": row.x_project,
        "region": row.region_id,
        "billing_mode": row.x_billing_mode,
        "currency": row.billing_currency,
        "pricing_quantity": "" if row.pricing_quantity is None else to_str(row.pricing_quantity),
        "order_id": row.x_order_id,
        "line_id": row.x_line_id,
    }
    return mapping[key] if key in mapping else getattr(row, key, "")


def _cells(row: Any, columns: list[Field], details: bool) -> list[dict[str, Any]]:
    currency = row.billing_currency if details else row.currency
    value = _detail_value if details else _instance_value
    cells = []
    for f in columns:
        v = value(row, f.key)
        cells.append(_amount(v, currency) if f.amount else _text(v, f.key))
    return cells


def _totals(totals: list[Any], columns: list[Field], details: bool) -> list[list[dict[str, Any]]]:
    """A totals row per currency: the amounts over the whole filter (exact), the rest blank."""
    rows = []
    for t in totals:
        cells = []
        for f in columns:
            key = "amount" if details and f.key == "billed_cost" else f.key
            if f.amount:
                cells.append(_amount(getattr(t, key, None), t.currency))
            elif f.key == "currency":
                cells.append(_text(t.currency))
            elif f.key == "line_item_count":
                cells.append(_text(t.line_item_count))
            else:
                cells.append(_text(""))
        if cells and not cells[0]["num"] and not cells[0]["text"]:
            cells[0] = _text(_("Total (%(currency)s)") % {"currency": t.currency})
        rows.append(cells)
    return rows


# ---- the pane -----------------------------------------------------------------------------------


def _query(state: dict[str, str], **changes: Any) -> str:
    q = QueryDict(mutable=True)
    for key, value in {**state, **changes}.items():
        if value not in ("", None):
            q[key] = str(value)
    return q.urlencode()


def _table(request: HttpRequest, ctx: dict[str, Any], build: Any, scope: Any) -> None:
    """The chosen tab's rows, columns, totals and paging into ``ctx``."""
    user, state, filters = current_user(request), ctx["state"], ctx["filters"]
    details = ctx["tab"] == "details"
    setting = table_settings.read(user, request.session, TABS[ctx["tab"]])
    known = table_settings.fields_by_key(setting.table)
    columns = [known[k] for k in setting.fields]
    if details:
        after = _int(request.GET.get("after", ""))
        found = bill_selectors.details_page(user, build, scope, filters, after=after, limit=PER_PAGE)
        rows: list[Any] = found.rows
        ctx["next_query"] = _query(state, after=found.next_after) if found.next_after else ""
        ctx["first_query"] = _query(state) if after else ""
        totals = bill_selectors.totals(user, build, scope, filters)
    else:
        pages = max(1, -(-bill_selectors.count(user, build, scope, filters) // PER_PAGE))
        number = min(max(1, _int(request.GET.get("page", ""), 1)), pages)
        page = bill_selectors.instance_page(user, build, scope, filters, limit=PER_PAGE, offset=(number - 1) * PER_PAGE)
        rows, totals = page.rows, page.totals
        ctx.update(page_number=number, pages=pages, count=page.count)
        ctx["prev_query"] = _query(state, page=number - 1) if number > 1 else ""
        ctx["next_query"] = _query(state, page=number + 1) if number < pages else ""
    ctx.update(
        setting=setting,
        columns=columns,
        rows=[_row_html(_cells(r, columns, details)) for r in rows],
        totals=[_row_html(cells) for cells in _totals(totals, columns, details)],
        field_list=[(known[k], True) for k in setting.fields]
        + [(f, False) for f in table_settings.catalogue(setting.table) if f.key not in setting.fields],
    )


def _row_html(cells: list[dict[str, Any]]) -> str:
    """A table row's cells, rendered here: 50 rows of a dozen cells through the template language
    would take most of the request."""
    return mark_safe(  # noqa: S308 - every value is escaped by format_html
        "".join(
            format_html('<td class="num" data-exact="{}" title="{}">{}</td>', c["exact"], c["exact"], c["text"])
            if c["num"]
            else format_html('<td><span class="cell" title="{}">{}</span></td>', c["text"], c["text"])
            for c in cells
        )
    )


def _pane(request: HttpRequest, problems: list[str]) -> dict[str, Any]:
    user, at = current_user(request), clock.now()
    months = bill_selectors.months(user, at)
    month = _month(request, months, problems)
    customer = _customer(request, problems)
    tab = request.GET.get("tab", "instance")
    if tab not in TABS:
        problems.append(_("View: choose Bill by Instance or Bill Details."))
        tab = "instance"
    filters = _filters(request)
    state = {k: request.GET.get(k, "") for k in _STATE_KEYS}
    state.update(month=f"{month:%Y-%m}" if month else "", tab=tab)
    ctx: dict[str, Any] = {"months": months, "month": month, "customer": customer, "tab": tab, "filters": filters}
    ctx.update(state=state, problems=problems, tab_queries={t: _query(state, tab=t) for t in TABS})
    # Seed 004: "Confirm Bill and Return Credit" from here, for the users who may confirm (C6).
    ctx["may_confirm"] = may_act(user)
    ctx["confirm_query"] = _query({"month": state["month"], "customer": customer.account_id if customer else ""})
    if month is None or problems:
        return ctx
    build = bill_selectors.build(month, at)
    scope = bill_selectors.scope_for(user, customer, at)
    ctx["status"] = _status(month, build.through_day, at)
    ctx["facets"] = bill_selectors.facets(user, build, scope)
    _table(request, ctx, build, scope)
    return ctx


def _is_htmx(request: HttpRequest) -> bool:
    headers = request.headers
    return headers.get("HX-Request") == "true" and "HX-History-Restore-Request" not in headers


def _render(request: HttpRequest, settings_error: str = "") -> HttpResponse:
    problems: list[str] = []
    ctx = _pane(request, problems)
    ctx["settings_error"] = settings_error
    partial = _is_htmx(request)
    status = 400 if problems and not partial else (422 if settings_error and not partial else 200)
    template = "customer_bills/_bills.html" if partial else "customer_bills/index.html"
    response = render(request, template, ctx, status=status)
    # The pane and the page share a URL (hx-push-url): Back must not get the cached pane alone.
    patch_vary_headers(response, ["HX-Request"])
    return response


@menu_required(menus.CUSTOMER_BILLS)
def index(request: HttpRequest) -> HttpResponse:
    return _render(request)


@menu_required(menus.CUSTOMER_BILLS)
def customer_options(request: HttpRequest) -> HttpResponse:
    """The customer picker's choices (a datalist): account id, masked name."""
    text = request.GET.get("customer", "").strip()[:64]
    found = bill_selectors.search_customers(current_user(request), text) if text else []
    return render(request, "customer_bills/_customer_options.html", {"customers": found})


@require_POST
@menu_required(menus.CUSTOMER_BILLS)
def table_fields(request: HttpRequest, table: str) -> HttpResponse:
    """Set a table's display fields (C3): with "Save selected" for the user, else for this session;
    "Restore defaults" forgets both. Back to the pane (htmx) or the page."""
    user = current_user(request)
    state = {k: request.POST.get(k, "") for k in _STATE_KEYS}
    try:
        if request.POST.get("reset"):
            table_settings.reset(user, request.session, table)
        else:
            fields = request.POST.getlist("fields")
            table_settings.save(user, request.session, table, fields, persist=request.POST.get("save") == "1")
    except DomainError as exc:
        if exc.status == 404:
            raise Http404(exc.message) from None
        request.GET = QueryDict(_query(state))
        return _render(request, exc.message)
    if not _is_htmx(request):
        return redirect(reverse("customer_bills:index") + "?" + _query(state))
    request.GET = QueryDict(_query(state))
    return _render(request)
