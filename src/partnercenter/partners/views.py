"""Console pages of Customer Management and Customer Assignment (seed 002, rules E3, E5, O1)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from partnercenter import scoping
from partnercenter.accounts.models import User
from partnercenter.core import clock, menus
from partnercenter.core.decorators import current_user, forbidden, menu_required
from partnercenter.core.errors import DomainError, Forbidden, NotFound
from partnercenter.core.masking import mask_email, mask_mobile, mask_name
from partnercenter.expenditure import services as expenditure_services

from . import selectors, services
from .forms import AssignmentForm, CustomerFilterForm
from .models import Customer, CustomerAssociation

PAGE_SIZE = 20


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"


def _manager_display(row: CustomerAssociation) -> str:
    name = getattr(row, "manager_name", "") or ""
    username = getattr(row, "manager_username", "") or ""
    return f"{name} ({username})" if name and username else username


def _row(row: CustomerAssociation) -> dict[str, Any]:
    """One table row, masked on the server: the full values never reach the page (rule E5)."""
    c = row.customer
    return {
        "account_id": c.account_id,
        "name": mask_name(c.name),
        "email": mask_email(c.email),
        "mobile": mask_mobile(c.mobile),
        "association_type": row.association_type,
        "association_type_label": row.get_association_type_display(),
        "partner": row.partner.name,
        "partner_code": row.partner.code,
        "manager": _manager_display(row),
        "manager_since": getattr(row, "manager_since", None),
        "manager_until": getattr(row, "manager_until", None),
    }


def _page(request: HttpRequest, qs: Any) -> tuple[Page, list[dict[str, Any]]]:
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return page, [_row(r) for r in page.object_list]


def _shows_partner(user: User) -> bool:
    ids = scoping.partner_ids_for(user)
    return ids is None or len(ids) > 1


def _render_list(
    request: HttpRequest, full: str, partial: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    response = render(request, partial if _is_htmx(request) else full, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@menu_required(menus.CUSTOMER_MANAGEMENT)
def customers(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    form = CustomerFilterForm(request.GET, user=user)
    page, rows = _page(request, selectors.customer_rows(user, form.to_filter()))
    context = {"form": form, "page": page, "rows": rows, "show_partner": _shows_partner(user)}
    return _render_list(request, "partners/customers.html", "partners/_customer_results.html", context)


@menu_required(menus.CUSTOMER_MANAGEMENT)
def customer_detail(request: HttpRequest, account_id: str) -> HttpResponse:
    user = current_user(request)
    try:
        customer = scoping.get_customer(user, account_id)
        associations = list(selectors.association_history(user, account_id))
        assignments = list(selectors.assignment_history(user, account_id))
    except NotFound:
        raise Http404(_("No such customer.")) from None
    context = {
        "customer": customer,
        "masked": {
            "name": mask_name(customer.name),
            "email": mask_email(customer.email),
            "mobile": mask_mobile(customer.mobile),
        },
        "associations": associations,
        "assignments": assignments,
        "now": clock.now(),
    }
    return render(request, "partners/customer_detail.html", context)


REVEAL_WHERE = "console:/customers/assignment/"


def _revealed(request: HttpRequest, user: User) -> frozenset[str]:
    """``reveal=name`` asks to see the customer names in full: audited, refused for roles that
    may not (rule E5, ``expenditure.services.reveal``). Only the name is on this page."""
    wanted = [c.strip() for c in request.GET.get("reveal", "").split(",") if c.strip()]
    return expenditure_services.reveal(user, wanted, where=REVEAL_WHERE) & {"name"} if wanted else frozenset()


def _query(request: HttpRequest, **changes: str | None) -> str:
    """The current URL with ``changes`` applied to its query (``None`` removes a key)."""
    q = request.GET.copy()
    for key, value in changes.items():
        q.pop(key, None)
        if value:
            q[key] = value
    return f"{request.path}?{q.urlencode()}" if q else request.path


def _chosen(request: HttpRequest, user: User) -> list[Customer]:
    """The customers ticked in the form, all of which the user may act on; else 404, nothing changes."""
    account_ids = set(request.POST.getlist("customer"))
    chosen = list(scoping.customers_for(user, scoping.Purpose.ACT).filter(account_id__in=account_ids))
    if len(chosen) != len(account_ids):
        raise Http404(_("No such customer."))
    return chosen


def _assign(request: HttpRequest, user: User, chosen: list[Customer], form: AssignmentForm) -> bool:
    if not form.is_valid():
        return False
    manager: User = form.cleaned_data["manager"]
    at = clock.now()
    with transaction.atomic():
        services.assign_customers(actor=user, customers=chosen, manager=manager, at=at)
    effective = clock.billing_date(clock.start_of_next_day(at))
    messages.success(
        request,
        ngettext(
            "%(count)d customer assigned to %(manager)s; effective from %(date)s (the next day).",
            "%(count)d customers assigned to %(manager)s; effective from %(date)s (the next day).",
            len(chosen),
        )
        % {"count": len(chosen), "manager": manager.get_full_name() or manager.username, "date": effective.isoformat()},
    )
    return True


def _unassign(request: HttpRequest, user: User, chosen: list[Customer]) -> bool:
    at = clock.now()
    with transaction.atomic():
        ended = services.unassign_customers(actor=user, customers=chosen, at=at)
    if not ended:
        messages.info(request, _("None of the selected customers has an account manager; nothing changed."))
        return True
    effective = clock.billing_date(clock.start_of_next_day(at))
    messages.success(
        request,
        ngettext(
            "%(count)d customer unassigned from its account manager; effective from %(date)s (the next day).",
            "%(count)d customers unassigned from their account managers; effective from %(date)s (the next day).",
            len(ended),
        )
        % {"count": len(ended), "date": effective.isoformat()},
    )
    return True


def _act(request: HttpRequest, user: User) -> tuple[HttpResponse | None, AssignmentForm]:
    """Handle a POST (assign or unassign the ticked customers): a redirect on success, else the form."""
    form = AssignmentForm(request.POST, user=user)
    chosen = _chosen(request, user)
    if not chosen:
        messages.error(request, _("Choose at least one customer."))
        return None, form
    try:
        if request.POST.get("action") == "unassign":
            done = _unassign(request, user, chosen)
        else:
            done = _assign(request, user, chosen, form)
    except DomainError as e:
        messages.error(request, e.message)
        return None, form
    # Back to the list as it was, masked again: a reveal is asked for each time.
    return (redirect(_query(request, reveal=None)), form) if done else (None, form)


def _acting(user: User, f: selectors.CustomerFilter) -> bool:
    """Whether the listed customers are ones the user may assign (a distributor only views its
    second-level resellers' customers)."""
    return not f.partner_code or scoping.partners_for(user, scoping.Purpose.ACT).filter(code=f.partner_code).exists()


def _assignment_context(request: HttpRequest, user: User, assign_form: AssignmentForm | None) -> dict[str, Any]:
    filter_form = CustomerFilterForm(request.GET, user=user, own_partner_first=True)
    f = filter_form.to_filter()
    acting = _acting(user, f)
    purpose = scoping.Purpose.ACT if acting else scoping.Purpose.VIEW
    page, rows = _page(request, selectors.customer_rows(user, f, purpose=purpose))
    revealed = _revealed(request, user)
    if "name" in revealed:
        for row, r in zip(rows, page.object_list, strict=True):
            row["name"] = r.customer.name
    may_reveal = expenditure_services.may_reveal(user)
    shown = "name" in revealed
    return {
        "form": filter_form,
        "assign_form": assign_form or AssignmentForm(user=user),
        "page": page,
        "rows": rows,
        "acting": acting,
        "viewed_partner": "" if acting else filter_form.partner_label(f.partner_code),
        "selected": set(request.POST.getlist("customer")),
        "show_partner": False,
        "reveal": "name" if shown else "",
        "eye": {"shown": shown, "url": _query(request, reveal=None if shown else "name")} if may_reveal else None,
        "action_url": _query(request, reveal=None, page=None),
    }


@menu_required(menus.CUSTOMER_ASSIGNMENT)
def assignment(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    status = 200
    assign_form: AssignmentForm | None = None
    if request.method == "POST":
        response, assign_form = _act(request, user)
        if response is not None:
            return response
        status = 400
    try:
        context = _assignment_context(request, user, assign_form)
    except Forbidden:
        return forbidden(request, _("Your role may not see customers' sensitive data."))
    except DomainError as e:
        return HttpResponseBadRequest(e.message, content_type="text/plain; charset=utf-8")
    response = _render_list(
        request, "partners/assignment.html", "partners/_assignment_results.html", context, status=status
    )
    add_never_cache_headers(response)  # a revealed page must not be cached
    return response
