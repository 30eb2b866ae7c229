"""API of incentives (I2–I4, I9), mounted at /api/v1/incentives: the Summary, the estimates of
the current period, one incentive with its policy, calculation and history, confirming a period
and the operator's approval. Thin: reads in :mod:`.selectors`, writes in :mod:`.workflow`.
Amounts are exact decimal strings."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Field, Path, Query, Router, Schema

from partnercenter.accounts.api import current_user
from partnercenter.accounts.schemas import ErrorOut
from partnercenter.core import menus
from partnercenter.core.decorators import router_menu
from partnercenter.core.money import canonical as to_str
from partnercenter.core.pagination import IdempotencyKey, limit_field, offset_field

from . import selectors as sel
from . import workflow
from .models import Estimate, Incentive, IncentiveKind, State

router = Router(tags=["incentives"])
router_menu(router, menus.INCENTIVE_MANAGEMENT)

ERRORS: dict[int, type[ErrorOut]] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS: dict[int, type[ErrorOut]] = {**ERRORS, 409: ErrorOut}
PERIOD_PATTERN = r"^20\d{2}-(0[1-9]|1[0-2])$"
NUMBER_PATTERN = r"^INC-\d{6}-\d{6}$"
KEY_HELP = (
    "The same key answers the first result again; the same key for another incentive is 409 `idempotency_key_reused`."
)


class IncentivesQuery(Schema):
    state: State | None = Field(None, description="Pending confirmation, issuing, issued or expired.")
    period: str | None = Field(None, pattern=PERIOD_PATTERN, description="The period's first month, YYYY-MM.")
    program: str | None = Field(None, max_length=64, description="A program code.")
    partner: str | None = Field(None, max_length=64, description="A partner code (platform operators only).")
    limit: int = limit_field()
    offset: int = offset_field()


class IncentiveOut(Schema):
    number: str
    partner: str
    program: str
    program_name: str
    period_start: dt.date
    period_end: dt.date = Field(description="The first day after the period.")
    currency: str
    association_type: str
    kind: IncentiveKind
    base_amount: str
    amount: str = Field(description="Σ the lines' amounts, exact.")
    state: State
    deadline: dt.datetime = Field(description="Confirmed automatically from this instant on.")
    issued_at: dt.datetime | None
    frozen: str | None = Field(None, description="Why a pending incentive cannot be confirmed yet (I9).")
    may_confirm: bool


class IncentivesPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[IncentiveOut]


class EstimateOut(Schema):
    partner: str
    program: str
    program_name: str
    period_start: dt.date
    period_end: dt.date
    currency: str
    base_amount: str
    amount: str
    line_count: int
    as_of: dt.datetime
    computed_at: dt.datetime


class RateOut(Schema):
    product_type: str = Field(description="'' = every product type without its own rate.")
    min_base: str
    rate: str = Field(description="A fraction: 0.05 is 5 %.")


class PolicyOut(Schema):
    code: str
    name: str
    description: str
    period: str
    association_type: str
    service_types: list[str]
    product_types: list[str]
    confirmation_days: int
    rates: list[RateOut]


class LineOut(Schema):
    customer: str = Field(description="The customer's account id.")
    customer_name: str = Field(description="Masked.")
    order_id: str
    service_type: str
    product_type: str
    base_amount: str
    rate: str
    amount: str = Field(description="round_minor(base × rate), half up.")
    corrects_period: dt.date | None


class TransitionOut(Schema):
    from_state: str
    to_state: str
    at: dt.datetime
    actor: str | None
    reason: str


class IncentiveDetailOut(IncentiveOut):
    policy: PolicyOut
    lines: list[LineOut]
    total: str = Field(description="Σ lines' amounts, equal to `amount`.")
    transitions: list[TransitionOut]


class ConfirmedOut(Schema):
    period_start: dt.date
    repeated: bool = Field(description="True when an Idempotency-Key answered an earlier confirmation.")
    incentives: list[IncentiveOut]


def incentive_out(inc: Incentive, *, frozen: str | None = None, may_confirm: bool = False) -> IncentiveOut:
    return IncentiveOut(
        number=inc.number,
        partner=inc.partner.code,
        program=inc.program.code,
        program_name=inc.program.name,
        period_start=inc.period_start,
        period_end=inc.period_end,
        currency=inc.currency,
        association_type=inc.association_type,
        kind=IncentiveKind(inc.kind),
        base_amount=to_str(inc.base_amount),
        amount=to_str(inc.amount),
        state=State(inc.state),
        deadline=inc.deadline,
        issued_at=inc.issued_at,
        frozen=frozen,
        may_confirm=may_confirm,
    )


def estimate_out(e: Estimate) -> EstimateOut:
    return EstimateOut(
        partner=e.partner.code,
        program=e.program.code,
        program_name=e.program.name,
        period_start=e.period_start,
        period_end=e.period_end,
        currency=e.currency,
        base_amount=to_str(e.base_amount),
        amount=to_str(e.amount),
        line_count=e.line_count,
        as_of=e.as_of,
        computed_at=e.computed_at,
    )


def _filters(q: IncentivesQuery) -> sel.Filters:
    period = dt.date.fromisoformat(f"{q.period}-01") if q.period else None
    return sel.Filters(state=q.state or "", period=period, program=q.program or "", partner=q.partner or "")


@router.get(
    "",
    response={200: IncentivesPage, **ERRORS},
    summary="Incentives (the Summary)",
    description="The incentives in the caller's scope, newest period first, by state, period, program and (platform "
    "operators) partner. A distributor views its second-level resellers' incentives (`may_confirm` false). A pending "
    "incentive whose period is frozen by an unpaid partner bill says why in `frozen` (I9). Estimates of the current "
    "period are at `/estimates`. Bad filters are 422.",
)
def list_incentives(request: HttpRequest, q: Query[IncentivesQuery]) -> IncentivesPage:
    total, rows = sel.summary_page(current_user(request), _filters(q), offset=q.offset, limit=q.limit, estimates=False)
    items = [incentive_out(r.incentive, frozen=r.frozen, may_confirm=r.may_confirm) for r in rows if r.incentive]
    return IncentivesPage(total=total, limit=q.limit, offset=q.offset, items=items)


@router.get(
    "/estimates",
    response={200: list[EstimateOut], **ERRORS},
    summary="Estimated incentives of the current period",
    description="The latest estimate per program, partner and currency of the period in progress (state "
    "Estimated, I2): performance so far, recomputed by the worker; not an incentive yet.",
)
def estimates(request: HttpRequest) -> list[EstimateOut]:
    return [estimate_out(e) for e in sel.latest_estimates(current_user(request))]


def _number() -> str:
    return Path(..., pattern=NUMBER_PATTERN, description="The incentive ID, INC-YYYYMM-nnnnnn.")  # type: ignore[no-any-return]


@router.get(
    "/{number}",
    response={200: IncentiveDetailOut, **ERRORS},
    summary="One incentive",
    description="I4: its status, policy (program, period, eligibility, rate tiers), calculation (one line per "
    "customer, order and product type: base, rate, amount; customer names masked; `total` = Σ lines) and its "
    "transitions. Out of the caller's scope or unknown: 404 `incentive_not_found`; a malformed ID: 422.",
)
def get_incentive(request: HttpRequest, number: str = _number()) -> IncentiveDetailOut:
    user = current_user(request)
    inc = sel.get_incentive(user, number)
    calc = sel.calculation(inc)
    frozen = (
        workflow.frozen_reason(inc.partner, inc.period_start, inc.period_end) if inc.state == State.PENDING else None
    )
    base = incentive_out(inc, frozen=frozen, may_confirm=inc.state == State.PENDING and sel.may_confirm(user, inc))
    program = inc.program
    policy = PolicyOut(
        code=program.code,
        name=program.name,
        description=program.description,
        period=program.period,
        association_type=program.association_type,
        service_types=list(program.service_types),
        product_types=list(program.product_types),
        confirmation_days=program.confirmation_days,
        rates=[
            RateOut(product_type=r.product_type, min_base=to_str(r.min_base), rate=to_str(r.rate))
            for tiers in calc.tiers.values()
            for r in tiers
        ],
    )
    lines = [
        LineOut(
            customer=c.customer_account,
            customer_name=c.customer_name,
            order_id=c.line.order_id,
            service_type=c.line.service_type,
            product_type=c.line.product_type,
            base_amount=to_str(c.line.base_amount),
            rate=to_str(c.line.rate),
            amount=to_str(c.line.amount),
            corrects_period=c.line.corrects_period,
        )
        for c in calc.lines
    ]
    history = [
        TransitionOut(
            from_state=t.from_state,
            to_state=t.to_state,
            at=t.at,
            actor=t.actor.username if t.actor else None,
            reason=t.reason,
        )
        for t in sel.transitions(inc)
    ]
    return IncentiveDetailOut(**base.dict(), policy=policy, lines=lines, total=to_str(calc.total), transitions=history)


@router.post(
    "/{number}/confirm",
    response={200: ConfirmedOut, **WRITE_ERRORS},
    summary="Confirm an incentive (and its whole period)",
    description="I3: confirms every pending incentive of the incentive's partner and period together (every "
    "program, earnings and negative incentives), all or nothing: they go to Issuing. Confirming after the deadline "
    "succeeds while the automatic confirmation has not run yet. Out of scope or unknown: 404; a distributor "
    "confirming a reseller's, or a platform operator: 403 `confirm_forbidden`; not pending: 409 `not_pending`; a "
    "partner bill of a month in the period with an amount due: 409 `frozen_unpaid_bills` (I9); a malformed ID or "
    "key: 422. Nothing changes on a refusal.\n\n`Idempotency-Key`: " + KEY_HELP,
)
def confirm(request: HttpRequest, number: str = _number(), idempotency_key: IdempotencyKey = None) -> ConfirmedOut:
    done = workflow.confirm_period(actor=current_user(request), number=number, idempotency_key=idempotency_key or "")
    items = [
        incentive_out(Incentive.objects.select_related("program", "partner").get(pk=i.pk)) for i in done.incentives
    ]
    return ConfirmedOut(period_start=done.period_start, repeated=done.repeated, incentives=items)


@router.post(
    "/{number}/approve",
    response={200: IncentiveOut, **WRITE_ERRORS},
    summary="Approve an incentive (platform operators)",
    description="The operator's review of an incentive in Issuing: it becomes Issued, valid from now (I8). "
    "Anyone else: 403 `approve_forbidden`; out of scope or unknown: 404; not issuing: 409 `not_issuing`; a "
    "malformed ID or key: 422.\n\n`Idempotency-Key`: " + KEY_HELP,
)
def approve(request: HttpRequest, number: str = _number(), idempotency_key: IdempotencyKey = None) -> IncentiveOut:
    inc = workflow.approve(actor=current_user(request), number=number, idempotency_key=idempotency_key or "")
    return incentive_out(Incentive.objects.select_related("program", "partner").get(pk=inc.pk))
