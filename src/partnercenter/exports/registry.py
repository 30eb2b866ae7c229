"""The catalogue of export kinds (rule X1): other apps register what can be exported.

An app registers its kinds at import time of its ``<app>/exports.py`` module, which
:func:`autodiscover` imports for every installed app (the exports app config calls it when
Django starts, in the web process and in the worker alike)::

    from partnercenter.exports.registry import Column, ExportContext, ExportKind, register

    def _rows(ctx: ExportContext) -> Iterator[Sequence[Any]]:
        for row in selectors.summary_rows(ctx.user, ..., at=ctx.at).iterator(chunk_size=5000):
            yield (row.account_id, row.name, row.expenditure, ...)

    register(ExportKind(
        code="expenditure_summary", label=_("Expenditure summary"), menu=menus.CUSTOMER_EXPENDITURE,
        columns=[Column("account_id", _("Account ID")), Column("name", _("Customer name"), "sensitive_name"),
                 Column("expenditure", _("Expenditure"), "amount")],
        rows=_rows, filename_stem="expenditure-summary",
    ))

``rows`` runs in the worker with the owner's scope (``ctx.user``) and the instant the export was
asked for (``ctx.at``); it yields one sequence per row, values in column order, of the column's
kind: ``str`` for text, ``Decimal`` for amounts (never float), ``date``/``datetime`` (aware),
``int``. Sensitive columns are anonymized by the writer, always (X2): pass the real value.
Generators should stream (``QuerySet.iterator()``) so memory stays flat (X4).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from django.utils.functional import Promise

from partnercenter.core.errors import ValidationFailed

if TYPE_CHECKING:
    from partnercenter.accounts.models import User

ColumnKind = Literal[
    "text", "amount", "date", "datetime", "sensitive_name", "sensitive_email", "sensitive_mobile", "int"
]
COLUMN_KINDS: frozenset[str] = frozenset(
    {"text", "amount", "date", "datetime", "sensitive_name", "sensitive_email", "sensitive_mobile", "int"}
)


@dataclass(frozen=True)
class Column:
    key: str
    header: str | Promise
    kind: ColumnKind = "text"

    def __post_init__(self) -> None:
        if self.kind not in COLUMN_KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}")


@dataclass(frozen=True)
class ExportContext:
    """What a row generator knows: whose export it is, the search options, and as of when."""

    user: User
    params: Mapping[str, Any]
    at: dt.datetime
    task_id: str = ""


@dataclass(frozen=True)
class ExportKind:
    code: str
    label: str | Promise
    menu: str
    columns: Sequence[Column]
    rows: Callable[[ExportContext], Iterator[Sequence[Any]]]
    filename_stem: str
    # Optional check of the search options when the task is created (raise ValidationFailed);
    # it may return normalised params. Runs in the request, so a bad request never queues.
    validate: Callable[[User, dict[str, Any]], dict[str, Any] | None] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.columns:
            raise ValueError("an export kind needs at least one column")


_KINDS: dict[str, ExportKind] = {}


def register(kind: ExportKind) -> ExportKind:
    """Add (or replace, e.g. on autoreload) an export kind."""
    _KINDS[kind.code] = kind
    return kind


def unregister(code: str) -> None:
    _KINDS.pop(code, None)


def get(code: str) -> ExportKind:
    try:
        return _KINDS[code]
    except KeyError:
        raise ValidationFailed(f"Unknown export kind {code!r}.", code="unknown_export_kind") from None


def find(code: str) -> ExportKind | None:
    return _KINDS.get(code)


def all_kinds() -> list[ExportKind]:
    return sorted(_KINDS.values(), key=lambda k: k.code)


def autodiscover() -> None:
    """Import ``<app>.exports`` of every installed app so its kinds are registered."""
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("exports")
