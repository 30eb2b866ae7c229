"""Writes of incentives generated from the ledger (I1, I2): each program's incentives of a due
reconciliation period with their lines, clawbacks, and the current period's estimates.

A period's incentives are due from 00:00 on the 5th of the month after it (billing time zone),
like partner bills. :func:`catch_up` generates every due period of every program that has not
been generated yet, oldest first (a clawback looks at the earlier periods' lines, so they must
exist first), then refreshes the estimates of the current period once a day. The worker runs it
every minute; running it again changes nothing.

A period is generated once per program, inside one transaction under the ingestion lock (so the
ledger read stays true until it commits) and the program's row lock. The generation is recorded
in the audit log (``incentives.generate``, target ``<program code> <period start>``) even when it
produced no incentive, at the generation instant: that entry is what tells a later catch-up the
period is done, since a period without any eligible partner leaves no other trace.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction

from partnercenter.accounts.models import AuditEntry
from partnercenter.core import clock
from partnercenter.core.money import CONTEXT, ZERO
from partnercenter.usage import freshness
from partnercenter.usage import selectors as usage

from . import calculation, payouts, workflow
from .calculation import RateRow
from .models import Enrolment, Estimate, Incentive, IncentiveKind, Line, Program, State

GENERATE_ACTION = "incentives.generate"

# A line's key: customer, order id, service type, product type.
_LineKey = tuple[int, str, str, str]


@dataclass
class DraftLine:
    customer_id: int
    order_id: str
    service_type: str
    product_type: str
    base: Decimal = ZERO
    count: int = 0
    rate: Decimal = ZERO
    amount: Decimal = ZERO
    corrects: dt.date | None = None


@dataclass
class Draft:
    """One partner's incentive of one program and period before it is written: an earning or a
    clawback, with its lines."""

    partner_id: int
    kind: str
    lines: list[DraftLine] = field(default_factory=list)

    @property
    def base(self) -> Decimal:
        return calculation.incentive_amount(line.base for line in self.lines)

    @property
    def amount(self) -> Decimal:
        return calculation.incentive_amount(line.amount for line in self.lines)


def period_key(program: Program, start: dt.date) -> str:
    return f"{program.code} {start.isoformat()}"


def rates_of(program: Program) -> list[RateRow]:
    return [RateRow(pt, mb, r) for pt, mb, r in program.rates.values_list("product_type", "min_base", "rate")]


def enrolled_partner_ids(program: Program, start: dt.date, end: dt.date) -> set[int]:
    """The partners enrolled in ``program`` at some moment of the period ``[start, end)``:
    joined before it ends and not left before it starts."""
    qs = Enrolment.objects.filter(program=program, joined_at__lt=clock.start_of_day(end)).exclude(
        left_at__lte=clock.start_of_day(start)
    )
    return set(qs.values_list("partner_id", flat=True))


def _earned_orders(program: Program, partner_ids: set[int], before: dt.date) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """The orders that earned on an earning line of ``program`` in a period before ``before``:
    ``(partner, order)`` and ``(partner, order, product type)`` → ``(rate, period start)`` of the
    latest such line."""
    rows = (
        Line.objects.filter(
            incentive__program=program,
            incentive__kind=IncentiveKind.EARNING,
            incentive__period_start__lt=before,
            incentive__partner_id__in=partner_ids,
        )
        .exclude(order_id="")
        .order_by("incentive__period_start", "id")
        .values_list("incentive__partner_id", "order_id", "product_type", "rate", "incentive__period_start")
    )
    found: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for partner_id, order_id, product_type, rate, start in rows:
        found[(partner_id, order_id)] = (rate, start)
        found[(partner_id, order_id, product_type)] = (rate, start)
    return found


def _bucket(buckets: dict[_LineKey, DraftLine], row: dict[str, Any]) -> DraftLine:
    key = (row["customer_id"], row["x_order_id"], row["service_type"], row["service_category"])
    if key not in buckets:
        buckets[key] = DraftLine(*key)
    line = buckets[key]
    line.base = CONTEXT.add(line.base, row["amount"])
    line.count += row["count"]
    return line


def _earning(partner_id: int, buckets: dict[_LineKey, DraftLine], rates: list[RateRow], currency: str) -> Draft | None:
    """The earning from a partner's lines: the whole-period base chooses each product type's
    tier; lines with base 0 or without a rate are dropped; nothing when the base is not positive."""
    total = calculation.incentive_amount(line.base for line in buckets.values())
    if total <= 0:
        return None
    draft = Draft(partner_id, IncentiveKind.EARNING)
    for key in sorted(buckets):
        line = buckets[key]
        rate = calculation.choose_rate(rates, line.product_type, total)
        if line.base == 0 or rate is None:
            continue
        line.rate, line.amount = rate, calculation.line_amount(line.base, rate, currency)
        draft.lines.append(line)
    return draft if draft.lines else None


def _clawback(partner_id: int, buckets: dict[_LineKey, DraftLine], currency: str) -> Draft | None:
    draft = Draft(partner_id, IncentiveKind.CLAWBACK)
    for key in sorted(buckets):
        line = buckets[key]
        if line.base == 0:
            continue
        line.amount = calculation.line_amount(line.base, line.rate, currency)
        draft.lines.append(line)
    return draft if draft.lines else None


def plan(program: Program, start: dt.date, *, through: int | None = None) -> list[Draft]:
    """The incentives of ``program`` for the period starting ``start`` from the ledger (up to
    line item ``through``): per enrolled partner an earning, and a clawback for the refunds of
    orders that earned in an earlier period (at that earlier line's rate; not netted into the
    earning). Earnings first, by partner."""
    end = calculation.period_end(start, program.period)
    partner_ids = enrolled_partner_ids(program, start, end)
    if not partner_ids:
        return []
    rows = usage.incentive_base_rows(
        start,
        end,
        association_type=program.association_type,
        currency=program.currency,
        service_types=program.service_types,
        product_types=program.product_types,
        partner_ids=partner_ids,
        through=through,
    )
    earned = _earned_orders(program, partner_ids, start)
    earning: dict[int, dict[_LineKey, DraftLine]] = defaultdict(dict)
    clawback: dict[int, dict[_LineKey, DraftLine]] = defaultdict(dict)
    for row in rows:
        pid, order = row["partner_id"], row["x_order_id"]
        prior = earned.get((pid, order, row["service_category"])) or earned.get((pid, order))
        if row["classification"] == "refund" and order and prior:
            line = _bucket(clawback[pid], row)
            line.rate, line.corrects = prior
        else:
            _bucket(earning[pid], row)
    rates = rates_of(program)
    drafts = [_earning(pid, earning[pid], rates, program.currency) for pid in sorted(earning)]
    drafts += [_clawback(pid, clawback[pid], program.currency) for pid in sorted(clawback)]
    return [d for d in drafts if d is not None]


def is_generated(program: Program, start: dt.date) -> bool:
    if Incentive.objects.filter(program=program, period_start=start).exists():
        return True
    return AuditEntry.objects.filter(action=GENERATE_ACTION, target=period_key(program, start)).exists()


def _next_numbers(start: dt.date, count: int) -> list[str]:
    """``count`` incentive numbers INC-YYYYMM-nnnnnn after the last one of the period start's
    month. The caller holds the ingestion lock, which every generation takes, so no other
    generation numbers at the same time."""
    prefix = f"INC-{start:%Y%m}-"
    last = (
        Incentive.objects.filter(number__startswith=prefix).order_by("-number").values_list("number", flat=True).first()
    )
    first = int(last[len(prefix) :]) + 1 if last else 1
    return [f"{prefix}{n:06d}" for n in range(first, first + count)]


def _write(program: Program, start: dt.date, drafts: list[Draft], through: int, at: dt.datetime) -> list[Incentive]:
    end = calculation.period_end(start, program.period)
    deadline = calculation.deadline(at, program.confirmation_days)
    made = []
    for draft, number in zip(drafts, _next_numbers(start, len(drafts)), strict=True):
        incentive = Incentive.objects.create(
            number=number,
            program=program,
            partner_id=draft.partner_id,
            period_start=start,
            period_end=end,
            currency=program.currency,
            association_type=program.association_type,
            kind=draft.kind,
            base_amount=draft.base,
            amount=draft.amount,
            line_count=len(draft.lines),
            generated_at=at,
            deadline=deadline,
            through_line_item_id=through,
            state="",
        )
        Line.objects.bulk_create(
            Line(
                incentive=incentive,
                customer_id=line.customer_id,
                order_id=line.order_id,
                service_type=line.service_type,
                product_type=line.product_type,
                base_amount=line.base,
                rate=line.rate,
                amount=line.amount,
                line_item_count=line.count,
                corrects_period=line.corrects,
            )
            for line in draft.lines
        )
        workflow.transition(incentive, State.PENDING, at=at, reason="generated")
        made.append(incentive)
    return made


def generate_period(program: Program, start: dt.date, *, at: dt.datetime | None = None) -> list[Incentive]:
    """Generate ``program``'s incentives of the period starting ``start``, once: nothing when it
    was generated before. Refused before the period is due. Returns the incentives written now."""
    at = at or clock.now()
    start = calculation.period_start(start, program.period)
    due = calculation.due_at(start, program.period)
    if at < due:
        raise ValueError(f"the incentives of {period_key(program, start)} are due from {due.isoformat()}, not before")
    with transaction.atomic():
        usage.hold_ledger_still()
        program = Program.objects.select_for_update().get(pk=program.pk)
        if is_generated(program, start):
            return []
        through = usage.ledger_watermark()
        made = _write(program, start, plan(program, start, through=through), through, at)
        # Recorded at the generation instant (not the wall clock): `periods_due` looks for it
        # from the period's due instant on.
        AuditEntry.objects.create(
            at=at,
            actor=None,
            action=GENERATE_ACTION,
            target=period_key(program, start),
            detail={
                "incentives": len(made),
                "earnings": sum(1 for i in made if i.kind == IncentiveKind.EARNING),
                "clawbacks": sum(1 for i in made if i.kind == IncentiveKind.CLAWBACK),
                "through_line_item_id": through,
            },
        )
    return made


def program_periods(program: Program, until: dt.date) -> list[dt.date]:
    """The starts of ``program``'s periods from its first up to the one holding ``until`` (and
    not past its last day, if it ends)."""
    start = calculation.period_start(program.valid_from, program.period)
    out = []
    while start <= until and (program.valid_to is None or start <= program.valid_to):
        out.append(start)
        start = calculation.next_period(start, program.period)
    return out


def periods_due(at: dt.datetime) -> list[tuple[Program, dt.date]]:
    """The (program, period start) pairs due at ``at`` and not generated yet, oldest first. Three
    queries whatever the number of programs and periods: the worker asks every minute."""
    due = [
        (program, start)
        for program in Program.objects.order_by("code")
        for start in program_periods(program, clock.billing_date(at))
        if calculation.due_at(start, program.period) <= at
    ]
    with_incentives = set(Incentive.objects.values_list("program_id", "period_start").distinct())
    due = [(p, s) for p, s in due if (p.pk, s) not in with_incentives]
    if due:
        # A generation is recorded at or after its period's due instant (the `at` index narrows).
        since = min(calculation.due_at(s, p.period) for p, s in due)
        done = set(
            AuditEntry.objects.filter(
                action=GENERATE_ACTION, at__gte=since, target__in=[period_key(p, s) for p, s in due]
            ).values_list("target", flat=True)
        )
        due = [(p, s) for p, s in due if period_key(p, s) not in done]
    return sorted(due, key=lambda pair: (pair[1], pair[0].code))


def refresh_estimates(at: dt.datetime | None = None, *, force: bool = False) -> int:
    """The current period so far per program, enrolled partner and currency (state Estimated), as
    new :class:`Estimate` rows: at most once per day (billing time zone), or now with ``force``.
    Returns the rows written. Under the ingestion lock, so two workers refresh once."""
    at = at or clock.now()
    today = clock.billing_date(at)
    with transaction.atomic():
        usage.hold_ledger_still()
        if not force and Estimate.objects.filter(computed_at__gte=clock.start_of_day(today)).exists():
            return 0
        as_of = min(at, freshness.complete_until() or at)
        rows = []
        for program in Program.objects.order_by("code"):
            start = calculation.period_start(today, program.period)
            if start in program_periods(program, today):
                rows += _estimates(program, start, as_of, at)
        Estimate.objects.bulk_create(rows)
    return len(rows)


def _estimates(program: Program, start: dt.date, as_of: dt.datetime, at: dt.datetime) -> list[Estimate]:
    end = calculation.period_end(start, program.period)
    return [
        Estimate(
            program=program,
            partner_id=draft.partner_id,
            period_start=start,
            period_end=end,
            currency=program.currency,
            base_amount=draft.base,
            amount=draft.amount,
            line_count=len(draft.lines),
            as_of=as_of,
            computed_at=at,
        )
        for draft in plan(program, start)
        if draft.kind == IncentiveKind.EARNING
    ]


@dataclass(frozen=True)
class CatchUp:
    periods: list[tuple[str, dt.date]]  # (program code, period start) generated now
    incentives: int
    estimates: int
    auto_confirmed: int = 0
    expired: int = 0


def generate_due(at: dt.datetime) -> tuple[list[tuple[str, dt.date]], int]:
    """Generate every due period not generated yet, oldest first: the (program code, period
    start) pairs generated and the number of incentives written."""
    periods, incentives = [], 0
    for program, start in periods_due(at):
        incentives += len(generate_period(program, start, at=at))
        periods.append((program.code, start))
    return periods, incentives


def catch_up(at: dt.datetime | None = None, *, force_estimates: bool = False) -> CatchUp:
    """Generate every due period not generated yet, oldest first; confirm the pending incentives
    whose deadline has passed and that are not frozen (I3, I9); expire the issued earnings one year
    after their partner left the program (I8); then refresh the current period's estimates if they
    are not from today. Idempotent: each step does only what is due at ``at``."""
    at = at or clock.now()
    periods, incentives = generate_due(at)
    confirmed = workflow.auto_confirm_due(at)
    expired = payouts.expire_due(at)
    estimates = refresh_estimates(at, force=force_estimates)
    return CatchUp(periods, incentives, estimates, auto_confirmed=confirmed, expired=expired)
