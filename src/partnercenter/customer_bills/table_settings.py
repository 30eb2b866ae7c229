"""Table display fields of the customer bill tables (C3): which fields each table shows and in
which order.

A user's choice is kept in one of two places: with "Save selected", in :class:`TableSetting` for
the user (every later session); without it, in the browser session only (Django empties the
session at sign-out and rotates it at sign-in, so the next sign-in shows the saved fields or the
defaults). The session choice wins while it lasts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from partnercenter.accounts.models import User
from partnercenter.core import clock
from partnercenter.core.errors import NotFound, ValidationFailed

from .models import TableSetting

BILL_BY_INSTANCE = "bill_by_instance"
BILL_DETAILS = "bill_details"


@dataclass(frozen=True)
class Field:
    key: str
    label: str | Promise
    amount: bool = False


_CUSTOMER = (Field("account_id", _("Account ID")), Field("customer_name", _("Customer name")))
_WHERE = (
    Field("product", _("Product")),
    Field("service_type", _("Service type")),
    Field("project", _("Project")),
    Field("region", _("Region")),
    Field("resource_id", _("Instance ID")),
    Field("resource_name", _("Instance name")),
    Field("billing_mode", _("Billing mode")),
)

CATALOGUE: dict[str, tuple[Field, ...]] = {
    BILL_BY_INSTANCE: (
        *_CUSTOMER,
        *_WHERE,
        Field("first_day", _("First charge day")),
        Field("last_day", _("Last charge day")),
        Field("line_item_count", _("Line items")),
        Field("currency", _("Currency")),
        Field("expenditure", _("Expenditure"), True),
        Field("refund", _("Refund"), True),
        Field("adjustment", _("Adjustment"), True),
        Field("tax", _("Tax"), True),
        Field("amount", _("Amount"), True),
    ),
    BILL_DETAILS: (
        Field("charge_period_start", _("Charge period start")),
        Field("charge_period_end", _("Charge period end")),
        *_CUSTOMER,
        *_WHERE,
        Field("charge_category", _("Charge category")),
        Field("classification", _("Classification")),
        Field("charge_description", _("Description")),
        Field("sku_id", _("SKU")),
        Field("pricing_quantity", _("Quantity")),
        Field("pricing_unit", _("Unit")),
        Field("order_id", _("Order ID")),
        Field("line_id", _("Line ID")),
        Field("currency", _("Currency")),
        Field("list_cost", _("List cost"), True),
        Field("effective_cost", _("Effective cost"), True),
        Field("billed_cost", _("Billed cost"), True),
    ),
}

DEFAULTS: dict[str, tuple[str, ...]] = {
    BILL_BY_INSTANCE: (
        "account_id",
        "customer_name",
        "product",
        "region",
        "resource_id",
        "billing_mode",
        "currency",
        "expenditure",
        "refund",
        "adjustment",
        "tax",
        "amount",
    ),
    BILL_DETAILS: (
        "charge_period_start",
        "account_id",
        "customer_name",
        "product",
        "region",
        "resource_id",
        "classification",
        "charge_description",
        "currency",
        "billed_cost",
    ),
}
TABLES = tuple(CATALOGUE)


def _session_key(table: str) -> str:
    return f"customer_bills.fields.{table}"


def catalogue(table: str) -> tuple[Field, ...]:
    if table not in CATALOGUE:
        raise NotFound(f"No table {table!r}.")
    return CATALOGUE[table]


def fields_by_key(table: str) -> dict[str, Field]:
    return {f.key: f for f in catalogue(table)}


def validate(table: str, fields: Any) -> list[str]:
    """The chosen fields, checked: a non-empty list of the table's field keys, each once, in the
    order given. Unknown or repeated fields are refused (422 ``invalid_fields``), never dropped."""
    known = fields_by_key(table)
    if not isinstance(fields, list | tuple) or not fields:
        raise ValidationFailed(
            str(_("Choose at least one field.")),
            code="invalid_fields",
            details=[{"where": "fields", "why": "must be a non-empty list"}],
        )
    problems = []
    seen: set[str] = set()
    for i, key in enumerate(fields):
        if not isinstance(key, str) or key not in known:
            problems.append({"where": f"fields.{i}", "why": f"unknown field {str(key)[:40]!r}"})
        elif key in seen:
            problems.append({"where": f"fields.{i}", "why": f"{key!r} is listed twice"})
        seen.add(str(key))
    if problems:
        raise ValidationFailed(str(_("Unknown or repeated fields.")), code="invalid_fields", details=problems)
    return list(fields)


@dataclass(frozen=True)
class Setting:
    table: str
    fields: list[str]
    source: str  # "session", "saved" or "default"

    @property
    def saved(self) -> bool:
        return self.source == "saved"


def read(user: User, session: SessionBase | None, table: str) -> Setting:
    """The fields the user sees now: this session's choice, else the saved one, else the defaults.
    A stored choice naming a field the catalogue no longer has falls back the same way."""
    known = fields_by_key(table)
    if session is not None:
        chosen = session.get(_session_key(table))
        if isinstance(chosen, list) and chosen and all(k in known for k in chosen):
            return Setting(table, chosen, "session")
    row = TableSetting.objects.filter(user=user, table=table).first() if user.is_authenticated else None
    if row is not None and row.fields and all(k in known for k in row.fields):
        return Setting(table, list(row.fields), "saved")
    return Setting(table, list(DEFAULTS[table]), "default")


def save(user: User, session: SessionBase | None, table: str, fields: Sequence[str], *, persist: bool) -> Setting:
    """Choose the table's fields: kept for the user (``persist``, "Save selected") or for this
    session only. Saving for the user also ends a session-only choice."""
    chosen = validate(table, list(fields))
    if persist:
        TableSetting.objects.update_or_create(
            user=user, table=table, defaults={"fields": chosen, "updated_at": clock.now()}
        )
        if session is not None:
            session.pop(_session_key(table), None)
        return Setting(table, chosen, "saved")
    if session is None:
        raise ValidationFailed(str(_("Without a session the fields can only be saved.")), code="session_required")
    session[_session_key(table)] = chosen
    return Setting(table, chosen, "session")


def reset(user: User, session: SessionBase | None, table: str) -> Setting:
    """Back to the defaults: forget the saved and the session choice."""
    catalogue(table)
    TableSetting.objects.filter(user=user, table=table).delete()
    if session is not None:
        session.pop(_session_key(table), None)
    return Setting(table, list(DEFAULTS[table]), "default")
