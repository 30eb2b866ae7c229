"""API of incentive details and feedback (I5), mounted at /api/v1/incentive-details. Thin: the
reads are :mod:`.details_selectors` (the Details tab's), the writes :mod:`.feedback`."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Field, Path, Query, Router, Schema

from partnercenter.accounts.api import current_user
from partnercenter.accounts.models import User
from partnercenter.accounts.schemas import ErrorOut
from partnercenter.core import menus
from partnercenter.core.decorators import router_menu
from partnercenter.core.errors import ValidationFailed
from partnercenter.core.masking import mask_name
from partnercenter.core.money import canonical as to_str
from partnercenter.core.pagination import IdempotencyKey, limit_field, offset_field

from . import details_selectors as sel
from . import feedback as svc
from .models import Feedback, Line

router = Router(tags=["incentives"])
router_menu(router, menus.INCENTIVE_MANAGEMENT)

ERRORS: dict[int, type[ErrorOut]] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS: dict[int, type[ErrorOut]] = {**ERRORS, 409: ErrorOut}
MAX_ID = 2**63 - 1
PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
FEEDBACK_PATTERN = r"^(|with|without|answered)$"
KEY_HELP = (
    "The same key from the same user answers the first feedback again (nothing new is written); the same "
    "key with a different line or text is 409 `idempotency_key_reused`."
)


class LinesQuery(Schema):
    period: str = Field(..., pattern=PERIOD_PATTERN, description="Reconciliation period (its first month), YYYY-MM.")
    feedback: str = Field(
        "",
        pattern=FEEDBACK_PATTERN,
        description="`with` (partner feedback, answered or not), `without`, `answered`; empty: any.",
    )
    program: list[str] = Field(
        default_factory=list, max_length=50, description="Program codes (repeat the parameter): any of them."
    )
    customer_name: str = Field("", max_length=100, description="Part of the customer's name as the caller may see it.")
    customer_account: str = Field("", max_length=100, description="Part of the customer's account id.")
    order_id: str = Field("", max_length=100, description="Part of the order id.")
    incentive_id: str = Field("", max_length=100, description="Part of the incentive id (INC-YYYYMM-nnnnnn).")
    product_type: str = Field("", max_length=100, description="The product type, exactly.")
    limit: int = limit_field()
    offset: int = offset_field()


class LineOut(Schema):
    id: int
    period: str = Field(description="YYYY-MM of the reconciliation period's first month.")
    incentive: str = Field(description="The incentive id.")
    kind: str = Field(description="`earning` or `clawback` (a negative incentive).")
    program: str
    program_name: str
    partner: str
    customer_name: str = Field(description="Masked (E5).")
    customer_account: str
    order_id: str
    service_type: str
    product_type: str
    currency: str
    base_amount: str = Field(description="Exact decimal text.")
    rate: str = Field(description="Exact decimal text; 0.05 is 5 %.")
    amount: str = Field(description="round_minor(base × rate), half-up: exact decimal text.")
    corrects_period: str | None = Field(description="A clawback line: YYYY-MM of the earning it takes back.")
    feedback_status: str = Field(description="`none`, `open` (awaiting an answer) or `answered`.")
    may_leave_feedback: bool


class LinesPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[LineOut]


class FeedbackOut(Schema):
    id: int
    line_id: int
    reply_to: int | None = Field(description="The feedback an operator's answer answers; null for feedback.")
    text: str
    author: str
    created_at: dt.datetime


class LineDetailOut(LineOut):
    thread: list[FeedbackOut] = Field(description="Feedback and answers, oldest first.")


class TextIn(Schema):
    text: str = Field(..., max_length=4000, description="1 to 2000 characters once leading/trailing space is removed.")


def line_out(user: User, line: Line) -> LineOut:
    inc = line.incentive
    return LineOut(
        id=line.pk,
        period=sel.period_label(inc.period_start),
        incentive=inc.number,
        kind=inc.kind,
        program=inc.program.code,
        program_name=inc.program.name,
        partner=inc.partner.code,
        customer_name=mask_name(line.customer.name),
        customer_account=line.customer.account_id,
        order_id=line.order_id,
        service_type=line.service_type,
        product_type=line.product_type,
        currency=inc.currency,
        base_amount=to_str(line.base_amount),
        rate=to_str(line.rate),
        amount=to_str(line.amount),
        corrects_period=f"{line.corrects_period:%Y-%m}" if line.corrects_period else None,
        feedback_status=sel.feedback_status(line),
        may_leave_feedback=sel.may_leave_feedback(user, line),
    )


def feedback_out(f: Feedback) -> FeedbackOut:
    return FeedbackOut(
        id=f.pk,
        line_id=f.line_id,
        reply_to=f.reply_to_id,
        text=f.text,
        author=f.author.username,
        created_at=f.created_at,
    )


@router.get(
    "",
    response={200: LinesPage, **ERRORS},
    summary="Incentive detail lines of a period",
    description="I5: the detail lines of the caller's incentives of one reconciliation period (a distributor also "
    "views its second-level resellers'; a platform operator every partner's), in incentive-id order, filtered "
    "by feedback, programs, customer name (as the caller may see it: masked unless the caller may reveal "
    "names), customer account, order id, incentive id and product type. Amounts are exact decimal text.",
)
def list_lines(request: HttpRequest, q: Query[LinesQuery]) -> LinesPage:
    user = current_user(request)
    period = sel.parse_period(q.period)
    if period is None:  # the pattern already refuses it; kept for a clear message
        raise ValidationFailed(
            "period: must be a month (YYYY-MM).", details=[{"where": "period", "why": "not a month"}]
        )
    filters = sel.DetailFilters(
        feedback=q.feedback,
        programs=tuple(q.program),
        customer_name=q.customer_name,
        customer_account=q.customer_account,
        order_id=q.order_id,
        incentive_id=q.incentive_id,
        product_type=q.product_type,
    )
    qs = sel.detail_lines(user, period, filters)
    items = [line_out(user, line) for line in qs[q.offset : q.offset + q.limit]]
    return LinesPage(total=qs.count(), limit=q.limit, offset=q.offset, items=items)


@router.get(
    "/{line_id}",
    response={200: LineDetailOut, **ERRORS},
    summary="One incentive detail line",
    description="The line with its feedback thread. A line of another partner (or none) is 404.",
)
def get_line(request: HttpRequest, line_id: int = Path(..., ge=1, le=MAX_ID)) -> LineDetailOut:  # noqa: B008
    user = current_user(request)
    line = sel.get_line(user, line_id)
    return LineDetailOut(**line_out(user, line).dict(), thread=[feedback_out(f) for f in sel.thread(line)])


@router.post(
    "/{line_id}/feedback",
    response={200: FeedbackOut, **WRITE_ERRORS},
    summary="Leave feedback on a line",
    description="A user of the line's own partner disputes it (the text, 1 to 2000 characters after stripping; "
    "otherwise 422 `invalid_text` and nothing is written). A line out of the caller's view is 404; a line the "
    "caller views but may not dispute (a distributor on its second-level reseller's line, a platform operator) "
    "is 403 `feedback_forbidden`.\n\n`Idempotency-Key`: " + KEY_HELP,
)
def leave_feedback(
    request: HttpRequest,
    body: TextIn,
    line_id: int = Path(..., ge=1, le=MAX_ID),  # noqa: B008
    idempotency_key: IdempotencyKey = None,
) -> FeedbackOut:
    f = svc.leave_feedback(
        actor=current_user(request), line_id=line_id, text=body.text, idempotency_key=idempotency_key or ""
    )
    return feedback_out(f)


@router.post(
    "/feedback/{feedback_id}/answer",
    response={200: FeedbackOut, **ERRORS},
    summary="Answer feedback",
    description="A platform operator answers a partner's feedback (answering an answer joins the same thread). "
    "A partner user is 403 `answer_forbidden` (404 when the feedback is not in their view); bad text is 422 "
    "`invalid_text` and nothing is written.",
)
def answer_feedback(
    request: HttpRequest,
    body: TextIn,
    feedback_id: int = Path(..., ge=1, le=MAX_ID),  # noqa: B008
) -> FeedbackOut:
    return feedback_out(svc.answer_feedback(actor=current_user(request), feedback_id=feedback_id, text=body.text))
