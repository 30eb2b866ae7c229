"""Reads of incentives (I2–I4): what a user may see, the Summary rows with their filters, one
incentive's policy and calculation, and its transitions. Every entry point scopes through
:mod:`partnercenter.scoping`; an incentive out of scope answers like a missing one (404)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Max, QuerySet
from django.utils.translation import gettext as _

from partnercenter import scoping
from partnercenter.accounts.models import User
from partnercenter.billing import payment_selectors
from partnercenter.billing.payment_services import shown
from partnercenter.core import clock
from partnercenter.core.errors import NotFound
from partnercenter.core.masking import mask_name
from partnercenter.core.money import ZERO
from partnercenter.partners.models import AssociationType, Partner

from .models import Estimate, Incentive, IncentiveKind, Line, Program, Rate, State, Transition


def incentives_for(user: User, purpose: scoping.Purpose = scoping.Purpose.VIEW) -> QuerySet[Incentive]:
    """The incentives of the partners in the user's scope (a distributor views its second-level
    resellers'; acting is on its own only)."""
    ids = scoping.partner_ids_for(user, purpose)
    qs = Incentive.objects.select_related("program", "partner")
    return qs if ids is None else qs.filter(partner_id__in=ids)


def get_incentive(user: User, number: str, purpose: scoping.Purpose = scoping.Purpose.VIEW) -> Incentive:
    try:
        return incentives_for(user, purpose).get(number=number)
    except Incentive.DoesNotExist:
        raise NotFound(f"No incentive {number!r}.", code="incentive_not_found") from None


def may_confirm(user: User, incentive: Incentive) -> bool:
    """Only the incentive's own partner confirms it (a distributor only views its resellers')."""
    return bool(user.is_authenticated and user.partner_id is not None and user.partner_id == incentive.partner_id)


def may_approve(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_platform_operator)


# --- the Summary ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    state: str = ""
    period: dt.date | None = None
    program: str = ""
    partner: str = ""


@dataclass
class SummaryRow:
    """An incentive, or an estimate (``incentive`` is None) of the current period."""

    number: str
    program: Program
    partner_code: str
    partner_id: int
    period_start: dt.date
    period_end: dt.date
    association_type: str
    kind: str
    currency: str
    amount: Decimal
    state: str
    deadline: dt.datetime | None
    incentive: Incentive | None = None
    frozen: str | None = None
    may_confirm: bool = False

    @property
    def state_label(self) -> str:
        return str(State(self.state).label)

    @property
    def kind_label(self) -> str:
        return str(IncentiveKind(self.kind).label)

    @property
    def period_label(self) -> str:
        return period_label(self.period_start, self.period_end)

    @property
    def association_label(self) -> str:
        return association_label(self.association_type)


def association_label(value: str) -> str:
    return str(AssociationType(value).label) if value in AssociationType.values else value


def period_label(start: dt.date, end: dt.date) -> str:
    """``2026-01`` for a month, ``2026-01 – 2026-03`` for a quarter."""
    last = end - dt.timedelta(days=1)
    if (start.year, start.month) == (last.year, last.month):
        return f"{start:%Y-%m}"
    return f"{start:%Y-%m} – {last:%Y-%m}"


def _filtered(user: User, f: Filters) -> QuerySet[Incentive]:
    qs = incentives_for(user)
    if f.state:
        qs = qs.filter(state=f.state)
    if f.period:
        qs = qs.filter(period_start=f.period)
    if f.program:
        qs = qs.filter(program__code=f.program)
    if f.partner and scoping.partner_ids_for(user) is None:
        qs = qs.filter(partner__code=f.partner)
    return qs.order_by("-period_start", "partner__code", "program__code", "kind", "number")


def latest_estimates(user: User, f: Filters | None = None) -> list[Estimate]:
    """The newest Estimate row per program, partner and currency of the current period(s): an
    estimate's period has not ended yet."""
    f = f or Filters()
    today = clock.today()
    qs = Estimate.objects.filter(period_end__gt=today, period_start__lte=today).select_related("program", "partner")
    ids = scoping.partner_ids_for(user)
    if ids is not None:
        qs = qs.filter(partner_id__in=ids)
    if f.program:
        qs = qs.filter(program__code=f.program)
    if f.period:
        qs = qs.filter(period_start=f.period)
    if f.partner and ids is None:
        qs = qs.filter(partner__code=f.partner)
    newest = qs.values("program_id", "partner_id", "currency", "period_start").annotate(last=Max("computed_at"))
    keep = {(r["program_id"], r["partner_id"], r["currency"], r["period_start"], r["last"]) for r in newest}
    rows = [e for e in qs if (e.program_id, e.partner_id, e.currency, e.period_start, e.computed_at) in keep]
    seen: set[tuple[int, int, str, dt.date]] = set()
    out = []
    for e in sorted(rows, key=lambda e: (e.partner.code, e.program.code, e.currency, -e.pk)):
        key = (e.program_id, e.partner_id, e.currency, e.period_start)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def _estimate_row(e: Estimate) -> SummaryRow:
    return SummaryRow(
        number="",
        program=e.program,
        partner_code=e.partner.code,
        partner_id=e.partner_id,
        period_start=e.period_start,
        period_end=e.period_end,
        association_type=e.program.association_type,
        kind=IncentiveKind.EARNING,
        currency=e.currency,
        amount=e.amount,
        state=State.ESTIMATED,
        deadline=None,
    )


def _incentive_row(user: User, inc: Incentive) -> SummaryRow:
    return SummaryRow(
        number=inc.number,
        program=inc.program,
        partner_code=inc.partner.code,
        partner_id=inc.partner_id,
        period_start=inc.period_start,
        period_end=inc.period_end,
        association_type=inc.association_type,
        kind=inc.kind,
        currency=inc.currency,
        amount=inc.amount,
        state=inc.state,
        deadline=inc.deadline,
        incentive=inc,
        may_confirm=inc.state == State.PENDING and may_confirm(user, inc),
    )


def summary_page(
    user: User, f: Filters, *, offset: int = 0, limit: int = 50, estimates: bool = True
) -> tuple[int, list[SummaryRow]]:
    """One page of the Summary and the count of all its rows: the estimates of the current
    period first (state Estimated), then the incentives, newest period first. A pending row
    carries why its period is frozen (I9), computed for the page's rows only."""
    shown = (
        [_estimate_row(e) for e in latest_estimates(user, f)] if estimates and f.state in ("", State.ESTIMATED) else []
    )
    qs = _filtered(user, f) if f.state != State.ESTIMATED else Incentive.objects.none()
    total = len(shown) + qs.count()
    rows = shown[offset : offset + limit]
    start = max(0, offset - len(shown))
    if limit > len(rows):
        rows += [_incentive_row(user, inc) for inc in qs[start : start + limit - len(rows)]]
    _mark_frozen(rows)
    return total, rows


def _mark_frozen(rows: list[SummaryRow]) -> None:
    reasons: dict[tuple[int, dt.date], str | None] = {}
    for r in rows:
        if r.state == State.PENDING and r.incentive is not None:
            key = (r.partner_id, r.period_start)
            if key not in reasons:
                reasons[key] = frozen_reason(r.incentive.partner, r.period_start, r.period_end)
            r.frozen = reasons[key]


def periods_for(user: User) -> list[dt.date]:
    """The periods (first days) that have incentives in scope, newest first: the period filter."""
    days = incentives_for(user).order_by("-period_start").values_list("period_start", flat=True).distinct()
    return list(days)


def programs_for(user: User) -> list[Program]:
    ids = incentives_for(user).values("program_id")
    return list(Program.objects.filter(pk__in=ids).order_by("code"))


def pending_of_period(incentive: Incentive) -> list[Incentive]:
    """Every pending incentive of the incentive's partner and period: what one confirmation
    confirms together (I3)."""
    qs = Incentive.objects.filter(
        partner_id=incentive.partner_id, period_start=incentive.period_start, state=State.PENDING
    ).select_related("program", "partner")
    return list(qs.order_by("number"))


# --- one incentive -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CalcLine:
    line: Line
    customer_account: str
    customer_name: str  # masked (E5)


@dataclass
class Calculation:
    lines: list[CalcLine]
    total: Decimal
    tiers: dict[str, list[Rate]] = field(default_factory=dict)


def rates_of(program: Program) -> dict[str, list[Rate]]:
    """The program's rate tiers by product type ('' = every other product type)."""
    tiers: dict[str, list[Rate]] = defaultdict(list)
    for r in Rate.objects.filter(program=program).order_by("product_type", "min_base"):
        tiers[r.product_type].append(r)
    return dict(tiers)


def calculation(incentive: Incentive) -> Calculation:
    """The detail lines (customer masked) with base, rate and amount; the total is Σ lines."""
    lines = list(Line.objects.filter(incentive=incentive).select_related("customer"))
    total = sum((ln.amount for ln in lines), ZERO)
    shown = [CalcLine(ln, ln.customer.account_id, mask_name(ln.customer.name)) for ln in lines]
    return Calculation(lines=shown, total=total, tiers=rates_of(incentive.program))


def transitions(incentive: Incentive) -> list[Transition]:
    return list(Transition.objects.filter(incentive=incentive).select_related("actor").order_by("at", "id"))


def frozen_reason(partner: Partner, period_start: dt.date, period_end: dt.date) -> str | None:
    """Why the partner's incentives of the period cannot be confirmed yet: the partner bills of
    months inside the period that still have an amount due; ``None`` when nothing is due."""
    unpaid = [
        d for d in payment_selectors.unpaid_bills(partner) if period_start <= d.bill.month < period_end and d.due > 0
    ]
    if not unpaid:
        return None
    bills = "; ".join(
        _("bill %(month)s has %(amount)s %(currency)s unpaid")
        % {"month": f"{d.bill.month:%Y-%m}", "amount": shown(d.due, d.bill.currency), "currency": d.bill.currency}
        for d in unpaid
    )
    return _("Frozen: %(bills)s") % {"bills": bills}
