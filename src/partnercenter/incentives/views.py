"""Incentive Management › Confirm Incentives › Summary (seed 003) and an incentive's detail
page (I4). Thin: reads from :mod:`.selectors`, writes through :mod:`.workflow`.

Confirm Bill opens a dialog (htmx loads it into the page; without scripts it is a page of its
own) listing every incentive of the period that OK confirms together (I3)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, re_path, reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from partnercenter import scoping
from partnercenter.core import menus
from partnercenter.core.decorators import current_user, menu_required
from partnercenter.core.errors import DomainError

from . import selectors as sel
from . import workflow
from .models import State

PERIOD = re.compile(r"20\d{2}-(0[1-9]|1[0-2])")
NUMBER = r"(?P<number>INC-\d{6}-\d{6})"
PAGE_SIZE = 20


def _filters(request: HttpRequest) -> tuple[sel.Filters, list[str]]:
    """The search box: state, period (YYYY-MM), program, and partner (operators); a bad value is
    named and ignored."""
    q = request.GET
    problems: list[str] = []
    state = (q.get("state") or "").strip()
    if state and state not in State.values:
        problems.append(_("Status: no such status."))
        state = ""
    text = (q.get("period") or "").strip()
    period = None
    if text and PERIOD.fullmatch(text):
        period = dt.date.fromisoformat(f"{text}-01")
    elif text:
        problems.append(_("Reconciliation period: must be a month (YYYY-MM)."))
    program = (q.get("program") or "").strip()[:64]
    partner = (q.get("partner") or "").strip()[:64]
    return sel.Filters(state=state, period=period, program=program, partner=partner), problems


def _back(request: HttpRequest) -> str:
    """Where a confirmation returns to: the Summary with the same search (never another site)."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("incentives:index")


@menu_required(menus.INCENTIVE_MANAGEMENT)
def index(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    f, problems = _filters(request)
    ids = scoping.partner_ids_for(user)
    total, _rows = sel.summary_page(user, f, limit=0)
    page = Paginator(range(total), PAGE_SIZE).get_page(request.GET.get("page"))
    _total, rows = sel.summary_page(user, f, offset=page.start_index() - 1 if total else 0, limit=PAGE_SIZE)
    context: dict[str, Any] = {
        "tab": "summary",
        "filters": f,
        "problems": problems,
        "rows": rows,
        "page": page,
        "count_text": ngettext("%(n)d incentive", "%(n)d incentives", total) % {"n": total},
        "states": State.choices,
        "periods": sel.periods_for(user),
        "programs": sel.programs_for(user),
        "is_operator": ids is None,
        "show_partner": ids is None or len(ids) > 1,
        "may_approve": sel.may_approve(user),
        "here": request.get_full_path(),
        "index_url": reverse("incentives:index"),
    }
    return render(request, "incentives/index.html", context, status=400 if problems else 200)


def _dialog(request: HttpRequest, number: str, error: DomainError | None = None) -> HttpResponse:
    user = current_user(request)
    inc = sel.get_incentive(user, number)
    group = sel.pending_of_period(inc) if inc.state == State.PENDING else []
    context = {
        "incentive": inc,
        "group": group,
        "period": sel.period_label(inc.period_start, inc.period_end),
        "may_confirm": sel.may_confirm(user, inc),
        "frozen": workflow.frozen_reason(inc.partner, inc.period_start, inc.period_end) if group else None,
        "form_key": uuid.uuid4().hex,
        "next": _back(request),
        "error": error.message if error else "",
    }
    template = (
        "incentives/_confirm_dialog.html" if request.headers.get("HX-Request") else "incentives/_confirm_page.html"
    )
    status = error.status if error else 200
    return render(request, template, context, status=status)


@menu_required(menus.INCENTIVE_MANAGEMENT)
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, number: str) -> HttpResponse:
    """GET: the dialog; POST (OK): confirm the whole period, back to the Summary with the message."""
    try:
        if request.method == "GET":
            return _dialog(request, number)
        key = request.POST.get("form_key", "")
        workflow.confirm_period(
            actor=current_user(request), number=number, idempotency_key=f"form:{key}" if key else ""
        )
    except DomainError as e:
        if e.status == 404:
            raise Http404(e.message) from None
        return _dialog(request, number, e)
    messages.success(request, _("Incentive reconciliation succeeded"))
    return redirect(_back(request))


@menu_required(menus.INCENTIVE_MANAGEMENT)
@require_POST
def approve(request: HttpRequest, number: str) -> HttpResponse:
    key = request.POST.get("form_key", "")
    try:
        inc = workflow.approve(actor=current_user(request), number=number, idempotency_key=f"form:{key}" if key else "")
    except DomainError as e:
        if e.status == 404:
            raise Http404(e.message) from None
        messages.error(request, e.message)
        return redirect(_back(request))
    messages.success(request, _("Incentive %(number)s approved; it is issued.") % {"number": inc.number})
    return redirect(_back(request))


@menu_required(menus.INCENTIVE_MANAGEMENT)
def detail(request: HttpRequest, number: str) -> HttpResponse:
    """I4: status, policy, calculation and history of one incentive."""
    user = current_user(request)
    try:
        inc = sel.get_incentive(user, number)
    except DomainError:
        raise Http404(_("No such incentive.")) from None
    context = {
        "tab": "summary",
        "incentive": inc,
        "period": sel.period_label(inc.period_start, inc.period_end),
        "calc": sel.calculation(inc),
        "history": sel.transitions(inc),
        "frozen": workflow.frozen_reason(inc.partner, inc.period_start, inc.period_end)
        if inc.state == State.PENDING
        else None,
        "may_confirm": inc.state == State.PENDING and sel.may_confirm(user, inc),
        "may_approve": inc.state == State.ISSUING and sel.may_approve(user),
        "back": f"{reverse('incentives:index')}?{urlencode({'period': f'{inc.period_start:%Y-%m}'})}",
        "form_key": uuid.uuid4().hex,
        "here": request.get_full_path(),
    }
    return render(request, "incentives/detail.html", context)


urlpatterns = [
    path("", index, name="index"),
    re_path(rf"^{NUMBER}/$", detail, name="detail"),
    re_path(rf"^{NUMBER}/confirm/$", confirm, name="confirm"),
    re_path(rf"^{NUMBER}/approve/$", approve, name="approve"),
]
