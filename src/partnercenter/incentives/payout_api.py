"""API of incentive payout applications (I7, I8), mounted at /api/v1/incentive-payouts. Thin: the
rules are in :mod:`.payouts`, the reads in :mod:`.payout_selectors`. Amounts are exact decimal
strings."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Path, Query, Router, Schema, Status

from partnercenter import scoping
from partnercenter.accounts.api import current_user
from partnercenter.accounts.schemas import ErrorOut
from partnercenter.core import menus
from partnercenter.core.decorators import api_menu, router_menu
from partnercenter.core.money import canonical as to_str
from partnercenter.core.pagination import IdempotencyKey

from . import payout_selectors as sel
from . import payouts
from .models import Application

router = Router(tags=["incentives"])
router_menu(router, menus.INCENTIVE_MANAGEMENT)

ERRORS: dict[int, type[ErrorOut]] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS: dict[int, type[ErrorOut]] = {**ERRORS, 409: ErrorOut}
CODE_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
NUMBER_PATTERN = r"^PAY-[0-9]{8}-[0-9]{6}$"
PARTNER_HELP = "Partner code; partner users default to their own partner, a platform operator names one."
STATE_HELP = "`submitted` (under review), `approved` or `rejected`."


def _partner_field() -> str | None:
    return Field(None, max_length=64, pattern=CODE_PATTERN, description=PARTNER_HELP)  # type: ignore[no-any-return]


class ListQuery(Schema):
    partner: str | None = _partner_field()
    state: Literal["submitted", "approved", "rejected"] | None = Field(None, description=STATE_HELP)


class ApplicableQuery(Schema):
    partner: str | None = _partner_field()
    currency: str | None = Field(None, max_length=3, description="Only this currency; absent: every currency.")


class ApplicableItemOut(Schema):
    number: str
    program: str
    period_start: dt.date
    kind: str = Field(description="`earning`, or `clawback` (a negative incentive, always included).")
    amount: str
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None = Field(description="One year after the partner left the program; null: no end.")


class ApplicableOut(Schema):
    currency: str
    positives: list[ApplicableItemOut] = Field(description="Issued earnings that may be selected.")
    negatives: list[ApplicableItemOut] = Field(description="Open negative incentives: part of every application.")
    positive_total: str
    negative_total: str


class ItemOut(Schema):
    number: str
    program: str
    period_start: dt.date
    kind: str
    amount: str


class DecisionOut(Schema):
    state: str
    payout_method: str = Field(description="`balance`, `paid_out`, or empty for a rejection.")
    remark: str
    decided_at: dt.datetime
    decided_by: str
    statement_entry_id: int | None = Field(description="The prepaid balance top-up an approval into the balance wrote.")
    balance_after: str | None


class ApplicationSummaryOut(Schema):
    number: str
    partner: str
    currency: str
    positive_total: str
    negative_total: str
    amount: str = Field(description="positive_total + negative_total; never negative.")
    state: str = Field(description=STATE_HELP)
    created_at: dt.datetime


class ApplicationOut(ApplicationSummaryOut):
    items: list[ItemOut]
    decision: DecisionOut | None


class ApplyIn(Schema):
    partner: str | None = _partner_field()
    currency: str = Field(..., max_length=3)
    incentives: list[str] = Field(
        ...,
        max_length=1000,
        description="Incentive IDs of the issued earnings to apply for; the open negative incentives are added "
        "whether listed or not.",
    )


class DecideIn(Schema):
    state: Literal["approved", "rejected"]
    payout_method: Literal["balance", "paid_out"] | None = Field(
        None, description="Needed for an approval: `balance` tops up the prepaid balance, `paid_out` records it."
    )
    remark: str = Field("", max_length=500)


def _applicable_item(a: sel.Applicable) -> ApplicableItemOut:
    inc = a.incentive
    return ApplicableItemOut(
        number=inc.number,
        program=inc.program.code,
        period_start=inc.period_start,
        kind=inc.kind,
        amount=to_str(inc.amount),
        valid_from=a.valid_from,
        valid_until=a.valid_until,
    )


def _summary(app: Application) -> dict[str, Any]:
    return {
        "number": app.number,
        "partner": app.partner.code,
        "currency": app.currency,
        "positive_total": to_str(app.positive_total),
        "negative_total": to_str(app.negative_total),
        "amount": to_str(app.amount),
        "state": sel.state_of(app),
        "created_at": app.created_at,
    }


def _decision(app: Application) -> DecisionOut | None:
    d = getattr(app, "decision", None)
    if d is None:
        return None
    entry = d.statement_entry
    return DecisionOut(
        state=d.state,
        payout_method=d.payout_method,
        remark=d.remark,
        decided_at=d.decided_at,
        decided_by=d.decided_by.username,
        statement_entry_id=entry.pk if entry is not None else None,
        balance_after=to_str(entry.balance_after) if entry is not None else None,
    )


def application_out(app: Application) -> ApplicationOut:
    items = [
        ItemOut(
            number=i.incentive.number,
            program=i.incentive.program.code,
            period_start=i.incentive.period_start,
            kind=i.incentive.kind,
            amount=to_str(i.amount),
        )
        for i in sel.items(app)
    ]
    return ApplicationOut(**_summary(app), items=items, decision=_decision(app))


def _reload(request: HttpRequest, number: str) -> ApplicationOut:
    return application_out(sel.application(current_user(request), number))


@router.get(
    "",
    response={200: list[ApplicationSummaryOut], **ERRORS},
    summary="Payout applications",
    description="Newest first: the caller's partner's applications (a distributor may name a second-level "
    "reseller; a platform operator sees every partner's, or one partner's when named), optionally by state. "
    "A partner out of scope is 404; without the incentive_management menu 403.",
)
def list_applications(request: HttpRequest, q: Query[ListQuery]) -> list[ApplicationSummaryOut]:
    user = current_user(request)
    partner = sel.partner_for(user, q.partner) if q.partner or not user.is_platform_operator else None
    return [ApplicationSummaryOut(**_summary(a)) for a in sel.applications(user, partner, q.state)]


@router.get(
    "/applicable",
    response={200: list[ApplicableOut], **ERRORS},
    summary="What may be applied for",
    description="Per currency: the issued earnings in no open application with their validity (valid from the "
    "issue; until one year after the partner left the program, else no end), and the open negative incentives "
    "every application includes. A platform operator must name the partner (422 `partner_required`).",
)
def applicable(request: HttpRequest, q: Query[ApplicableQuery]) -> list[ApplicableOut]:
    partner = sel.partner_for(current_user(request), q.partner)
    currency = (q.currency or "").strip().upper() or None
    return [
        ApplicableOut(
            currency=g.currency,
            positives=[_applicable_item(a) for a in g.positives],
            negatives=[_applicable_item(a) for a in g.negatives],
            positive_total=to_str(g.positive_total),
            negative_total=to_str(g.negative_total),
        )
        for g in sel.applicable(partner, currency)
    ]


@router.post(
    "",
    response={201: ApplicationOut, **WRITE_ERRORS},
    summary="Apply for a payout",
    description="Applies for the listed issued earnings of `currency`, with every open negative incentive of the "
    "partner and currency (deducted first, whether listed or not). Refused, nothing written: no earning listed "
    "(422 `nothing_selected`), negatives exceeding the earnings (422 `negatives_exceed_positives`), an incentive "
    "not issued or expired (422 `not_applicable`), of another currency (422 `currency_mismatch`), not the "
    "partner's (404 `incentive_not_found`) or already in an application under review or approved (409 "
    "`already_in_application`). The caller must act for the partner: a distributor cannot apply for its "
    "second-level resellers (404).\n\nWith an `Idempotency-Key` header the same key answers the first "
    "application; the same key with a different request is 409 `idempotency_key_reused`.",
)
def apply(request: HttpRequest, body: ApplyIn, idempotency_key: IdempotencyKey = None) -> Status[ApplicationOut]:
    user = current_user(request)
    partner = sel.partner_for(user, body.partner, scoping.Purpose.ACT)
    app = payouts.apply(
        actor=user,
        partner=partner,
        currency=body.currency,
        numbers=body.incentives,
        idempotency_key=idempotency_key or "",
    )
    return Status(201, _reload(request, app.number))


@router.get(
    "/{number}",
    response={200: ApplicationOut, **ERRORS},
    summary="One payout application",
    description="The application with its incentives and, once decided, the decision (with the prepaid balance "
    "top-up an approval into the balance wrote). Another partner's application is 404.",
)
def get_application(request: HttpRequest, number: str = Path(..., pattern=NUMBER_PATTERN)) -> ApplicationOut:  # noqa: B008
    return _reload(request, number)


@router.post(
    "/{number}/decision",
    response={201: ApplicationOut, **WRITE_ERRORS},
    summary="Approve or reject a payout application (platform operator)",
    description="Once: an approval with `payout_method` `balance` tops up the partner's prepaid balance by exactly "
    'the amount (a top-up entry "Incentive payout PAY-…"), `paid_out` records it paid out; a rejection makes the '
    "incentives applicable again. Already decided is 409 `already_decided`; an approval without a payout method "
    "422; a caller who is not a platform operator 403.",
)
@api_menu(menus.API_PLATFORM_OPERATOR)
def decide(
    request: HttpRequest,
    body: DecideIn,
    number: str = Path(..., pattern=NUMBER_PATTERN),  # noqa: B008
) -> Status[ApplicationOut]:
    payouts.decide(
        actor=current_user(request),
        number=number,
        state=body.state,
        payout_method=body.payout_method or "",
        remark=body.remark,
    )
    return Status(201, _reload(request, number))
