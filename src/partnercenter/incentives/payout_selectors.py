"""Reads of payout applications (I7) and of incentive validity (I8).

What may be applied for: a partner's issued earning incentives of one currency that are in no
open application (submitted, or approved); every open negative incentive (an issued clawback in
no open application) of that partner and currency is always part of an application. An earning
is valid from its issue (``issued_at``); when the partner has left the program it stays valid
until one calendar year after leaving, then the worker expires it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q, QuerySet

from partnercenter import scoping
from partnercenter.accounts.models import User
from partnercenter.core import money
from partnercenter.core.errors import NotFound, ValidationFailed
from partnercenter.partners.models import Partner

from .models import (
    Application,
    ApplicationItem,
    ApplicationState,
    Enrolment,
    Incentive,
    IncentiveKind,
    State,
)

# An application holds its incentives while it is under review or once approved; a rejection
# releases them.
OPEN = Q(application__decision__isnull=True) | Q(application__decision__state=ApplicationState.APPROVED)


def add_year(at: dt.datetime) -> dt.datetime:
    """The same instant one calendar year later (29 February → 28 February)."""
    try:
        return at.replace(year=at.year + 1)
    except ValueError:
        return at.replace(year=at.year + 1, day=28)


def partner_for(user: User, code: str | None, purpose: scoping.Purpose = scoping.Purpose.VIEW) -> Partner:
    """``code`` if given (404 out of scope), else the user's own partner; operators name one."""
    if code:
        return scoping.get_partner(user, code, purpose)
    if user.partner_id is not None and user.partner is not None:
        return user.partner
    raise ValidationFailed(
        "Name the partner whose incentives you mean.",
        code="partner_required",
        details=[{"where": "partner", "why": "required for a platform operator"}],
    )


def held_incentive_ids(partner: Partner) -> set[int]:
    """Incentives of ``partner`` in an open (submitted or approved) application."""
    rows = ApplicationItem.objects.filter(OPEN, application__partner=partner).values_list("incentive_id", flat=True)
    return set(rows)


def valid_until(partner: Partner, program_ids: set[int]) -> dict[int, dt.datetime | None]:
    """Per program: one year after the partner left it (its latest enrolment), or ``None``."""
    latest: dict[int, Enrolment] = {}
    for e in Enrolment.objects.filter(partner=partner, program_id__in=program_ids).order_by("joined_at", "pk"):
        latest[e.program_id] = e
    return {pid: add_year(e.left_at) if e.left_at else None for pid, e in latest.items()}


@dataclass(frozen=True)
class Applicable:
    incentive: Incentive
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None


@dataclass
class CurrencyPayout:
    """One currency's applicable earnings and its always-included negatives."""

    currency: str
    positives: list[Applicable] = field(default_factory=list)
    negatives: list[Applicable] = field(default_factory=list)

    @property
    def positive_total(self) -> Decimal:
        return sum((a.incentive.amount for a in self.positives), money.ZERO)

    @property
    def negative_total(self) -> Decimal:
        return sum((a.incentive.amount for a in self.negatives), money.ZERO)

    @property
    def places(self) -> int:
        return money.MINOR_UNITS.get(self.currency, 2)

    def total_for(self, selected: set[str]) -> Decimal:
        """The amount an application of the ``selected`` earnings would have."""
        chosen = (a.incentive.amount for a in self.positives if a.incentive.number in selected)
        return self.negative_total + sum(chosen, money.ZERO)

    @property
    def negative_numbers(self) -> list[str]:
        return [a.incentive.number for a in self.negatives]


def open_incentives(partner: Partner, currency: str | None = None) -> QuerySet[Incentive]:
    """Issued incentives of ``partner`` in no open application (earnings and clawbacks)."""
    held = ApplicationItem.objects.filter(OPEN, application__partner=partner).values("incentive_id")
    qs = Incentive.objects.filter(partner=partner, state=State.ISSUED).exclude(pk__in=held)
    if currency:
        qs = qs.filter(currency=currency)
    return qs.select_related("program").order_by("currency", "period_start", "number")


def applicable(partner: Partner, currency: str | None = None) -> list[CurrencyPayout]:
    """Per currency (sorted): what ``partner`` may apply for now, and the negatives that come with it."""
    rows = list(open_incentives(partner, currency))
    until = valid_until(partner, {r.program_id for r in rows})
    out: dict[str, CurrencyPayout] = {}
    for inc in rows:
        group = out.setdefault(inc.currency, CurrencyPayout(inc.currency))
        negative = inc.kind == IncentiveKind.CLAWBACK
        # Negative incentives never expire (I7), so they have no end of validity.
        item = Applicable(inc, inc.issued_at, None if negative else until.get(inc.program_id))
        (group.negatives if negative else group.positives).append(item)
    return [out[c] for c in sorted(out)]


def state_of(application: Application) -> str:
    decision = getattr(application, "decision", None)
    return str(decision.state) if decision is not None else str(ApplicationState.SUBMITTED)


def applications(user: User, partner: Partner | None = None, state: str | None = None) -> list[Application]:
    """Applications in the user's scope (one partner's if given), newest first."""
    qs = Application.objects.select_related("partner", "decision", "created_by")
    ids = scoping.partner_ids_for(user, scoping.Purpose.VIEW)
    if ids is not None:
        qs = qs.filter(partner_id__in=ids)
    if partner is not None:
        qs = qs.filter(partner=partner)
    if state == ApplicationState.SUBMITTED:
        qs = qs.filter(decision__isnull=True)
    elif state:
        qs = qs.filter(decision__state=state)
    return list(qs.order_by("-created_at", "-id"))


def application(user: User, number: str) -> Application:
    """One application in the user's scope; another partner's is 404."""
    qs = Application.objects.select_related("partner", "decision", "created_by", "decision__decided_by")
    ids = scoping.partner_ids_for(user, scoping.Purpose.VIEW)
    if ids is not None:
        qs = qs.filter(partner_id__in=ids)
    found = qs.filter(number=number).first()
    if found is None:
        raise NotFound(f"No payout application {number}.", code="application_not_found")
    return found


def items(app: Application) -> list[ApplicationItem]:
    """The application's incentives: earnings first, then negatives, by number."""
    rows = list(ApplicationItem.objects.filter(application=app).select_related("incentive", "incentive__program"))
    return sorted(rows, key=lambda i: (i.incentive.kind != IncentiveKind.EARNING, i.incentive.number))
