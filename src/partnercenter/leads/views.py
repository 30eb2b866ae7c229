"""Console page Sales › Expansion › Lead Dispatch (O2). Dispatchers search their partner's leads,
dispatch them (one or a batch) to a staff member and recall them; a staff member sees the leads
dispatched to them ("My leads") and updates their status. Thin: reads from :mod:`.selectors`,
writes through :mod:`.services`; contact data is masked on screen."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from partnercenter.core import menus
from partnercenter.core.decorators import current_user, menu_required
from partnercenter.core.errors import DomainError, NotFound
from partnercenter.core.masking import mask_email, mask_mobile, mask_name

from . import selectors as sel
from . import services as svc
from .models import Lead, LeadStatus

PAGE_SIZE = 50
FILTERS = ("q", "status", "assignee", "product")


def _filter(request: HttpRequest) -> sel.LeadFilter:
    get = request.GET
    status = get.get("status", "")
    return sel.LeadFilter(
        text=get.get("q", "")[: sel.MAX_TEXT],
        status=status if status in LeadStatus.values else "",
        assignee=get.get("assignee", "")[:150],
        product=get.get("product", "")[: sel.MAX_TEXT],
    )


def _row(x: Lead) -> dict[str, Any]:
    return {
        "lead": x,
        "contact": mask_name(x.contact_name),
        "phone": mask_mobile(x.phone),
        "email": mask_email(x.email),
        "closed": x.status in ("converted", "lost"),
    }


def _history(request: HttpRequest) -> dict[str, Any] | None:
    wanted = request.GET.get("history", "")
    if not wanted:
        return None
    try:
        lead = sel.lead_for(current_user(request), wanted)
    except NotFound:
        raise Http404(_("No such lead.")) from None
    return {"lead": lead, "contact": mask_name(lead.contact_name), "events": sel.history(lead)}


def _context(request: HttpRequest, error: DomainError | None = None) -> dict[str, Any]:
    user = current_user(request)
    f = _filter(request)
    page = Paginator(sel.search(user, f), PAGE_SIZE).get_page(request.GET.get("page"))
    may_dispatch = sel.may_dispatch(user)
    return {
        "f": f,
        "page": page,
        "rows": [_row(x) for x in page.object_list],
        "may_dispatch": may_dispatch,
        "is_operator": sel.is_operator(user),
        "staff": sel.staff_for(user, user.partner_id) if may_dispatch else [],
        "statuses": LeadStatus.choices,
        "staff_statuses": [(s.value, s.label) for s in svc.STAFF_STATUSES],
        "history": _history(request),
        "form_key": uuid.uuid4().hex,
        "values": request.POST,
        "error": error,
        "query": request.GET.urlencode(),
        # the search alone, without the history or page asked for
        "f_query": urlencode({k: request.GET[k] for k in FILTERS if request.GET.get(k)}),
    }


def _act(request: HttpRequest) -> str:
    post, user = request.POST, current_user(request)
    key = f"form:{post['form_key']}" if post.get("form_key") else ""
    note = post.get("note", "")
    if post.get("update"):
        lead = svc.update_status(
            actor=user,
            lead_id=post["update"],
            status=post.get(f"status-{post['update']}"),
            note=note,
            idempotency_key=key,
        )
        return _("%(number)s is now %(status)s.") % {"number": lead.number, "status": lead.get_status_display()}
    if post.get("row_recall") or post.get("action") == "recall":
        ids = [post["row_recall"]] if post.get("row_recall") else post.getlist("leads")
        leads = svc.recall(actor=user, lead_ids=ids, note=note, idempotency_key=key)
        return _("Recalled %(n)d lead(s).") % {"n": len(leads)}
    ids = [post["row_dispatch"]] if post.get("row_dispatch") else post.getlist("leads")
    leads = svc.dispatch(actor=user, lead_ids=ids, assignee=post.get("assignee"), note=note, idempotency_key=key)
    name = leads[0].assignee.display_name if leads and leads[0].assignee else ""
    return _("Dispatched %(n)d lead(s) to %(name)s.") % {"n": len(leads), "name": name}


@menu_required(menus.LEAD_DISPATCH)
def index(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            done = _act(request)
        except DomainError as e:
            status = e.status if e.status in (403, 404, 409) else 400
            return render(request, "leads/index.html", _context(request, e), status=status)
        messages.success(request, done)
        return redirect(f"{request.path}?{request.GET.urlencode()}" if request.GET else request.path)
    return render(request, "leads/index.html", _context(request))
