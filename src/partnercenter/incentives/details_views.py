"""The Details tab (seed 003 "Viewing and Exporting Incentive Details", I5, I6): a reconciliation
period's detail lines with the search filters, Feedback and Details per line (htmx dialogs, or
whole pages without JavaScript), an operator's answer, and the export form (by period, by
incentive programs, selected lines). Thin: reads from :mod:`.details_selectors`, writes through
:mod:`.feedback` and ``exports.services.create_export``."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from partnercenter.accounts.models import User
from partnercenter.core import menus
from partnercenter.core.decorators import current_user, forbidden, menu_required
from partnercenter.core.errors import DomainError, Forbidden, NotFound
from partnercenter.core.masking import mask_name
from partnercenter.exports import services as export_services
from partnercenter.exports.models import ExportStatus

from . import details_selectors as sel
from . import feedback as fb_services
from .models import Line

PAGE_SIZE = 50
FILTER_KEYS = ("feedback", "customer_name", "customer_account", "order_id", "incentive_id", "product_type")


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _filters(source: QueryDict) -> sel.DetailFilters:
    feedback = source.get("feedback", "")
    return sel.DetailFilters(
        feedback=feedback if feedback in sel.FEEDBACK_FILTERS else "",
        programs=tuple(p for p in source.getlist("program") if p)[:50],
        customer_name=source.get("customer_name", "")[: sel.MAX_TEXT],
        customer_account=source.get("customer_account", "")[: sel.MAX_TEXT],
        order_id=source.get("order_id", "")[: sel.MAX_TEXT],
        incentive_id=source.get("incentive_id", "")[: sel.MAX_TEXT],
        product_type=source.get("product_type", "")[: sel.MAX_TEXT],
    )


def _period(user: User, source: QueryDict, periods: list[dt.date]) -> dt.date | None:
    chosen = sel.parse_period(source.get("period", ""))
    if chosen in periods:
        return chosen
    return periods[0] if periods else None


def _query(period: dt.date | None, f: sel.DetailFilters) -> str:
    pairs: list[tuple[str, str]] = [("period", sel.period_label(period))] if period else []
    pairs += [(k, getattr(f, k)) for k in FILTER_KEYS if getattr(f, k)]
    pairs += [("program", code) for code in f.programs]
    return urlencode(pairs)


def row(user: User, line: Line) -> dict[str, Any]:
    status = sel.feedback_status(line)
    return {
        "line": line,
        "customer_name": mask_name(line.customer.name),
        "status": status,
        "status_label": sel.FEEDBACK_STATUS[status],
        "may_feedback": sel.may_leave_feedback(user, line),
    }


def _table_context(request: HttpRequest) -> dict[str, Any]:
    user = current_user(request)
    periods = sel.periods(user)
    period = _period(user, request.GET, periods)
    filters = _filters(request.GET)
    lines = sel.detail_lines(user, period, filters) if period else Line.objects.none()
    page = Paginator(lines, PAGE_SIZE).get_page(request.GET.get("page"))
    return {
        "periods": periods,
        "period": period,
        "filters": filters,
        "feedback_filters": sel.FEEDBACK_FILTERS,
        "programs": sel.programs_of_period(user, period) if period else [],
        "product_types": sel.product_types_of_period(user, period) if period else [],
        "page": page,
        "rows": [row(user, line) for line in page.object_list],
        "query": _query(period, filters),
        "tab": "details",
    }


@menu_required(menus.INCENTIVE_MANAGEMENT)
def details(request: HttpRequest) -> HttpResponse:
    return render(request, "incentives/details.html", _table_context(request))


def _line_context(request: HttpRequest, line: Line, **extra: Any) -> dict[str, Any]:
    user = current_user(request)
    return {
        "r": row(user, line),
        "thread": sel.thread(line),
        "may_answer": sel.may_answer(user),
        "back": request.GET.get("back") or request.POST.get("back") or "",
        **extra,
    }


def _get_line(request: HttpRequest, line_id: int) -> Line:
    try:
        return sel.get_line(current_user(request), line_id)
    except NotFound:
        raise Http404(_("This incentive detail line was not found.")) from None


def _render_line(request: HttpRequest, line: Line, status: int = 200, **extra: Any) -> HttpResponse:
    context = _line_context(request, line, **extra)
    template = "incentives/_details_line.html" if _is_htmx(request) else "incentives/details_line.html"
    return render(request, template, context, status=status)


@menu_required(menus.INCENTIVE_MANAGEMENT)
def line(request: HttpRequest, line_id: int) -> HttpResponse:
    return _render_line(request, _get_line(request, line_id))


@menu_required(menus.INCENTIVE_MANAGEMENT)
@require_http_methods(["GET", "POST"])
def feedback(request: HttpRequest, line_id: int) -> HttpResponse:
    """GET: the Feedback dialog; POST (OK): record it and show the line with its thread."""
    found = _get_line(request, line_id)
    user = current_user(request)
    if not sel.may_leave_feedback(user, found):
        return forbidden(request, _("Only the users of the line's own partner can leave feedback on it."))
    if request.method == "POST":
        try:
            fb_services.leave_feedback(
                actor=user,
                line_id=found.pk,
                text=request.POST.get("text", ""),
                idempotency_key=f"form:{request.POST.get('form_key', '')}" if request.POST.get("form_key") else "",
            )
        except DomainError as exc:
            return _render_feedback_form(request, found, error=exc.message)
        return _after_write(request, found, _("Your feedback was submitted."))
    return _render_feedback_form(request, found)


def _render_feedback_form(request: HttpRequest, found: Line, error: str = "") -> HttpResponse:
    context = _line_context(request, found, error=error, text=request.POST.get("text", ""), form_key=uuid.uuid4().hex)
    template = "incentives/_feedback_form.html" if _is_htmx(request) else "incentives/details_feedback.html"
    # htmx swaps only 2xx answers; a refusal is shown in the dialog itself.
    status = 422 if error and not _is_htmx(request) else 200
    return render(request, template, context, status=status)


def _after_write(request: HttpRequest, found: Line, message: str) -> HttpResponse:
    found = sel.get_line(current_user(request), found.pk)  # the feedback status just changed
    if _is_htmx(request):
        return _render_line(request, found, notice=message, swap_status=True)
    messages.success(request, message)
    return redirect(reverse("incentives:line", args=[found.pk]))


@menu_required(menus.INCENTIVE_MANAGEMENT)
@require_POST
def answer(request: HttpRequest, feedback_id: int) -> HttpResponse:
    user = current_user(request)
    try:
        entry = sel.feedback_for(user, feedback_id)
    except NotFound:
        raise Http404(_("This feedback was not found.")) from None
    try:
        fb_services.answer_feedback(actor=user, feedback_id=entry.pk, text=request.POST.get("text", ""))
    except Forbidden as exc:
        return forbidden(request, exc.message)
    except DomainError as exc:
        return _render_line(request, _get_line(request, entry.line_id), answer_error=exc.message, answering=entry.pk)
    return _after_write(request, _get_line(request, entry.line_id), _("Your answer was recorded."))


def _export_request(request: HttpRequest) -> tuple[str, dict[str, Any]]:
    post = request.POST
    if post.get("action") == "selected":
        return "incentive_details_selected", {"lines": post.getlist("lines")}
    if post.get("method") == "program":
        return "incentive_details_by_program", {"period": post.get("period", ""), "programs": post.getlist("programs")}
    return "incentive_details_by_period", {"period": post.get("period", "")}


@menu_required(menus.INCENTIVE_MANAGEMENT)
@require_POST
def export(request: HttpRequest) -> HttpResponse:
    """Export › by period, by incentive programs, or Export Selected: an export task (X1)."""
    kind, params = _export_request(request)
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
    # Back to the same period and search, re-encoded so that nothing but a query string follows.
    back = QueryDict(request.POST.get("back", "")).urlencode()
    return redirect(reverse("incentives:details") + (f"?{back}" if back else ""))


urlpatterns = [
    path("details/", details, name="details"),
    path("details/lines/<int:line_id>/", line, name="line"),
    path("details/lines/<int:line_id>/feedback/", feedback, name="feedback"),
    path("details/feedback/<int:feedback_id>/answer/", answer, name="answer"),
    path("details/export/", export, name="details_export"),
]
