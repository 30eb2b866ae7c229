"""Console page Sales › Customers › Customer Expenditure (seed 000, 002; rules E1–E7).

Two tabs on one page: Expenditure Summary (default) and Expenditure Details (消费明细). The
filters form refreshes the results in place (htmx); sorting, paging and the eye toggles are links
that do the same. Everything is read through ``selectors`` (scoped, E2/E3); sensitive columns are
masked on the server unless the request explicitly asks to reveal them (``reveal=name,email``),
which goes through the audited ``services.reveal`` (E5). The Export menu creates export tasks
with the current search options (E7, X1).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from partnercenter import scoping
from partnercenter.accounts.models import User
from partnercenter.core import clock, menus
from partnercenter.core.decorators import current_user, forbidden, menu_required
from partnercenter.core.errors import DomainError, Forbidden, ValidationFailed
from partnercenter.core.masking import mask_email, mask_mobile, mask_name
from partnercenter.core.money import round_minor
from partnercenter.exports import services as export_services
from partnercenter.exports.views import flash_created
from partnercenter.partners.models import AssociationType
from partnercenter.usage.models import BillingMode, Classification, ServiceType

from . import selectors, services
from .forms import DetailFilterForm, ExportForm, SummaryFilterForm

SUMMARY_PAGE_SIZE = 20
DETAILS_PAGE_SIZE = 50
WHERE = "console:/expenditure/"
# Sort keys whose first click sorts ascending; amounts start with the largest.
ASCENDING_FIRST = frozenset({"account", "name"})
EXPORT_KINDS = {"summary": "expenditure_summary", "details": "expenditure_details"}


# ---- helpers --------------------------------------------------------------------------------


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"


def money(value: Decimal, currency: str) -> dict[str, str]:
    """An amount for display: rounded to the currency's minor unit (half-up, core.money) with
    thousands separators, and the exact value for ``title``/``data-exact``."""
    shown = round_minor(value, currency)
    if shown == 0:
        shown = abs(shown)  # never "-0.00"
    return {"exact": format(value, "f"), "shown": f"{shown:,}", "currency": currency}


AMOUNTS = (*selectors.CLASSES, "net")  # the columns of a row that add up: E − R + A + T = Net


def _amounts(values: dict[str, Decimal], currency: str) -> list[tuple[str, dict[str, str]]]:
    return [(k, money(values[k], currency)) for k in AMOUNTS]


def _totals(totals: dict[str, dict[str, Decimal]]) -> list[dict[str, Any]]:
    return [
        {"currency": cur, **{k: money(v, cur) for k, v in t.items()}, "amounts": _amounts(t, cur)}
        for cur, t in sorted(totals.items())
    ]


@dataclass(frozen=True)
class Pager:
    number: int
    size: int
    count: int

    @property
    def num_pages(self) -> int:
        return max(1, -(-self.count // self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    @property
    def has_other_pages(self) -> bool:
        return self.num_pages > 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


def _page_number(request: HttpRequest) -> int:
    try:
        return max(1, int(request.GET.get("page") or 1))
    except ValueError:
        return 1


def _query(request: HttpRequest, **changes: str | None) -> str:
    """The current query string with ``changes`` applied (None removes a key)."""
    q: QueryDict = request.GET.copy()
    for key, value in changes.items():
        if value is None or value == "":
            q.pop(key, None)
        else:
            q[key] = value
    text = q.urlencode()
    return f"{request.path}?{text}" if text else request.path


def _revealed(request: HttpRequest, user: User, allowed: tuple[str, ...]) -> tuple[frozenset[str], list[str]]:
    """The columns this request explicitly asks to see in full (audited by ``services.reveal``),
    and the problem with the ``reveal`` option if it names something that cannot be revealed.
    Raises Forbidden for roles that may not reveal."""
    raw = request.GET.get("reveal", "")
    wanted = [c.strip() for c in raw.split(",") if c.strip()]
    if not wanted:
        return frozenset(), []
    try:
        shown = services.reveal(user, wanted, where=WHERE)
    except ValidationFailed:
        unknown = ", ".join(sorted(set(wanted) - set(services.SENSITIVE_COLUMNS)))
        return frozenset(), [
            _("The reveal option “%(value)s” is not valid: only name, email and mobile can be shown in full.")
            % {"value": unknown}
        ]
    return shown & frozenset(allowed), []


def _problems(form: SummaryFilterForm | DetailFilterForm) -> list[str]:
    """Search options that make the search meaningless (a date that is not one, a start after the
    end): the page shows them, and only them, instead of an empty result."""
    form.is_valid()
    out = [_("%(field)s: %(error)s") % {"field": _("Spent on"), "error": e} for e in form.non_field_errors()]
    for name in ("start", "end"):
        out += [
            _("%(field)s: %(error)s") % {"field": form.fields[name].label, "error": e}
            for e in form.errors.get(name, [])
        ]
    return out


def _problem_context(request: HttpRequest, tab: str, form: Any, problems: list[str]) -> dict[str, Any]:
    """The page for search options that cannot be searched: the filters and the message."""
    return {
        "tab": tab,
        "form": form,
        "problems": problems,
        "period": _period_notice(selectors.period(None, None)),
        "dates": {"start": request.GET.get("start", ""), "end": request.GET.get("end", "")},
        "sort": "-expenditure",
        "next": _next_url(request),
    }


def _eyes(request: HttpRequest, revealed: frozenset[str], columns: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Per sensitive column: whether it is shown in full and the link that toggles it."""
    eyes = {}
    for col in columns:
        after = revealed ^ {col}
        eyes[col] = {"shown": col in revealed, "url": _query(request, reveal=",".join(sorted(after)) or None)}
    return eyes


def _period_notice(p: selectors.Period) -> dict[str, Any]:
    return {
        "start": p.start,
        "end": p.end,
        "empty": p.empty,
        "fell_back": p.fell_back,
        "complete_through": p.complete_through or p.last_visible_day,
        "tz": str(clock.billing_tz()),
    }


def _render(request: HttpRequest, partial: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    response = render(request, partial if _is_htmx(request) else "expenditure/index.html", context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    add_never_cache_headers(response)  # a revealed page must not be cached
    return response


def _next_url(request: HttpRequest) -> str:
    """Where the export form returns: the page as it is, without the reveal (not re-audited)."""
    q = request.GET.copy()
    q.pop("reveal", None)
    text = q.urlencode()
    return request.path + (f"?{text}" if text else "")


def _iso(d: dt.date | None) -> str:
    return d.isoformat() if d else ""


# ---- Expenditure Summary -----------------------------------------------------------------------


def _summary_row(r: selectors.SummaryRow, revealed: frozenset[str], period: selectors.Period) -> dict[str, Any]:
    details = reverse("expenditure:details")

    def bills(classification: str) -> str:
        q = {"account_id": r.account_id, "start": _iso(period.start), "end": _iso(period.end)}
        return f"{details}?{urlencode({**q, 'classification': classification})}"

    manager = f"{r.manager_name} ({r.manager_username})" if r.manager_name != r.manager_username else r.manager_username
    return {
        "account_id": r.account_id,
        "name": r.name if "name" in revealed else mask_name(r.name),
        "email": r.email if "email" in revealed else mask_email(r.email),
        "mobile": r.mobile if "mobile" in revealed else mask_mobile(r.mobile),
        "association_type": r.association_type,
        "association_type_label": AssociationType(r.association_type).label
        if r.association_type in AssociationType.values
        else r.association_type,
        "manager": manager,
        "currency": r.currency,
        "amounts": _amounts(
            {"expenditure": r.expenditure, "refund": r.refund, "adjustment": r.adjustment, "tax": r.tax, "net": r.net},
            r.currency,
        ),
        "expenditure_bills_url": bills("expenditure"),
        "refund_bills_url": bills("refund"),
    }


def _sort_links(request: HttpRequest, current: str) -> dict[str, dict[str, str]]:
    key, descending = current.lstrip("-"), current.startswith("-")
    links = {}
    for col in selectors.SUMMARY_SORTS:
        if col == key:
            new = col if descending else f"-{col}"
            state = "descending" if descending else "ascending"
        else:
            new = col if col in ASCENDING_FIRST else f"-{col}"
            state = "none"
        links[col] = {"url": _query(request, sort=new, page=None), "state": state}
    return links


def _summary_context(request: HttpRequest, user: User) -> dict[str, Any]:
    form = SummaryFilterForm(request.GET, user=user)
    f = form.to_filter()
    if f.sort.lstrip("-") not in selectors.SUMMARY_SORTS:
        f = selectors.SummaryFilter(f.name, f.start, f.end, f.manager_id, f.association_type, "-expenditure")
    problems = _problems(form)
    revealed, bad_reveal = _revealed(request, user, services.SENSITIVE_COLUMNS) if not problems else (frozenset(), [])
    if problems or bad_reveal:
        return _problem_context(request, "summary", form, problems + bad_reveal)
    may_reveal = services.may_reveal(user)
    at = clock.now()
    pager = Pager(_page_number(request), SUMMARY_PAGE_SIZE, 0)
    result = selectors.summary(user, f, limit=pager.size, offset=pager.offset, at=at)
    if result.total and pager.offset >= result.total:  # past the last page: show the last one
        pager = Pager(-(-result.total // pager.size), pager.size, 0)
        result = selectors.summary(user, f, limit=pager.size, offset=pager.offset, at=at)
    pager = Pager(pager.number, pager.size, result.total)
    default_end = selectors.default_period(at)[1]
    return {
        "tab": "summary",
        "form": form,
        "filter": f,
        "rows": [_summary_row(r, revealed, result.period) for r in result.rows],
        "totals": _totals(result.totals),
        "page": pager,
        "period": _period_notice(result.period),
        "sort": f.sort,
        "sort_links": _sort_links(request, f.sort),
        "reveal": ",".join(sorted(revealed)),
        "may_reveal": may_reveal,
        "eyes": _eyes(request, revealed, services.SENSITIVE_COLUMNS) if may_reveal else {},
        "export_summary": {
            k: ("" if v is None else str(v))
            for k, v in {
                **f.as_params(),
                "start": _iso(result.period.start),
                "end": _iso(f.end or default_end),
            }.items()
        },
        "export_details": {"start": _iso(result.period.start), "end": _iso(f.end or default_end)},
        "dates": {"start": _iso(result.period.start), "end": _iso(f.end or default_end)},
        "next": _next_url(request),
    }


# ---- Expenditure Details -----------------------------------------------------------------------

_SERVICE_TYPES = dict(ServiceType.choices)
_BILLING_MODES = dict(BillingMode.choices)
_CLASSES = dict(Classification.choices)


def _detail_row(row: dict[str, Any], revealed: frozenset[str]) -> dict[str, Any]:
    cur = row["billing_currency"]
    return {
        "id": row["id"],
        "charge_day": row["charge_day"],
        "name": row["customer__name"] if "name" in revealed else mask_name(row["customer__name"]),
        "account_id": row["customer__account_id"],
        "product": row["service_name"],
        "service_type": _SERVICE_TYPES.get(row["service_type"], row["service_type"]),
        "region_id": row["region_id"],
        "project": row["x_project"],
        "billing_mode": _BILLING_MODES.get(row["x_billing_mode"], row["x_billing_mode"]),
        "order_id": row["x_order_id"],
        "resource_id": row["resource_id"],
        "classification": row["classification"],
        "classification_label": _CLASSES.get(row["classification"], row["classification"]),
        "currency": cur,
        "billed_cost": money(row["billed_cost"], cur),
    }


def _details_context(request: HttpRequest, user: User) -> dict[str, Any]:
    form = DetailFilterForm(request.GET, user=user)
    f = form.to_filter()
    problems = _problems(form)
    revealed, bad_reveal = _revealed(request, user, ("name",)) if not problems else (frozenset(), [])
    if problems or bad_reveal:
        return _problem_context(request, "details", form, problems + bad_reveal)
    may_reveal = services.may_reveal(user)
    at = clock.now()
    pager = Pager(_page_number(request), DETAILS_PAGE_SIZE, 0)
    result = selectors.details(user, f, limit=pager.size, offset=pager.offset, at=at)
    if result.total and pager.offset >= result.total:
        pager = Pager(-(-result.total // pager.size), pager.size, 0)
        result = selectors.details(user, f, limit=pager.size, offset=pager.offset, at=at)
    pager = Pager(pager.number, pager.size, result.total)
    default_end = selectors.default_period(at)[1]
    params = {k: ("" if v is None else str(v)) for k, v in f.as_params().items()}
    params["start"], params["end"] = _iso(result.period.start), _iso(f.end or default_end)
    return {
        "tab": "details",
        "form": form,
        "filter": f,
        "rows": [_detail_row(r, revealed) for r in result.rows],
        "totals": _totals(result.totals),
        "page": pager,
        "period": _period_notice(result.period),
        "reveal": ",".join(sorted(revealed)),
        "may_reveal": may_reveal,
        "eyes": _eyes(request, revealed, ("name",)) if may_reveal else {},
        "export_summary": {"start": params["start"], "end": params["end"]},
        "export_details": params,
        "dates": {"start": params["start"], "end": params["end"]},
        "next": _next_url(request),
    }


# ---- views ----------------------------------------------------------------------------------------


def _tab(request: HttpRequest, tab: str) -> HttpResponse:
    user = current_user(request)
    try:
        if tab == "details":
            context = _details_context(request, user)
        else:
            context = _summary_context(request, user)
    except Forbidden:
        return forbidden(request, _("Your role may not see customers' sensitive data."))
    context["classifications"] = Classification.choices
    context["shows_exports"] = scoping.has_menu(user, menus.EXPORTS)
    partial = "expenditure/_details_results.html" if tab == "details" else "expenditure/_summary_results.html"
    # A whole page for bad search options says 400; an htmx swap needs a 2xx to show the message.
    status = 400 if context.get("problems") and not _is_htmx(request) else 200
    return _render(request, partial, context, status)


@menu_required(menus.CUSTOMER_EXPENDITURE)
def index(request: HttpRequest) -> HttpResponse:
    return _tab(request, "details" if request.GET.get("tab") == "details" else "summary")


@menu_required(menus.CUSTOMER_EXPENDITURE)
def details(request: HttpRequest) -> HttpResponse:
    return _tab(request, "details")


@menu_required(menus.CUSTOMER_EXPENDITURE)
@require_POST
def export(request: HttpRequest) -> HttpResponse:
    """Export > Export expenditure summary / Export customer bills: create the export task with
    the search options of the form, then back to the page with "Export task created" (X1)."""
    user = current_user(request)
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        target = ""
    choice = ExportForm(request.POST)
    if not choice.is_valid():
        messages.error(request, _("Choose what to export and the file format."))
        return redirect(target or "expenditure:index")
    kind = choice.cleaned_data["kind"]
    filters: SummaryFilterForm | DetailFilterForm
    if kind == "summary":
        filters = SummaryFilterForm(request.POST, user=user)
    else:
        filters = DetailFilterForm(request.POST, user=user)
    params = filters.to_filter().as_params()
    if filters.errors:
        for error in filters.errors.get("__all__", []) or [_("The search options are not valid.")]:
            messages.error(request, str(error))
        return redirect(target or "expenditure:index")
    try:
        export_services.create_export(user, EXPORT_KINDS[kind], params, choice.cleaned_data["format"])
    except Forbidden:
        return forbidden(request)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        flash_created(request)
    return redirect(target or "expenditure:index")
