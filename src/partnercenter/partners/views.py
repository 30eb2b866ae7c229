"""Console pages of Customer Management and Customer Assignment (seed 002, rules E3, E5, O1)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from partnercenter import scoping
from partnercenter.accounts.models import User
from partnercenter.core import clock, menus
from partnercenter.core.decorators import current_user, menu_required
from partnercenter.core.errors import DomainError, NotFound
from partnercenter.core.masking import mask_email, mask_mobile, mask_name

from . import selectors, services
from .forms import AssignmentForm, CustomerFilterForm
from .models import CustomerAssociation

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
    }


def _page(request: HttpRequest, qs: Any) -> tuple[Page, list[dict[str, Any]]]:
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return page, [_row(r) for r in page.object_list]


def _shows_partner(user: User) -> bool:
    ids = scoping.partner_ids_for(user)
    return ids is None or len(ids) > 1


def _render_list(request: HttpRequest, full: str, partial: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
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


def _assign(request: HttpRequest, user: User) -> tuple[HttpResponse | None, AssignmentForm]:
    """Handle the POST of the assignment form; a response on success, else the bound form."""
    form = AssignmentForm(request.POST, user=user)
    account_ids = set(request.POST.getlist("customer"))
    # Only customers the user may act on: anything else is "not found", and nothing changes.
    chosen = list(scoping.customers_for(user, scoping.Purpose.ACT).filter(account_id__in=account_ids))
    if len(chosen) != len(account_ids):
        raise Http404(_("No such customer."))
    if not chosen:
        messages.error(request, _("Choose at least one customer."))
        return None, form
    if not form.is_valid():
        return None, form
    manager: User = form.cleaned_data["manager"]
    at = clock.now()
    try:
        with transaction.atomic():
            services.assign_customers(actor=user, customers=chosen, manager=manager, at=at)
    except DomainError as e:
        messages.error(request, e.message)
        return None, form
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
    return redirect(request.get_full_path()), form


@menu_required(menus.CUSTOMER_ASSIGNMENT)
def assignment(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    status = 200
    assign_form: AssignmentForm | None = None
    if request.method == "POST":
        response, assign_form = _assign(request, user)
        if response is not None:
            return response
        status = 400
    filter_form = CustomerFilterForm(request.GET, user=user)
    qs = selectors.customer_rows(user, filter_form.to_filter(), purpose=scoping.Purpose.ACT)
    page, rows = _page(request, qs)
    context = {
        "form": filter_form,
        "assign_form": assign_form or AssignmentForm(user=user),
        "page": page,
        "rows": rows,
        "selected": set(request.POST.getlist("customer")),
        "show_partner": False,
    }
    return _render_list(
        request, "partners/assignment.html", "partners/_assignment_results.html", context, status=status
    )
