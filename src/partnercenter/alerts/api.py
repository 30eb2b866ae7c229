"""API of customer alerts (O3), mounted at /api/v1/customer-alerts. Thin: the rules are in
:mod:`.services`, the reads in :mod:`.selectors`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Path, Query, Router, Schema

from partnercenter.accounts.api import current_user
from partnercenter.accounts.schemas import ErrorOut
from partnercenter.core import menus
from partnercenter.core.decorators import router_menu
from partnercenter.core.masking import mask_name
from partnercenter.core.pagination import IdempotencyKey, limit_field, offset_field

from . import selectors as sel
from . import services as svc
from .models import AlertRule, CustomerAlert

router = Router(tags=["alerts"])
router_menu(router, menus.CUSTOMER_ALERTS)

ERRORS: dict[int, type[ErrorOut]] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS: dict[int, type[ErrorOut]] = {**ERRORS, 409: ErrorOut}
FIGURES_HELP = (
    "The rule's figures; amounts are exact decimal strings. credit_*: threshold_percent, available, limit; "
    "spend_spike: day, spend, previous_total, previous_average (to the minor unit), factor, floor; unpaid_bill: "
    "month, total, confirmed, remaining, generated_at, days. Each also carries the currency."
)


class AlertsQuery(Schema):
    status: str = Field(sel.OPEN, pattern="^(open|history)$", description="open (not handled) or history (handled).")
    rule: AlertRule | None = Field(None, description="Only this rule.")
    customer: str | None = Field(None, max_length=64, description="Only this customer (account id).")
    limit: int = limit_field()
    offset: int = offset_field()


class AlertOut(Schema):
    id: int
    partner: str
    customer: str
    customer_name: str = Field(description="Masked.")
    rule: AlertRule
    currency: str
    figures: dict[str, Any] = Field(description=FIGURES_HELP)
    raised_at: dt.datetime
    handled_at: dt.datetime | None
    handled_by: str | None
    note: str
    may_handle: bool = Field(description="Whether the caller may handle it (open, and the alert's own partner).")


class AlertsPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[AlertOut]


class HandleIn(Schema):
    note: str = Field(..., max_length=2000, description="How the alert was handled: 1 to 500 characters.")


def alert_out(a: CustomerAlert, may_handle: bool) -> AlertOut:
    return AlertOut(
        id=a.pk,
        partner=a.partner.code,
        customer=a.customer.account_id,
        customer_name=mask_name(a.customer.name),
        rule=AlertRule(a.rule),
        currency=a.currency,
        figures=a.figures,
        raised_at=a.raised_at,
        handled_at=a.handled_at,
        handled_by=a.handled_by.username if a.handled_by else None,
        note=a.note,
        may_handle=may_handle and a.is_open,
    )


@router.get(
    "/alerts",
    response={200: AlertsPage, **ERRORS},
    summary="List customer alerts",
    description="O3: the caller's customer alerts, open (newest raised first) or history (handled, newest handled "
    "first), optionally of one rule and one customer. An account manager sees the alerts of the customers assigned "
    "to them, a partner's other users all of the partner's, a distributor also its second-level resellers' (view "
    "only), a platform operator all (view only). A bad filter is 422.",
)
def list_alerts(request: HttpRequest, q: Query[AlertsQuery]) -> AlertsPage:
    user = current_user(request)
    f = sel.filters(q.status, q.rule.value if q.rule else "", q.customer or "")
    qs = sel.search(user, f)
    items = list(qs[q.offset : q.offset + q.limit])
    handleable = sel.handleable_ids(user, [a.pk for a in items])
    return AlertsPage(
        total=qs.count(),
        limit=q.limit,
        offset=q.offset,
        items=[alert_out(a, a.pk in handleable) for a in items],
    )


@router.get(
    "/alerts/{alert_id}",
    response={200: AlertOut, **ERRORS},
    summary="Get a customer alert",
    description="One alert with its figures. Out of the caller's scope or missing: 404.",
)
def get_alert(request: HttpRequest, alert_id: int = Path(..., ge=1, le=sel.MAX_ID)) -> AlertOut:  # noqa: B008
    user = current_user(request)
    a = sel.get_alert(user, alert_id)
    return alert_out(a, sel.may_handle(user, a))


@router.post(
    "/alerts/{alert_id}/handle",
    response={200: AlertOut, **WRITE_ERRORS},
    summary="Handle a customer alert",
    description="Marks an open alert handled with a note (1 to 500 characters after trimming; `note_required`, "
    "`note_too_long`: 422, nothing changes); it then appears in history. Out of scope: 404. An alert the caller "
    "views but may not handle (a platform operator, a distributor's second-level reseller's alert): 403 "
    "`handle_forbidden`. Already handled: 409 `already_handled`.\n\n`Idempotency-Key`: a repeat with the same key "
    "and note answers the handled alert again (200) instead of 409.",
)
def handle_alert(
    request: HttpRequest,
    body: HandleIn,
    alert_id: int = Path(..., ge=1, le=sel.MAX_ID),  # noqa: B008
    idempotency_key: IdempotencyKey = None,
) -> AlertOut:
    user = current_user(request)
    a = svc.handle(actor=user, alert_id=alert_id, note=body.note, idempotency_key=idempotency_key or "")
    return alert_out(sel.get_alert(user, a.pk), False)
