"""Export kinds of incentive details (I6): a period's lines of every program
(``incentive_details_by_period``), of one or more programs of the period
(``incentive_details_by_program``), or selected lines (``incentive_details_selected``). Behind
the Incentive Management menu; the lines a user may export are those of
``details_selectors.detail_lines`` for the export's owner.

Amounts and rates are the stored exact figures (the line amount is the one rounding point, made
when the incentive was generated); the customer's name is anonymized (X2); the feedback status
is a label in the task's language.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from partnercenter.accounts.models import User
from partnercenter.core import menus
from partnercenter.exports.registry import Column, ExportContext, ExportKind, Param, invalid_params, register

from . import details_selectors as sel
from .models import Line

MAX_SELECTED = 1000
MAX_PROGRAMS = 50

COLUMNS = [
    Column("period", _("Reconciliation period")),
    Column("incentive", _("Incentive ID")),
    Column("program", _("Incentive program")),
    Column("customer", _("Customer name"), "sensitive_name"),
    Column("account_id", _("Customer account")),
    Column("order_id", _("Order ID")),
    Column("product_type", _("Product type")),
    Column("currency", _("Currency")),
    Column("base", _("Base amount"), "amount"),
    Column("rate", _("Rate"), "amount"),
    Column("amount", _("Amount"), "amount"),
    Column("feedback", _("Feedback")),
]


def _row(line: Line) -> Sequence[Any]:
    inc = line.incentive
    return (
        sel.period_label(inc.period_start),
        inc.number,
        inc.program.name,
        line.customer.name,
        line.customer.account_id,
        line.order_id,
        line.product_type,
        inc.currency,
        line.base_amount,
        line.rate,
        line.amount,
        str(sel.FEEDBACK_STATUS[sel.feedback_status(line)]),
    )


def _period(params: dict[str, Any]) -> dt.date:
    period = sel.parse_period(params.get("period") or "") if isinstance(params.get("period"), str) else None
    if period is None:
        raise invalid_params(
            gettext("The search options are not valid: period must be a month (YYYY-MM)."),
            "period",
            gettext("must be a month (YYYY-MM)"),
        )
    return period


def _lines(ctx: ExportContext) -> Any:
    p = ctx.params
    if "lines" in p:
        return sel.lines_by_ids(ctx.user, p["lines"])
    filters = sel.DetailFilters(programs=tuple(p.get("programs") or ()))
    return sel.detail_lines(ctx.user, sel.parse_period(p["period"]), filters)


def _rows(ctx: ExportContext) -> Iterator[Sequence[Any]]:
    for line in _lines(ctx).iterator(chunk_size=2000):
        yield _row(line)


def _has_rows(ctx: ExportContext) -> bool:
    return bool(_lines(ctx).exists())


def _validate_programs(user: User, params: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(params) - {"period", "programs"})
    if unknown:
        raise invalid_params(
            gettext("The search options are not valid: %(keys)s is not a search option of this export.")
            % {"keys": ", ".join(unknown)},
            unknown[0],
            gettext("is not a search option of this export"),
        )
    period = _period(params)
    raw = params.get("programs")
    codes = [raw] if isinstance(raw, str) else raw
    if not codes or not isinstance(codes, list) or not all(isinstance(c, str) and c for c in codes):
        raise invalid_params(
            gettext("Select at least one incentive program."), "programs", gettext("select one or more programs")
        )
    known = {p.code for p in sel.programs_of_period(user, period)}
    wrong = sorted(set(codes) - known)
    if wrong or len(codes) > MAX_PROGRAMS:
        raise invalid_params(
            gettext("Incentive program %(codes)s has no incentives of %(period)s that you may export.")
            % {"codes": ", ".join(wrong), "period": sel.period_label(period)},
            "programs",
            gettext("not a program of this period"),
        )
    return {"period": sel.period_label(period), "programs": sorted(set(codes))}


def _validate_selected(user: User, params: dict[str, Any]) -> dict[str, Any]:
    raw = params.get("lines")
    values = [raw] if isinstance(raw, str | int) else raw
    if set(params) - {"lines"} or not values or not isinstance(values, list):
        raise invalid_params(
            gettext("Select the detail lines to export."), "lines", gettext("select one or more lines")
        )
    try:
        ids = sorted({int(v) for v in values if not isinstance(v, bool)})
    except (TypeError, ValueError):
        ids = []
    if not ids or len(ids) > MAX_SELECTED:
        raise invalid_params(
            gettext("The selected lines must be 1 to %(n)d line ids.") % {"n": MAX_SELECTED},
            "lines",
            gettext("must be line ids"),
        )
    found = set(sel.lines_by_ids(user, ids).values_list("pk", flat=True))
    missing = [i for i in ids if i not in found]
    if missing:
        raise invalid_params(
            gettext("Lines %(ids)s are not incentive detail lines you may export.")
            % {"ids": ", ".join(map(str, missing))},
            "lines",
            gettext("not lines you may export"),
        )
    return {"lines": ids}


BY_PERIOD = register(
    ExportKind(
        code="incentive_details_by_period",
        label=_("Incentive details by period"),
        menu=menus.INCENTIVE_MANAGEMENT,
        columns=COLUMNS,
        rows=_rows,
        filename_stem="incentive-details",
        validate=lambda user, params: {"period": sel.period_label(_period(params))},
        params=[Param("period", _("Reconciliation period"), "month")],
        sheet_title=_("Incentive details"),
        has_rows=_has_rows,
    )
)

BY_PROGRAM = register(
    ExportKind(
        code="incentive_details_by_program",
        label=_("Incentive details by program"),
        menu=menus.INCENTIVE_MANAGEMENT,
        columns=COLUMNS,
        rows=_rows,
        filename_stem="incentive-details-programs",
        # No declared Param: the programs are a list, checked against the period's by the hook.
        validate=_validate_programs,
        sheet_title=_("Incentive details"),
        has_rows=_has_rows,
    )
)

SELECTED = register(
    ExportKind(
        code="incentive_details_selected",
        label=_("Selected incentive details"),
        menu=menus.INCENTIVE_MANAGEMENT,
        columns=COLUMNS,
        rows=_rows,
        filename_stem="incentive-details-selected",
        validate=_validate_selected,
        sheet_title=_("Incentive details"),
        has_rows=_has_rows,
    )
)
