"""Writes of the leads app (O2): leads come from the platform operator (API, CLI import, admin);
dispatchers hand them to their partner's staff and take them back; the staff member a lead is
dispatched to moves its status along. Every dispatch, recall and status change appends a
:class:`LeadEvent`.

* **All or nothing.** A batch (an import, a dispatch, a recall) is validated in full before the
  first write; one bad row or one lead that is not the caller's or not dispatchable refuses the
  whole batch and nothing is written.
* **Idempotent.** A write carrying a key the same user already used with the same request answers
  the first result again; the same key with a different request is 409 ``idempotency_key_reused``.
* **Serialised.** Writes lock the leads' partner rows, then the leads, in primary-key order, so
  parallel dispatches of one lead never both win.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from partnercenter import scoping
from partnercenter.accounts.models import User
from partnercenter.core import clock, menus
from partnercenter.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from partnercenter.partners.models import Partner

from . import selectors as sel
from .models import CLOSED, EventKind, Lead, LeadEvent, LeadRequest, LeadStatus

MAX_BATCH = 200
MAX_IMPORT = 5000
# column: (required, maximum length)
COLUMNS: dict[str, tuple[bool, int]] = {
    "partner": (True, 64),
    "company": (True, 200),
    "contact_name": (True, 100),
    "phone": (False, 32),
    "email": (False, 254),
    "source": (False, 100),
    "product_interest": (False, 200),
}
PHONE = re.compile(r"\+?[0-9][0-9 \-]{4,30}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


# --- idempotency ---------------------------------------------------------------------------------


def _key(value: object) -> str:
    key = str(value or "").strip()
    if len(key) > 200:
        raise ValidationFailed(_("Idempotency-Key: at most 200 characters."), code="invalid_idempotency_key")
    return key


def _fingerprint(action: str, *parts: Any) -> str:
    return hashlib.sha256(json.dumps([action, *parts], sort_keys=True, default=str).encode()).hexdigest()


def _repeat(actor: User | None, key: str, fingerprint: str) -> list[Lead] | None:
    if not key or actor is None:
        return None
    earlier = LeadRequest.objects.filter(actor=actor, key=key).first()
    if earlier is None:
        return None
    if earlier.fingerprint != fingerprint:
        raise Conflict(
            _("This Idempotency-Key was already used with a different request."), code="idempotency_key_reused"
        )
    return list(Lead.objects.select_related("partner", "assignee").filter(pk__in=earlier.lead_ids).order_by("pk"))


def _remember(actor: User | None, key: str, fingerprint: str, leads: list[Lead]) -> None:
    if key and actor is not None:
        LeadRequest.objects.create(
            actor=actor, key=key, fingerprint=fingerprint, lead_ids=[x.pk for x in leads], at=clock.now()
        )


# --- import from the platform operator ----------------------------------------------------------


def _row_problems(number: int, row: Mapping[str, Any], partners: Mapping[str, Partner]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for column, (required, limit) in COLUMNS.items():
        value = str(row.get(column) or "").strip()
        if required and not value:
            out.append({"row": number, "column": column, "why": _("required")})
        elif len(value) > limit:
            out.append({"row": number, "column": column, "why": _("at most %(n)d characters") % {"n": limit}})
    code = str(row.get("partner") or "").strip()
    if code and code not in partners:
        out.append({"row": number, "column": "partner", "why": _("no partner with code %(code)s") % {"code": code}})
    phone, email = (str(row.get(c) or "").strip() for c in ("phone", "email"))
    if phone and not PHONE.fullmatch(phone):
        out.append({"row": number, "column": "phone", "why": _("not a phone number")})
    if email and not EMAIL.fullmatch(email):
        out.append({"row": number, "column": "email", "why": _("not an email address")})
    if not phone and not email:
        out.append({"row": number, "column": "phone", "why": _("a phone number or an email address is required")})
    unknown = sorted(set(row) - set(COLUMNS))
    out += [{"row": number, "column": c, "why": _("unknown column")} for c in unknown]
    return out


def validate_rows(rows: Sequence[Mapping[str, Any]], first_row: int = 1) -> list[dict[str, Any]]:
    """Every problem of every row, each with its row number and column; empty when all are good."""
    codes = {str(r.get("partner") or "").strip() for r in rows}
    partners = {p.code: p for p in Partner.objects.filter(code__in=codes)}
    problems: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        problems += _row_problems(first_row + i, row, partners)
    return problems


def create_leads(
    *, actor: User | None, rows: Sequence[Mapping[str, Any]], idempotency_key: str = "", first_row: int = 1
) -> list[Lead]:
    """Leads from the platform operator (``actor`` None: the console), all or nothing."""
    if actor is not None and not sel.is_operator(actor):
        raise Forbidden(_("Only the platform operator imports leads."), code="import_forbidden")
    if not rows:
        raise ValidationFailed(_("No leads to import."), code="no_rows")
    if len(rows) > MAX_IMPORT:
        raise ValidationFailed(_("At most %(n)d leads at once.") % {"n": MAX_IMPORT}, code="too_many")
    key = _key(idempotency_key)
    problems = validate_rows(rows, first_row)
    if problems:
        raise ValidationFailed(
            _("%(n)d problem(s) in the leads; nothing was imported.") % {"n": len(problems)},
            code="invalid_leads",
            details=problems,
        )
    fp = _fingerprint("import", [dict(r) for r in rows])
    with transaction.atomic():
        if (earlier := _repeat(actor, key, fp)) is not None:
            return earlier
        leads = [_create(actor, row) for row in rows]
        _remember(actor, key, fp, leads)
    return leads


def _create(actor: User | None, row: Mapping[str, Any]) -> Lead:
    values = {c: str(row.get(c) or "").strip() for c in COLUMNS}
    partner = Partner.objects.get(code=values.pop("partner"))
    lead = Lead.objects.create(partner=partner, created_at=clock.now(), created_by=actor, **values)
    lead.number = f"LEAD-{lead.pk:06d}"
    lead.save(update_fields=["number"])
    LeadEvent.objects.create(lead=lead, kind=EventKind.CREATED, at=lead.created_at, actor=actor, to_status=lead.status)
    return lead


def read_csv(text: str) -> list[dict[str, str]]:
    """The rows of a CSV with a header line naming :data:`COLUMNS` (a UTF-8 BOM is fine)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c, (required, _limit) in COLUMNS.items() if required and c not in header]
    if missing:
        raise ValidationFailed(
            _("The header line lacks the column(s) %(columns)s.") % {"columns": ", ".join(missing)},
            code="missing_columns",
            details=[{"row": 1, "column": c, "why": _("required")} for c in missing],
        )
    return [{(k or "").strip(): (v or "") for k, v in row.items()} for row in reader]


def import_csv(path: str | Path) -> list[Lead]:
    """``partnercenter import-leads FILE.csv``: rows numbered as lines of the file (the header is 1)."""
    rows = read_csv(Path(path).read_text(encoding="utf-8"))
    return create_leads(actor=None, rows=rows, first_row=2)


# --- dispatch and recall ---------------------------------------------------------------------------


def _ids(values: Iterable[Any] | Any) -> list[int]:
    raw = [values] if isinstance(values, (str, int)) else list(values or [])
    try:
        ids = sorted({int(str(v)) for v in raw})
    except ValueError:
        raise ValidationFailed(_("Leads: each must be a lead id."), code="invalid_leads") from None
    if not ids:
        raise ValidationFailed(_("Select at least one lead."), code="no_leads")
    if len(ids) > MAX_BATCH:
        raise ValidationFailed(_("At most %(n)d leads at once.") % {"n": MAX_BATCH}, code="too_many")
    return ids


def _note(value: object) -> str:
    note = str(value or "").strip()
    if len(note) > 500:
        raise ValidationFailed(_("Note: at most 500 characters."), code="invalid_note")
    return note


def _require_dispatcher(actor: User) -> None:
    if not sel.may_dispatch(actor):
        raise Forbidden(
            _("Only the partner's admin or an operator with the Lead Dispatch menu dispatches and recalls leads."),
            code="dispatch_forbidden",
        )


def _staff(actor: User, username: object) -> User:
    name = str(username or "").strip()
    if not name:
        raise ValidationFailed(_("Choose the staff member to dispatch to."), code="no_assignee")
    person = scoping.partner_users_for(actor, scoping.Purpose.ACT).filter(username=name, is_active=True).first()
    if person is None:
        raise NotFound(_("No active staff member %(name)s.") % {"name": name}, code="not_found")
    if menus.LEAD_DISPATCH not in person.menu_codes():
        raise ValidationFailed(
            _("%(name)s does not hold the Lead Dispatch menu and would not see the lead.") % {"name": name},
            code="assignee_without_menu",
        )
    return person


def _lock(actor: User, ids: list[int]) -> list[Lead]:
    """The leads, locked; any one not visible to ``actor`` refuses the whole batch (404)."""
    visible = set(sel.leads_for(actor).filter(pk__in=ids).values_list("pk", flat=True))
    missing = [i for i in ids if i not in visible]
    if missing:
        raise NotFound(
            _("No lead with id %(ids)s; nothing was changed.") % {"ids": ", ".join(map(str, missing))},
            code="not_found",
        )
    partner_ids = sorted(set(Lead.objects.filter(pk__in=ids).values_list("partner_id", flat=True)))
    list(Partner.objects.select_for_update().filter(pk__in=partner_ids).order_by("pk").values_list("pk"))
    return list(Lead.objects.select_for_update().filter(pk__in=ids).order_by("pk"))


def _refuse(problems: list[dict[str, Any]], conflict: bool) -> None:
    if not problems:
        return
    message = _("%(n)d lead(s) cannot be changed; nothing was changed.") % {"n": len(problems)}
    if conflict:
        raise Conflict(message, code="not_dispatchable", details=problems)
    raise ValidationFailed(message, code="other_partner", details=problems)


def _check_dispatch(leads: list[Lead], person: User) -> None:
    other = [
        {"lead": x.number, "why": _("belongs to another partner than %(name)s") % {"name": person.username}}
        for x in leads
        if x.partner_id != person.partner_id
    ]
    _refuse(other, conflict=False)
    problems = []
    for x in leads:
        if x.status in CLOSED:
            problems.append({"lead": x.number, "why": _("is %(status)s") % {"status": x.get_status_display()}})
        elif x.assignee_id == person.pk:
            problems.append(
                {"lead": x.number, "why": _("is already dispatched to %(name)s") % {"name": person.username}}
            )
    _refuse(problems, conflict=True)


def dispatch(
    *, actor: User, lead_ids: Iterable[Any] | Any, assignee: object, note: object = "", idempotency_key: str = ""
) -> list[Lead]:
    """Dispatch the leads to ``assignee`` (a username) of their partner, all or nothing."""
    ids, text, key = _ids(lead_ids), _note(note), _key(idempotency_key)
    _require_dispatcher(actor)
    person = _staff(actor, assignee)
    fp = _fingerprint("dispatch", ids, person.pk, text)
    with transaction.atomic():
        leads = _lock(actor, ids)
        if (earlier := _repeat(actor, key, fp)) is not None:
            return earlier
        _check_dispatch(leads, person)
        at = clock.now()
        for x in leads:
            x.assignee, x.dispatched_at = person, at
            x.save(update_fields=["assignee", "dispatched_at"])
            LeadEvent.objects.create(lead=x, kind=EventKind.DISPATCHED, at=at, actor=actor, assignee=person, note=text)
        _remember(actor, key, fp, leads)
    return leads


def recall(*, actor: User, lead_ids: Iterable[Any] | Any, note: object = "", idempotency_key: str = "") -> list[Lead]:
    """Take the leads back from whoever they were dispatched to, all or nothing."""
    ids, text, key = _ids(lead_ids), _note(note), _key(idempotency_key)
    _require_dispatcher(actor)
    fp = _fingerprint("recall", ids, text)
    with transaction.atomic():
        leads = _lock(actor, ids)
        if (earlier := _repeat(actor, key, fp)) is not None:
            return earlier
        problems = [
            {"lead": x.number, "why": _("is not dispatched") if x.assignee_id is None else x.get_status_display()}
            for x in leads
            if x.assignee_id is None or x.status in CLOSED
        ]
        _refuse(problems, conflict=True)
        at = clock.now()
        for x in leads:
            LeadEvent.objects.create(
                lead=x, kind=EventKind.RECALLED, at=at, actor=actor, assignee=x.assignee, note=text
            )
            x.assignee, x.dispatched_at = None, None
            x.save(update_fields=["assignee", "dispatched_at"])
        _remember(actor, key, fp, leads)
    return leads


# --- status, by the staff member the lead is dispatched to ----------------------------------------

STAFF_STATUSES = (LeadStatus.CONTACTING, LeadStatus.QUALIFIED, LeadStatus.CONVERTED, LeadStatus.LOST)


def update_status(
    *, actor: User, lead_id: object, status: object, note: object = "", idempotency_key: str = ""
) -> Lead:
    text, key = _note(note), _key(idempotency_key)
    value = str(status or "").strip()
    if value not in STAFF_STATUSES:
        allowed = ", ".join(STAFF_STATUSES)
        raise ValidationFailed(_("Status: must be one of %(allowed)s.") % {"allowed": allowed}, code="invalid_status")
    lead = sel.lead_for(actor, lead_id)
    fp = _fingerprint("status", lead.pk, value, text)
    with transaction.atomic():
        (lead,) = _lock(actor, [lead.pk])
        if (earlier := _repeat(actor, key, fp)) is not None:
            return earlier[0]
        if lead.assignee_id != actor.pk:
            raise Forbidden(
                _("Only the staff member the lead is dispatched to updates its status."), code="status_forbidden"
            )
        if lead.status == value:
            raise Conflict(
                _("The lead is already %(status)s.") % {"status": lead.get_status_display()}, code="unchanged"
            )
        before, lead.status = lead.status, value
        lead.save(update_fields=["status"])
        LeadEvent.objects.create(
            lead=lead,
            kind=EventKind.STATUS_CHANGED,
            at=clock.now(),
            actor=actor,
            from_status=before,
            to_status=value,
            note=text,
        )
        _remember(actor, key, fp, [lead])
    return lead
