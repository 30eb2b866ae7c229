"""Console pages of payment contracts (O6): Sales › Financial Information › Payment Contracts.
The list with each contract's status and, for partner users, the request form; a contract's
detail with its history, the operator's processing forms and, once issued, the PDF. Thin: reads
from :mod:`.selectors`, writes through :mod:`.services`."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from partnercenter import scoping
from partnercenter.accounts.models import User
from partnercenter.core import menus
from partnercenter.core.decorators import current_user, forbidden, menu_required
from partnercenter.core.errors import DomainError, NotFound

from . import pdf, selectors, services
from .models import ContractState, PaymentContract

PAGE_SIZE = 20


def _may_request(user: User) -> bool:
    return user.partner_id is not None


def _sees_several_partners(user: User) -> bool:
    ids = scoping.partner_ids_for(user, scoping.Purpose.VIEW)
    return ids is None or len(ids) > 1


def _form_key(request: HttpRequest) -> str:
    key = request.POST.get("form_key", "")
    # One key per rendered form: a double click (or a resubmitted form) writes once.
    return f"form:{key}" if key else ""


def _scoped(request: HttpRequest, number: str) -> PaymentContract:
    try:
        return selectors.get_contract(current_user(request), number)
    except NotFound:
        raise Http404(_("This payment contract is not available.")) from None


def _index_context(request: HttpRequest, error: DomainError | None = None) -> dict[str, Any]:
    user = current_user(request)
    state = request.GET.get("state", "")
    if state not in ContractState.values:
        state = ""
    page = Paginator(selectors.contracts_for(user, state), PAGE_SIZE).get_page(request.GET.get("page"))
    return {
        "page": page,
        "state": state,
        "states": ContractState.choices,
        "may_request": _may_request(user),
        "is_operator": user.is_platform_operator,
        "show_partner": _sees_several_partners(user),
        "form_key": request.POST.get("form_key") or uuid.uuid4().hex,
        "values": request.POST,
        "error": error,
        "error_where": {d.get("where") for d in (error.details or []) if isinstance(d, dict)} if error else set(),
    }


@menu_required(menus.PAYMENT_CONTRACTS)
def index(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "contracts/index.html", _index_context(request))
    user = current_user(request)
    if not _may_request(user):
        return forbidden(request, _("Only a partner user may request a payment contract."))
    try:
        contract = services.request_contract(
            actor=user,
            amount=request.POST.get("amount", ""),
            currency=request.POST.get("currency", ""),
            purpose=request.POST.get("purpose", ""),
            idempotency_key=_form_key(request),
        )
    except DomainError as e:
        status = e.status if e.status in (403, 409) else 400
        return render(request, "contracts/index.html", _index_context(request, e), status=status)
    messages.success(request, _("Payment contract %(number)s requested.") % {"number": contract.number})
    return redirect("contracts:detail", number=contract.number)


def _detail_context(
    request: HttpRequest, contract: PaymentContract, error: DomainError | None = None
) -> dict[str, Any]:
    return {
        "contract": contract,
        "history": selectors.history(contract),
        "is_operator": current_user(request).is_platform_operator,
        "form_key": uuid.uuid4().hex,
        "values": request.POST,
        "error": error,
    }


@menu_required(menus.PAYMENT_CONTRACTS)
def detail(request: HttpRequest, number: str) -> HttpResponse:
    contract = _scoped(request, number)
    return render(request, "contracts/detail.html", _detail_context(request, contract))


STEPS = {
    "process": (services.start_processing, ()),
    "issue": (services.issue, ("terms",)),
    "reject": (services.reject, ("reason",)),
}
DONE = {
    "process": _("Processing of %(number)s started."),
    "issue": _("Payment contract %(number)s issued."),
    "reject": _("Payment contract %(number)s rejected."),
}


@require_POST
@menu_required(menus.PAYMENT_CONTRACTS)
def step(request: HttpRequest, number: str, action: str) -> HttpResponse:
    """An operator's step: start processing, issue with terms, reject with a reason."""
    contract = _scoped(request, number)
    user = current_user(request)
    if action not in STEPS:
        raise Http404(_("No such action."))
    if not user.is_platform_operator:
        return forbidden(request, _("Only a platform operator processes payment contracts."))
    call, fields = STEPS[action]
    extra = {f: request.POST.get(f, "") for f in fields}
    try:
        call(actor=user, number=contract.number, idempotency_key=_form_key(request), **extra)  # type: ignore[operator]
    except DomainError as e:
        context = _detail_context(request, _scoped(request, number), e)
        return render(request, "contracts/detail.html", context, status=e.status if e.status == 409 else 400)
    messages.success(request, str(DONE[action]) % {"number": contract.number})
    return redirect("contracts:detail", number=contract.number)


@menu_required(menus.PAYMENT_CONTRACTS)
def contract_pdf(request: HttpRequest, number: str) -> HttpResponse:
    contract = _scoped(request, number)
    try:
        content = pdf.render_contract(contract)
    except NotFound:
        raise Http404(_("This payment contract is not issued yet.")) from None
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="contract-{contract.number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response
