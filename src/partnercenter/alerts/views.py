"""Console page "Customer Alerts" (Sales › Customers, O3): open alerts and history (handled
alerts), filtered by rule and customer; View shows an alert's figures, Handle records a note.
Dialogs come as htmx fragments into the page, or as the whole page with the dialog open when
scripts are off. Thin: reads from :mod:`.selectors`, writes through :mod:`.services`."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from partnercenter.core import menus
from partnercenter.core.decorators import current_user, forbidden, menu_required
from partnercenter.core.errors import DomainError, NotFound
from partnercenter.core.masking import mask_name

from . import presenters
from . import selectors as sel
from . import services as svc
from .models import AlertRule, CustomerAlert

PAGE_SIZE = 20


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _filters(request: HttpRequest) -> tuple[sel.Filters, str]:
    g = request.GET
    try:
        return sel.filters(g.get("status"), g.get("rule"), g.get("customer")), ""
    except DomainError as e:
        return sel.Filters(), e.message


def _row(alert: CustomerAlert, may_handle: bool) -> dict[str, Any]:
    return {
        "alert": alert,
        "customer_name": mask_name(alert.customer.name),
        "summary": presenters.summary(alert),
        "may_handle": may_handle and alert.is_open,
    }


def _list_context(request: HttpRequest) -> dict[str, Any]:
    user = current_user(request)
    f, problem = _filters(request)
    page = Paginator(sel.search(user, f), PAGE_SIZE).get_page(request.GET.get("page"))
    alerts = list(page.object_list)
    handleable = sel.handleable_ids(user, [a.pk for a in alerts])
    query = {"status": f.status, "rule": f.rule, "customer": f.customer}
    return {
        "f": f,
        "problem": problem,
        "page": page,
        "rows": [_row(a, a.pk in handleable) for a in alerts],
        "rules": AlertRule.choices,
        "open_count": sel.open_count(user),
        "query": urlencode(query),
        "count_text": _("%(n)d alert(s)") % {"n": page.paginator.count},
    }


@menu_required(menus.CUSTOMER_ALERTS)
def index(request: HttpRequest) -> HttpResponse:
    context = _list_context(request)
    return render(request, "alerts/index.html", context, status=400 if context["problem"] else 200)


def _dialog(request: HttpRequest, fragment: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    if _is_htmx(request):
        # htmx swaps only 2xx answers: a refusal is shown inside the dialog itself.
        return render(request, fragment, context)
    return render(
        request, "alerts/index.html", {**_list_context(request), **context, "dialog": fragment}, status=status
    )


def _get(request: HttpRequest, alert_id: int) -> CustomerAlert:
    try:
        return sel.get_alert(current_user(request), alert_id)
    except NotFound:
        raise Http404(_("This customer alert was not found.")) from None


def _alert_context(request: HttpRequest, alert: CustomerAlert) -> dict[str, Any]:
    user = current_user(request)
    return {
        "a": alert,
        "customer_name": mask_name(alert.customer.name),
        "figures": presenters.figures(alert),
        "may_handle": alert.is_open and sel.may_handle(user, alert),
        "back": f"{reverse('alerts:index')}?{request.GET.urlencode()}",
    }


@menu_required(menus.CUSTOMER_ALERTS)
def detail(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = _get(request, alert_id)
    return _dialog(request, "alerts/_view.html", _alert_context(request, alert))


@menu_required(menus.CUSTOMER_ALERTS)
def handle(request: HttpRequest, alert_id: int) -> HttpResponse:
    """GET: the Handle dialog; POST: record the note and go back to the open alerts."""
    user = current_user(request)
    alert = _get(request, alert_id)
    if not sel.may_handle(user, alert):
        return forbidden(request, _("Only the alert's own partner handles it: you may view this alert."))
    context = {**_alert_context(request, alert), "form_key": uuid.uuid4().hex, "note": ""}
    if request.method != "POST":
        return _dialog(request, "alerts/_handle.html", context)
    post = request.POST
    try:
        svc.handle(
            actor=user,
            alert_id=alert.pk,
            note=post.get("note", ""),
            idempotency_key=f"form:{post['form_key']}" if post.get("form_key") else "",
        )
    except DomainError as e:
        fresh = sel.get_alert(user, alert.pk)
        context = {**context, **_alert_context(request, fresh), "error": e.message, "note": post.get("note", "")}
        return _dialog(request, "alerts/_handle.html", context, status=e.status if e.status != 400 else 422)
    messages.success(request, _("The alert was handled; it is listed under History."))
    target = f"{reverse('alerts:index')}?{request.GET.urlencode()}"
    if _is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return redirect(target)
