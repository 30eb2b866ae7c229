"""Console pages of exports: Export History (Export › View Export) and downloads (rule X1).

Other apps create exports from their own pages::

    task, created = services.create_export(user, "expenditure_summary", params, fmt)
    flash_created(request)
    return redirect(...)

or post a form to ``exports:create`` (see ``exports/_export_form.html``).
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from partnercenter.core import clock, menus
from partnercenter.core.decorators import current_user, forbidden, menu_required
from partnercenter.core.errors import DomainError, Forbidden, NotFound

from . import registry, selectors, services
from .api import file_response
from .models import ExportTask

PAGE_SIZE = 20
CREATE_FIELDS = frozenset({"kind", "format", "next", "csrfmiddlewaretoken", "page"})


def flash_created(request: HttpRequest) -> None:
    """The message every page shows after it created an export task (rule X1)."""
    messages.success(request, gettext("Export task created"))


def _row(task: ExportTask) -> dict[str, Any]:
    kind = registry.find(task.kind)
    return {
        "task": task,
        "kind_label": kind.label if kind else task.kind,
        "options": registry.describe_params(task.kind, task.params),
        "error": gettext(task.error) if task.error else "",
    }


@menu_required(menus.EXPORTS)
def index(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    qs = selectors.visible_tasks(user)
    services.refresh(qs)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [_row(t) for t in page.object_list]
    context = {
        "page": page,
        "rows": rows,
        "polling": any(r["task"].is_active for r in rows),
        "shows_owner": user.is_partner_admin or user.is_platform_operator,
        "billing_tz": clock.billing_tz(),
    }
    partial = request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"
    response = render(request, "exports/_history.html" if partial else "exports/index.html", context)
    patch_vary_headers(response, ["HX-Request"])
    add_never_cache_headers(response)
    return response


@menu_required(menus.EXPORTS)
def download(request: HttpRequest, task_id: uuid.UUID) -> HttpResponse:
    try:
        task = selectors.downloadable_task(current_user(request), task_id)
    except NotFound:
        raise Http404(gettext("This export file is not available.")) from None
    # A streaming response; menu_required's typing only names HttpResponse.
    return cast(HttpResponse, file_response(task))


def _params_from(request: HttpRequest) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key in request.POST:
        if key in CREATE_FIELDS:
            continue
        values = request.POST.getlist(key)
        params[key] = values if len(values) > 1 else values[0]
    return params


@require_POST
def create(request: HttpRequest) -> HttpResponse:
    """Create an export from a page's export form: ``kind``, ``format``, ``next`` and the page's
    search options as the other fields; back to ``next`` with "Export task created"."""
    if not request.user.is_authenticated:
        return redirect("accounts:login")
    user = current_user(request)
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        target = ""
    try:
        services.create_export(
            user, request.POST.get("kind", ""), _params_from(request), request.POST.get("format", "")
        )
    except Forbidden:
        return forbidden(request)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        flash_created(request)
    return redirect(target or "exports:index")
