"""Payout applications and expiry (I7, I8): the writes. Reads are in :mod:`.payout_selectors`.

* **Negatives first.** Every open negative incentive (an issued clawback in no open application)
  of the partner and currency is part of every application, whatever was selected; the amount is
  Σ selected earnings + Σ negatives and an application whose negatives exceed its earnings is
  refused (422 ``negatives_exceed_positives``), nothing written.
* **One open application per incentive.** Checked under the partner row lock, the same first lock
  every balance write takes (billing.payment_services), so two applications, or an application
  and the expiry, never take the same incentive.
* **Decided once.** An operator approves (into the prepaid balance, or paid out) or rejects; a
  rejection makes its incentives applicable again.
* **Expiry.** An issued earning expires one calendar year after its partner left the program,
  unless an open application holds it; negative incentives never expire; expired is final.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from partnercenter import scoping
from partnercenter.accounts.models import User
from partnercenter.billing import payment_services
from partnercenter.core import audit, clock, money
from partnercenter.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from partnercenter.partners.models import Partner

from . import payout_selectors as sel
from .models import (
    Application,
    ApplicationDecision,
    ApplicationItem,
    ApplicationState,
    Enrolment,
    Incentive,
    IncentiveKind,
    PayoutMethod,
    State,
)
from .workflow import transition

MAX_SELECTED = 1000
MAX_TEXT = 500


def _invalid(where: str, why: str, message: str, code: str = "validation_error") -> ValidationFailed:
    return ValidationFailed(message, code=code, details=[{"where": where, "why": why}])


def _lock(partner: Partner) -> None:
    # The fixed first lock of every write touching the partner's money (billing.payment_services).
    Partner.objects.select_for_update().filter(pk=partner.pk).values_list("pk", flat=True).first()


def _shown(d: Decimal, currency: str) -> str:
    return f"{payment_services.shown(d, currency)} {currency}"


def _clean_text(value: Any, where: str) -> str:
    text = " ".join(str(value or "").split())
    if len(text) > MAX_TEXT:
        raise _invalid(where, "too long", _("%(where)s is longer than %(n)d characters.") % {"where": where, "n": 500})
    return text


def _clean_numbers(numbers: Any) -> list[str]:
    if isinstance(numbers, str) or not isinstance(numbers, Iterable):
        raise _invalid("numbers", "not a list", _("Select the incentive earnings to apply for."), "nothing_selected")
    cleaned = sorted({str(n).strip() for n in numbers if str(n).strip()})
    if not cleaned:
        raise _invalid("numbers", "empty", _("Select at least one incentive earning to apply for."), "nothing_selected")
    if len(cleaned) > MAX_SELECTED or any(len(n) > 32 for n in cleaned):
        raise _invalid("numbers", "too many or too long", _("At most 1000 incentive IDs may be selected."))
    return cleaned


def _fingerprint(**request: Any) -> str:
    text = json.dumps(request, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _require_act(actor: User, partner: Partner) -> None:
    ids = scoping.partner_ids_for(actor, scoping.Purpose.ACT)
    if ids is not None and partner.pk not in ids:
        raise NotFound(_("No such partner."), code="not_found")


@dataclass(frozen=True)
class _Plan:
    """An application as checked, before anything is written."""

    positives: list[Incentive]
    negatives: list[Incentive]

    @property
    def positive_total(self) -> Decimal:
        return sum((i.amount for i in self.positives), money.ZERO)

    @property
    def negative_total(self) -> Decimal:
        return sum((i.amount for i in self.negatives), money.ZERO)


def _check_one(inc: Incentive, currency: str, held: set[int]) -> None:
    where = f"numbers[{inc.number}]"
    if inc.currency != currency:
        message = _("Incentive %(n)s is in %(c)s, not %(currency)s.") % {
            "n": inc.number,
            "c": inc.currency,
            "currency": currency,
        }
        raise _invalid(where, "other currency", message, "currency_mismatch")
    if inc.state != State.ISSUED:
        message = _("Incentive %(n)s is %(state)s; only issued incentives can be applied for.") % {
            "n": inc.number,
            "state": State(inc.state).label,
        }
        raise _invalid(where, f"state {inc.state}", message, "not_applicable")
    if inc.pk in held:
        raise Conflict(
            _("Incentive %(n)s is already in a payout application under review or approved.") % {"n": inc.number},
            code="already_in_application",
            details=[{"where": where, "why": "in an open application"}],
        )


def _plan(partner: Partner, currency: str, numbers: list[str]) -> _Plan:
    """The selected earnings, checked, and every open negative; call under the partner lock."""
    found = {i.number: i for i in Incentive.objects.filter(partner=partner, number__in=numbers)}
    missing = [n for n in numbers if n not in found]
    if missing:
        raise NotFound(
            _("No incentive %(n)s of this partner.") % {"n": missing[0]},
            code="incentive_not_found",
            details=[{"where": f"numbers[{n}]", "why": "no such incentive of this partner"} for n in missing],
        )
    held = sel.held_incentive_ids(partner)
    positives = []
    for inc in found.values():
        if inc.kind == IncentiveKind.CLAWBACK:
            continue  # negatives are added below whatever was sent
        _check_one(inc, currency, held)
        positives.append(inc)
    if not positives:
        raise _invalid(
            "numbers", "no earning", _("Select at least one incentive earning to apply for."), "nothing_selected"
        )
    negatives = list(sel.open_incentives(partner, currency).filter(kind=IncentiveKind.CLAWBACK))
    plan = _Plan(sorted(positives, key=lambda i: i.number), negatives)
    if plan.positive_total + plan.negative_total < 0:
        figures = {
            "neg": _shown(-plan.negative_total, currency),
            "pos": _shown(plan.positive_total, currency),
        }
        raise _invalid(
            "numbers",
            "negatives exceed positives",
            _(
                "The negative incentives (%(neg)s) exceed the selected incentive earnings (%(pos)s): no payout "
                "application is possible. Select more earnings; nothing was submitted."
            )
            % figures,
            "negatives_exceed_positives",
        )
    return plan


def _next_number(at: dt.datetime) -> str:
    prefix = f"PAY-{clock.billing_date(at):%Y%m%d}-"
    last = Application.objects.filter(number__startswith=prefix).order_by("-number").values_list("number", flat=True)
    top = last.first()
    return f"{prefix}{(int(top[-6:]) if top else 0) + 1:06d}"


def _create(actor: User, partner: Partner, currency: str, plan: _Plan, key: str, fingerprint: str) -> Application:
    at = clock.now()
    for _attempt in range(20):  # another partner may take the day's next number at the same time
        try:
            with transaction.atomic():
                app = Application.objects.create(
                    number=_next_number(at),
                    partner=partner,
                    currency=currency,
                    positive_total=plan.positive_total,
                    negative_total=plan.negative_total,
                    amount=plan.positive_total + plan.negative_total,
                    created_at=at,
                    created_by=actor,
                    idempotency_key=key,
                    request_fingerprint=fingerprint,
                )
        except IntegrityError:
            continue
        ApplicationItem.objects.bulk_create(
            ApplicationItem(application=app, incentive=i, amount=i.amount) for i in plan.positives + plan.negatives
        )
        return app
    raise Conflict(_("Too many simultaneous applications; try again."), code="busy")


def apply(*, actor: User, partner: Partner, currency: Any, numbers: Any, idempotency_key: str = "") -> Application:
    """The partner applies for the payout of the selected issued earnings of ``currency`` (with
    every open negative incentive); see the module docstring for the rules."""
    _require_act(actor, partner)
    currency = payment_services.clean_currency(currency)
    cleaned = _clean_numbers(numbers)
    key = _clean_text(idempotency_key, "idempotency_key")
    if len(key) > 200:
        raise _invalid("idempotency_key", "too long", _("The Idempotency-Key is longer than 200 characters."))
    fp = _fingerprint(op="apply", partner=partner.pk, currency=currency, numbers=cleaned)
    with transaction.atomic():
        _lock(partner)
        if key:
            earlier = Application.objects.filter(partner=partner, idempotency_key=key).first()
            if earlier is not None:
                if earlier.request_fingerprint != fp:
                    raise Conflict(
                        _("This Idempotency-Key was already used with a different request."),
                        code="idempotency_key_reused",
                    )
                return earlier
        plan = _plan(partner, currency, cleaned)
        app = _create(actor, partner, currency, plan, key, fp)
        audit.record(
            actor,
            "incentives.payout.apply",
            partner=partner,
            target=app.number,
            currency=currency,
            amount=money.to_str(app.amount),
            incentives=[i.number for i in plan.positives + plan.negatives],
        )
    return app


def _decision_fields(state: Any, payout_method: Any) -> tuple[str, str]:
    if state not in (ApplicationState.APPROVED, ApplicationState.REJECTED):
        raise _invalid("state", "not approved or rejected", _("The decision must be approved or rejected."))
    if state == ApplicationState.REJECTED:
        return str(state), ""
    if payout_method not in PayoutMethod.values:
        raise _invalid(
            "payout_method",
            "not balance or paid_out",
            _("Choose how the approved amount is paid: into the prepaid balance or paid out."),
        )
    return str(state), str(payout_method)


def decide(*, actor: User, number: str, state: Any, payout_method: Any = "", remark: Any = "") -> ApplicationDecision:
    """An operator approves (``payout_method`` balance: a top-up of exactly the amount; paid_out:
    recorded only) or rejects an application under review, once (409 ``already_decided``)."""
    if not actor.is_platform_operator:
        raise Forbidden(_("Only a platform operator may review payout applications."))
    state, method = _decision_fields(state, payout_method)
    remark = _clean_text(remark, "remark")
    app = Application.objects.filter(number=str(number)).select_related("partner").first()
    if app is None:
        raise NotFound(_("No payout application %(n)s.") % {"n": number}, code="application_not_found")
    with transaction.atomic():
        _lock(app.partner)
        if ApplicationDecision.objects.filter(application=app).exists():
            raise Conflict(
                _("Payout application %(n)s was already decided.") % {"n": app.number}, code="already_decided"
            )
        entry = None
        if method == PayoutMethod.BALANCE and app.amount > 0:
            entry = payment_services.credit_incentive_payout(
                actor=actor, partner=app.partner, currency=app.currency, amount=app.amount, number=app.number
            )
        decision = ApplicationDecision.objects.create(
            application=app,
            state=state,
            payout_method=method,
            remark=remark,
            decided_at=clock.now(),
            decided_by=actor,
            statement_entry=entry,
        )
        audit.record(
            actor,
            "incentives.payout.decide",
            partner=app.partner,
            target=app.number,
            state=state,
            payout_method=method,
            amount=money.to_str(app.amount),
            remark=remark,
        )
    return decision


def _due_programs(at: dt.datetime) -> dict[int, dict[int, dt.datetime]]:
    """Per partner id: the programs it left at least one calendar year before ``at``, with the
    end of validity (only when its latest enrolment in the program is the one it left)."""
    latest: dict[tuple[int, int], Enrolment] = {}
    pairs = Enrolment.objects.filter(left_at__isnull=False, left_at__lte=at).values_list("partner_id", "program_id")
    partner_ids = {p for p, _program in pairs}
    for e in Enrolment.objects.filter(partner_id__in=partner_ids).order_by("joined_at", "pk"):
        latest[(e.partner_id, e.program_id)] = e
    due: dict[int, dict[int, dt.datetime]] = {}
    for (partner_id, program_id), e in latest.items():
        if e.left_at is not None and sel.add_year(e.left_at) <= at:
            due.setdefault(partner_id, {})[program_id] = sel.add_year(e.left_at)
    return due


def expire_due(at: dt.datetime) -> int:
    """Expires the issued earnings due at ``at`` (I8); returns how many. Per partner, under its lock."""
    count = 0
    for partner_id, programs in sorted(_due_programs(at).items()):
        partner = Partner.objects.get(pk=partner_id)
        with transaction.atomic():
            _lock(partner)
            held = sel.held_incentive_ids(partner)
            due = Incentive.objects.filter(
                partner=partner, program_id__in=programs, state=State.ISSUED, kind=IncentiveKind.EARNING
            ).exclude(pk__in=held)
            for inc in due.order_by("number"):
                until = programs[inc.program_id]
                reason = f"Valid until {until.isoformat()}: one year after the partner left the program."
                transition(inc, State.EXPIRED, at=at, reason=reason)
                count += 1
    return count
