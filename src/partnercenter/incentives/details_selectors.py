"""Reads of the Details tab (I5): the incentive detail lines of one reconciliation period in the
user's scope, their search filters, one line with its feedback thread. Shared by the page, the
API and the exports, so that all three list the same lines.

Scope: ``scoping.partner_ids_for(user, VIEW)`` (a distributor views its second-level resellers'
lines); leaving feedback needs ``ACT`` (:func:`may_leave_feedback`). Not in scope = not found.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext_lazy as _

from partnercenter import scoping
from partnercenter.accounts.models import User
from partnercenter.core import masking
from partnercenter.core.errors import NotFound

from .models import Feedback, Incentive, Line, Program

# The feedback filter's values ("" = any) and the status each line shows.
FEEDBACK_FILTERS: dict[str, Any] = {
    "": _("Any"),
    "with": _("With feedback"),
    "without": _("Without feedback"),
    "answered": _("Answered"),
}
STATUS_NONE, STATUS_OPEN, STATUS_ANSWERED = "none", "open", "answered"
FEEDBACK_STATUS: dict[str, Any] = {
    STATUS_NONE: _("No feedback"),
    STATUS_OPEN: _("Awaiting answer"),
    STATUS_ANSWERED: _("Answered"),
}
MAX_TEXT = 100


@dataclass(frozen=True)
class DetailFilters:
    """The Details tab's search box: every attribute of seed 003 (empty = not filtered)."""

    feedback: str = ""
    programs: tuple[str, ...] = ()  # program codes; any of them
    customer_name: str = ""
    customer_account: str = ""
    order_id: str = ""
    incentive_id: str = ""
    product_type: str = ""


def incentives_for(user: User, purpose: scoping.Purpose = scoping.Purpose.VIEW) -> QuerySet[Incentive]:
    ids = scoping.partner_ids_for(user, purpose)
    qs = Incentive.objects.all()
    return qs if ids is None else qs.filter(partner_id__in=ids)


def lines_for(user: User, purpose: scoping.Purpose = scoping.Purpose.VIEW) -> QuerySet[Line]:
    ids = scoping.partner_ids_for(user, purpose)
    qs = Line.objects.all()
    return qs if ids is None else qs.filter(incentive__partner_id__in=ids)


def periods(user: User) -> list[dt.date]:
    """The reconciliation periods (their first days) that have incentives in scope, latest first."""
    starts = incentives_for(user).order_by("-period_start").values_list("period_start", flat=True).distinct()
    return list(starts)


def programs_of_period(user: User, period: dt.date) -> list[Program]:
    ids = incentives_for(user).filter(period_start=period).values("program_id")
    return list(Program.objects.filter(pk__in=ids).order_by("name", "code"))


def product_types_of_period(user: User, period: dt.date) -> list[str]:
    qs = lines_for(user).filter(incentive__period_start=period).exclude(product_type="")
    return sorted(set(qs.values_list("product_type", flat=True)))


def _asked() -> Exists:
    return Exists(Feedback.objects.filter(line_id=OuterRef("pk"), reply_to__isnull=True))


def _answered() -> Exists:
    return Exists(Feedback.objects.filter(line_id=OuterRef("pk"), reply_to__isnull=False))


def _with_feedback_flags(qs: QuerySet[Line]) -> QuerySet[Line]:
    return qs.annotate(has_feedback=_asked(), has_answer=_answered())


def _text_filters(user: User, qs: QuerySet[Line], f: DetailFilters) -> QuerySet[Line]:
    if f.customer_name.strip():
        # The same rule as every customer search: who may not reveal names searches the masked one.
        qs = qs.filter(masking.customer_search_q(user, f.customer_name[:MAX_TEXT], "customer__", name_only=True))
    if f.customer_account.strip():
        qs = qs.filter(customer__account_id__icontains=f.customer_account.strip()[:MAX_TEXT])
    if f.order_id.strip():
        qs = qs.filter(order_id__icontains=f.order_id.strip()[:MAX_TEXT])
    if f.incentive_id.strip():
        qs = qs.filter(incentive__number__icontains=f.incentive_id.strip()[:MAX_TEXT])
    if f.product_type.strip():
        qs = qs.filter(product_type=f.product_type.strip())
    return qs


def detail_lines(user: User, period: dt.date | None, filters: DetailFilters = DetailFilters()) -> QuerySet[Line]:
    """The period's lines in scope matching ``filters``, in incentive-number order."""
    qs = lines_for(user)
    if period is not None:
        qs = qs.filter(incentive__period_start=period)
    if filters.programs:
        qs = qs.filter(incentive__program__code__in=list(filters.programs))
    qs = _with_feedback_flags(_text_filters(user, qs, filters))
    if filters.feedback == "with":
        qs = qs.filter(_asked())
    elif filters.feedback == "without":
        qs = qs.filter(~_asked())
    elif filters.feedback == "answered":
        qs = qs.filter(_answered())
    return qs.select_related("incentive", "incentive__program", "incentive__partner", "customer").order_by(
        "incentive__number", "customer__account_id", "order_id", "product_type", "pk"
    )


def lines_by_ids(user: User, ids: Iterable[int]) -> QuerySet[Line]:
    return detail_lines(user, None).filter(pk__in=list(ids))


def feedback_status(line: Line) -> str:
    """``none``, ``open`` (asked, not answered) or ``answered``; uses the flags of
    :func:`detail_lines` when the line came from there."""
    has_answer = getattr(line, "has_answer", None)
    has_feedback = getattr(line, "has_feedback", None)
    if has_answer is None or has_feedback is None:
        rows = list(Feedback.objects.filter(line=line).values_list("reply_to_id", flat=True))
        has_feedback, has_answer = any(r is None for r in rows), any(r is not None for r in rows)
    if has_answer:
        return STATUS_ANSWERED
    return STATUS_OPEN if has_feedback else STATUS_NONE


def get_line(user: User, line_id: Any, purpose: scoping.Purpose = scoping.Purpose.VIEW) -> Line:
    """One line in scope (NotFound otherwise, the same as a line that does not exist)."""
    try:
        pk = int(line_id)
    except (TypeError, ValueError):
        pk = 0
    qs = detail_lines(user, None) if purpose is scoping.Purpose.VIEW else lines_for(user, purpose)
    line = qs.filter(pk=pk).first()
    if line is None:
        raise NotFound(f"Incentive detail line {line_id} was not found.", code="line_not_found")
    return line


def thread(line: Line) -> list[Feedback]:
    """The line's feedback and answers, oldest first."""
    return list(Feedback.objects.filter(line=line).select_related("author").order_by("created_at", "id"))


def may_leave_feedback(user: User, line: Line) -> bool:
    """Partner users of the line's own partner (ACT); not a distributor over its sub-reseller's
    line, not a platform operator (who answers instead)."""
    if user.is_platform_operator or user.partner_id is None:
        return False
    ids = scoping.partner_ids_for(user, scoping.Purpose.ACT)
    return ids is not None and line.incentive.partner_id in ids


def may_answer(user: User) -> bool:
    return bool(user.is_authenticated and user.is_platform_operator)


def feedback_for(user: User, feedback_id: Any) -> Feedback:
    """A feedback entry whose line is in scope (NotFound otherwise)."""
    try:
        pk = int(feedback_id)
    except (TypeError, ValueError):
        pk = 0
    ids = scoping.partner_ids_for(user, scoping.Purpose.VIEW)
    qs = Feedback.objects.select_related("line", "line__incentive", "line__incentive__partner")
    if ids is not None:
        qs = qs.filter(line__incentive__partner_id__in=ids)
    fb = qs.filter(pk=pk).first()
    if fb is None:
        raise NotFound(f"Feedback {feedback_id} was not found.", code="feedback_not_found")
    return fb


def period_label(period: dt.date) -> str:
    return f"{period:%Y-%m}"


def parse_period(text: str) -> dt.date | None:
    """``2026-01`` → 2026-01-01; None when it is not a month."""
    text = (text or "").strip()
    try:
        if len(text) != 7:
            raise ValueError
        return dt.date.fromisoformat(f"{text}-01")
    except ValueError:
        return None
