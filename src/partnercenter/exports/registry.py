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

``params`` declares the search options the kind accepts (:class:`Param`): the create call checks
them all before anything is queued (type, allowed values, length, date order, unknown keys) and
answers 422 ``invalid_params`` naming every bad field; the export history describes a task's
options with the same declarations. ``has_rows`` is a cheap "is there anything?" check run at
creation: an empty export is refused instead of producing an empty file.

``rows`` runs in the worker with the owner's scope (``ctx.user``) and the instant the export was
asked for (``ctx.at``); it yields one sequence per row, values in column order, of the column's
kind: ``str`` for text, ``Decimal`` for amounts (never float), ``date``/``datetime`` (aware),
``int``. Sensitive columns are anonymized by the writer, always (X2): pass the real value.
Generators should stream (``QuerySet.iterator()``) so memory stays flat (X4).

A table kind may also declare ``arrow``: the same rows as record batches of text columns read
straight from the database (``exports.fast``), which the worker writes a column at a time —
for files of a million rows; ``rows`` stays the definition the fast file is tested against.

A document kind (a bill as PDF, rule X3) declares ``formats=("pdf",)`` and a ``document`` function
that returns the file's bytes; its ``columns`` and ``rows`` are then not used to write the file.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from django.utils.functional import Promise
from django.utils.translation import gettext

from partnercenter.core.errors import ValidationFailed

if TYPE_CHECKING:
    from pyarrow import RecordBatch

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


ParamType = Literal["text", "date", "month", "choice", "int"]
Choices = Callable[["User"], Mapping[Any, "str | Promise"]]
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
TABLE_FORMATS = ("xlsx", "csv")


@dataclass(frozen=True)
class Param:
    """One search option of an export kind.

    ``choices`` (for ``choice`` and ``int``) gives the allowed values and their labels for the
    user who asks; ``not_after`` names the date option this one must not be after (a period,
    described as one "from – to" item); ``describe`` turns a stored value into text for the
    history when the value is not one of fixed choices (e.g. an account manager's name)."""

    key: str
    label: str | Promise
    type: ParamType = "text"
    choices: Choices | None = field(default=None, compare=False)
    max_length: int = 200
    not_after: str = ""
    describe: Callable[[Any], str] | None = field(default=None, compare=False)
    shown: bool = True  # False for options that do not filter (a sort order)


class fixed:  # noqa: N801 - used like a function in declarations
    """Choices that do not depend on the user (an enumeration's values and labels)."""

    def __init__(self, choices: Sequence[tuple[str, str | Promise]]) -> None:
        self.mapping: dict[Any, str | Promise] = dict(choices)

    def __call__(self, user: User | None) -> Mapping[Any, str | Promise]:
        return self.mapping


@dataclass(frozen=True)
class ExportContext:
    """What a row generator knows: whose export it is, the search options, and as of when."""

    user: User
    params: Mapping[str, Any]
    at: dt.datetime
    task_id: str = ""


@dataclass(frozen=True)
class CsvText:
    """A faster CSV path of a table kind, for files of a million rows: ``rows`` yields lists whose
    cells already hold the text the CSV file holds (``writers.write_csv_text``), except the columns
    keyed in ``free_text``, which the writer neutralises. The file must be byte for byte the one
    the kind's ``rows`` give (tested)."""

    rows: Callable[[ExportContext], Iterator[list[Any]]]
    free_text: frozenset[str]


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
    # The search options this kind accepts; None accepts any JSON object (checked by ``validate``).
    params: Sequence[Param] | None = None
    # The XLSX sheet name: short and readable (Excel allows 31 characters); the label by default.
    sheet_title: str | Promise = ""
    # Whether the options match anything, asked at creation (cheap: a count or an exists()).
    has_rows: Callable[[ExportContext], bool] | None = field(default=None, compare=False)
    # The file formats this kind can be written in.
    formats: Sequence[str] = TABLE_FORMATS
    # A document kind's file (e.g. a PDF), written whole instead of rows.
    document: Callable[[ExportContext], bytes] | None = field(default=None, compare=False)
    # CSV written from rows already as text (optional; ``rows`` still writes XLSX).
    csv_text: CsvText | None = field(default=None, compare=False)
    # Both formats written from Arrow record batches of the column values (optional; see
    # ``exports.fast``): the same scope and options as ``rows``, the same file byte for byte.
    arrow: Callable[[ExportContext], Iterator[RecordBatch]] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.columns:
            raise ValueError("an export kind needs at least one column")
        if ("pdf" in self.formats) != (self.document is not None):
            raise ValueError("a kind is written as PDF exactly when it has a document function")


_KINDS: dict[str, ExportKind] = {}


def register(kind: ExportKind) -> ExportKind:
    """Add (or replace, e.g. on autoreload) an export kind."""
    _KINDS[kind.code] = kind
    return kind


def _problem(where: str, why: str) -> dict[str, str]:
    return {"where": f"params.{where}", "why": why}


def invalid_params(message: str, where: str, why: str) -> ValidationFailed:
    """The refusal (422 ``invalid_params``) of search options a kind's own rule finds wrong:
    ``where`` is the option's key (``""``: the options as a whole)."""
    return ValidationFailed(
        message, code="invalid_params", details=[{"where": f"params.{where}" if where else "params", "why": why}]
    )


def _clean_one(param: Param, value: Any, user: User) -> tuple[Any, str]:
    """The normalised value, or ``(None, why)`` when it is not acceptable."""
    empty = value is None or value == ""
    if param.type == "text":
        if empty:
            return "", ""
        if not isinstance(value, str):
            return None, gettext("must be text")
        if len(value) > param.max_length:
            return None, gettext("must be at most %(n)d characters") % {"n": param.max_length}
        return value.strip(), ""
    if param.type == "date":
        if empty:
            return None, ""
        try:
            if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
                raise ValueError
            return dt.date.fromisoformat(value).isoformat(), ""
        except ValueError:
            return None, gettext("must be a date (YYYY-MM-DD)")
    if param.type == "month":
        if empty:
            return None, ""
        if not isinstance(value, str) or not _ISO_MONTH.fullmatch(value):
            return None, gettext("must be a month (YYYY-MM)")
        return value, ""
    if param.type == "int":
        if empty:
            return None, ""
        if isinstance(value, str) and value.isascii() and value.isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            return None, gettext("must be a whole number")
    elif empty:  # choice
        return "", ""
    elif not isinstance(value, str):
        return None, gettext("must be text")
    allowed = param.choices(user) if param.choices is not None else None
    if allowed is not None and value not in allowed:
        if param.type == "choice" and len(allowed) <= 12:
            return None, gettext("must be one of: %(values)s") % {"values": ", ".join(map(str, allowed))}
        return None, gettext("is not a value you may choose")
    return value, ""


def clean_params(kind: ExportKind, user: User, params: dict[str, Any]) -> dict[str, Any]:
    """Check ``params`` against the kind's declared options: every declared key in the result,
    normalised; a ValidationFailed (422 ``invalid_params``) naming every bad field otherwise."""
    if kind.params is None:
        return params
    declared = {p.key: p for p in kind.params}
    problems = [_problem(k, gettext("is not a search option of this export")) for k in params if k not in declared]
    clean: dict[str, Any] = {}
    for p in kind.params:
        value, why = _clean_one(p, params.get(p.key), user)
        if why:
            problems.append(_problem(p.key, why))
        clean[p.key] = value
    for p in kind.params:
        later = clean.get(p.not_after) if p.not_after else None
        if clean.get(p.key) and later and clean[p.key] > later:
            problems.append(_problem(p.key, gettext("must not be after %(other)s") % {"other": p.not_after}))
    if problems:
        listed = "; ".join(f"{x['where'].removeprefix('params.')} {x['why']}" for x in problems)
        raise ValidationFailed(
            gettext("The search options are not valid: %(problems)s.") % {"problems": listed},
            code="invalid_params",
            details=problems,
        )
    return clean


def _value_text(param: Param, value: Any) -> str:
    if param.describe is not None:
        return param.describe(value)
    if isinstance(param.choices, fixed):
        return str(param.choices.mapping.get(value, value))
    return str(value)


def describe_params(code: str, params: Mapping[str, Any]) -> str:
    """The search options of a task as one line for people, e.g. ``Spent on: 2026-03-01 –
    2026-03-15 · Customer name: a · Association type: Reseller`` (in the active language)."""
    kind = find(code)
    if kind is None or kind.params is None:
        return " · ".join(f"{k}: {v}" for k, v in sorted(params.items()) if v not in (None, "", [], {}))
    by_key = {p.key: p for p in kind.params}
    ends = {p.not_after for p in kind.params if p.not_after}
    parts = []
    for p in kind.params:
        if not p.shown or p.key in ends:
            continue
        value = params.get(p.key)
        if p.not_after:
            end = params.get(p.not_after)
            if value or end:
                parts.append(f"{p.label}: {value or '…'} – {end or '…'}")
        elif value not in (None, ""):
            parts.append(f"{p.label}: {_value_text(by_key[p.key], value)}")
    return " · ".join(parts) or gettext("No search options")


def unregister(code: str) -> None:
    _KINDS.pop(code, None)


def get(code: str) -> ExportKind:
    try:
        return _KINDS[code]
    except KeyError:
        known = ", ".join(sorted(_KINDS))
        raise ValidationFailed(
            gettext("Unknown export kind %(kind)s; use one of: %(known)s.") % {"kind": repr(code), "known": known},
            code="unknown_export_kind",
            details=[{"where": "kind", "why": gettext("unknown export kind")}],
        ) from None


def find(code: str) -> ExportKind | None:
    return _KINDS.get(code)


def all_kinds() -> list[ExportKind]:
    return sorted(_KINDS.values(), key=lambda k: k.code)


def autodiscover() -> None:
    """Import ``<app>.exports`` of every installed app so its kinds are registered."""
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("exports")
