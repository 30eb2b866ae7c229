"""Export kind of the adjustment records (E8): ``credit_adjustments``, with the page's search
options (customer account id, kind, from and to days). Behind the Customer Management menu; the
records a user may export are those of ``selectors.adjustment_records``. Amounts are the stored
exact figures; the customer's name is anonymized (X2); kinds are labels in the task's language."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from django.utils.translation import gettext_lazy as _

from partnercenter.core import clock, menus
from partnercenter.exports.registry import Column, ExportContext, ExportKind, Param, fixed, register

from . import selectors
from .models import CreditEntry, CreditKind


def _records(ctx: ExportContext) -> Any:
    p = ctx.params
    return selectors.adjustment_records(
        ctx.user,
        customer=p.get("customer") or None,
        kind=p.get("kind") or None,
        start=dt.date.fromisoformat(p["start"]) if p.get("start") else None,
        end=dt.date.fromisoformat(p["end"]) if p.get("end") else None,
    ).filter(created_at__lte=ctx.at)


def _row(e: CreditEntry, kinds: dict[str, str]) -> Sequence[Any]:
    return (
        e.created_at.astimezone(clock.billing_tz()),
        e.partner.code,
        e.customer.account_id,
        e.customer.name,
        kinds.get(e.kind, e.kind),
        e.currency,
        e.amount,
        e.available_before,
        e.available_after,
        e.limit_after,
        e.used_after,
        e.created_by.username if e.created_by else "",
        f"{e.bill.month:%Y-%m}" if e.bill else "",
        e.remark,
    )


def _rows(ctx: ExportContext) -> Iterator[Sequence[Any]]:
    kinds = {value: str(label) for value, label in CreditKind.choices}
    for e in _records(ctx).iterator(chunk_size=2000):
        yield _row(e, kinds)


CREDIT_ADJUSTMENTS = register(
    ExportKind(
        code="credit_adjustments",
        label=_("Adjustment records"),
        menu=menus.CUSTOMER_MANAGEMENT,
        columns=[
            Column("time", _("Time"), "datetime"),
            Column("partner_code", _("Partner code")),
            Column("account_id", _("Account ID")),
            Column("customer", _("Customer name"), "sensitive_name"),
            Column("kind", _("Kind")),
            Column("currency", _("Currency")),
            Column("amount", _("Amount"), "amount"),
            Column("available_before", _("Available before"), "amount"),
            Column("available_after", _("Available after"), "amount"),
            Column("limit_after", _("Credit limit after"), "amount"),
            Column("used_after", _("Used credit after"), "amount"),
            Column("operator", _("Operator")),
            Column("bill_month", _("Bill month")),
            Column("remark", _("Remark")),
        ],
        rows=_rows,
        filename_stem="adjustment-records",
        params=[
            Param("customer", _("Customer account ID"), max_length=64),
            Param("kind", _("Kind"), "choice", choices=fixed(CreditKind.choices)),
            Param("start", _("Time"), "date", not_after="end"),
            Param("end", _("Time (to)"), "date"),
        ],
        sheet_title=_("Adjustment records"),
        has_rows=lambda ctx: _records(ctx).exists(),
    )
)
