"""Writes of the prepaid balance, payments and third-party payment agreements (B4, B9).

Rules (docs/architecture.md, "Payments"):

* **Validate first.** Amounts, currencies, bills, names and dates are checked before anything is
  written; a refusal names the field and changes nothing.
* **One writer per partner.** Every write that moves the balance or settles a bill starts by
  locking the partner's row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE``
  already serialises writers), then reads the balance and the amounts due and writes. Two
  simultaneous payments therefore see each other's result: the balance can never go below zero
  and a bill can never be paid beyond its amount due.
* **Idempotent.** A payment, transfer or top-up carrying a key already used for the partner
  answers the first result when the request is the same, and 409 when it differs.
* **Settling order.** The oldest unpaid bill first (month, then id), unless a bill is chosen.
* **Bank transfers** are money already received: the part beyond the amounts due (or beyond the
  chosen bill's) is credited to the prepaid balance as a top-up entry naming the transfer.
* Every write is audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from partnercenter.accounts.models import User
from partnercenter.core import audit, clock, limits, money
from partnercenter.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from partnercenter.partners.models import Partner

from . import payment_selectors as sel
from .models import (
    AgreementStatus,
    Bill,
    Payment,
    PaymentAgreement,
    PaymentAgreementDecision,
    PaymentAllocation,
    PaymentMethod,
    PrincipalType,
    StatementEntry,
    StatementEntryKind,
)

OVERPAYMENT = gettext_noop("Overpayment of bank transfer %(reference)s")
NEGATIVE_BILL = gettext_noop("Negative amount of the bill of %(month)s returned")
MAX_TEXT = {"payer_name": 200, "reference": 100, "remark": 500, "principal": 200, "idempotency_key": 200}


def _invalid(where: str, why: str, message: str | None = None, code: str = "validation_error") -> ValidationFailed:
    return ValidationFailed(message or f"{where}: {why}.", code=code, details=[{"where": where, "why": why}])


def clean_currency(currency: Any, where: str = "currency") -> str:
    code = str(currency or "").strip().upper()
    if not money.is_currency(code):
        raise _invalid(where, _("must be an ISO 4217 currency code such as CNY or USD"))
    return code


def clean_amount(value: Any, currency: str, where: str = "amount") -> Decimal:
    """A payment amount: positive, at most the currency's minor unit in places, at most 10¹²."""
    try:
        d = money.amount(value if isinstance(value, Decimal) else str(value).strip())
    except money.InvalidAmount:
        raise _invalid(where, _("must be a decimal number such as 100.00"), code="invalid_amount") from None
    if d <= 0:
        raise _invalid(where, _("must be greater than zero"), code="invalid_amount")
    places = money.MINOR_UNITS[currency]
    exponent = d.normalize(money.CONTEXT).as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        why = _("has more decimal places than %(currency)s allows (%(places)d)") % {
            "currency": currency,
            "places": places,
        }
        raise _invalid(where, why, code="invalid_amount")
    if d > money.MAX_AMOUNT:
        raise _invalid(where, _("is larger than the accepted maximum of 10^12"), code="invalid_amount")
    return d.normalize(money.CONTEXT) if d != d.to_integral_value() else d.quantize(Decimal(1))


def _clean_text(value: str, where: str, *, required: bool = True) -> str:
    text = " ".join(str(value or "").split())
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in text):
        raise _invalid(where, _("must not contain control characters"))
    if required and not text:
        raise _invalid(where, _("is required"))
    if len(text) > MAX_TEXT[where]:
        raise _invalid(where, _("is longer than %(n)d characters") % {"n": MAX_TEXT[where]})
    return text


def shown(d: Decimal, currency: str) -> str:
    """An amount as people read it: to the currency's minor unit."""
    return money.to_str(money.round_minor(d, currency))


def _fingerprint(**request: Any) -> str:
    text = json.dumps(request, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _lock(partner: Partner) -> None:
    # The fixed first lock of every balance or settlement write (module docstring).
    Partner.objects.select_for_update().filter(pk=partner.pk).values_list("pk", flat=True).first()


def _require_operator(actor: User) -> None:
    if not actor.is_platform_operator:
        raise Forbidden(_("Only a platform operator may do this."))


def _repeat(model: type[Payment] | type[StatementEntry], partner: Partner, key: str, fingerprint: str) -> Any:
    if not key:
        return None
    earlier = model.objects.filter(partner=partner, idempotency_key=key).first()
    if earlier is not None and earlier.request_fingerprint != fingerprint:
        raise Conflict(
            _("This Idempotency-Key was already used with a different request."), code="idempotency_key_reused"
        )
    return earlier


def _entry(
    partner: Partner, currency: str, kind: str, amount: Decimal, actor: User | None, **extra: Any
) -> StatementEntry:
    after = sel.balance(partner, currency) + amount
    assert after >= 0, "the balance never goes below zero"
    return StatementEntry.objects.create(
        partner=partner,
        currency=currency,
        kind=kind,
        amount=amount,
        balance_after=after,
        created_by=actor if actor is not None and actor.pk else None,
        **{"created_at": clock.now(), **extra},
    )


def _payment(
    partner: Partner,
    currency: str,
    method: str,
    amount: Decimal,
    *,
    actor: User,
    key: str,
    fingerprint: str,
    created_at: dt.datetime,
    **extra: Any,
) -> Payment:
    return Payment.objects.create(
        partner=partner,
        currency=currency,
        method=method,
        amount=amount,
        idempotency_key=key,
        request_fingerprint=fingerprint,
        created_at=created_at,
        created_by=actor,
        **extra,
    )


def _allocate(payment: Payment, dues: list[sel.BillDue], amount: Decimal) -> Decimal:
    """Applies ``amount`` to ``dues`` in order; returns what is left over."""
    left = amount
    for d in dues:
        if left <= 0:
            break
        part = min(left, d.due)
        if part > 0:
            PaymentAllocation.objects.create(payment=payment, bill=d.bill, amount=part)
            left -= part
    return left


# --- top-up --------------------------------------------------------------------------------------


def top_up(
    *, actor: User, partner: Partner, currency: str, amount: Any, remark: str = "", idempotency_key: str = ""
) -> StatementEntry:
    """An operator credits the partner's prepaid balance."""
    _require_operator(actor)
    currency = clean_currency(currency)
    value = clean_amount(amount, currency)
    remark = _clean_text(remark, "remark", required=False)
    key = _clean_text(idempotency_key, "idempotency_key", required=False)
    fp = _fingerprint(op="top_up", partner=partner.pk, currency=currency, amount=value, remark=remark)
    return _credit(actor, partner, currency, value, key=key, fp=fp, action="billing.top_up", remark=remark)


def _credit(
    actor: User,
    partner: Partner,
    currency: str,
    value: Decimal,
    *,
    key: str,
    fp: str,
    action: str,
    remark: str,
    **detail: Any,
) -> StatementEntry:
    """A top-up entry of ``value``, once per Idempotency-Key, under the partner lock, audited."""
    with transaction.atomic():
        _lock(partner)
        earlier = _repeat(StatementEntry, partner, key, fp)
        if earlier is not None:
            return earlier  # type: ignore[no-any-return]
        entry = _entry(
            partner,
            currency,
            StatementEntryKind.TOP_UP,
            value,
            actor,
            remark=remark,
            idempotency_key=key,
            request_fingerprint=fp,
        )
        audit.record(
            actor,
            action,
            partner=partner,
            target=str(entry.pk),
            **detail,
            currency=currency,
            amount=money.to_str(value),
            balance_after=money.to_str(entry.balance_after),
            remark=remark,
        )
    return entry


# --- paying from the balance ---------------------------------------------------------------------


def _chosen_bill(partner: Partner, bill_id: Any) -> Bill | None:
    if bill_id in (None, ""):
        return None
    try:
        pk = int(bill_id)
    except (TypeError, ValueError):
        raise _invalid("bill", _("must be the id of a bill")) from None
    try:
        return sel.get_bill(partner, pk)
    except NotFound as e:
        e.details = [{"where": "bill", "why": _("no such bill for this partner")}]
        raise


def _pay_currency(bill: Bill | None, currency: Any) -> str:
    if bill is None:
        return clean_currency(currency)
    if currency and clean_currency(currency) != bill.currency:
        raise _invalid("currency", _("must be the chosen bill's currency (%(c)s)") % {"c": bill.currency})
    return bill.currency


def _dues_for(partner: Partner, currency: str, bill: Bill | None) -> list[sel.BillDue]:
    dues = sel.unpaid_bills(partner, currency)
    return [d for d in dues if d.bill.pk == bill.pk] if bill is not None else dues


def _check_payable(value: Decimal | None, due: Decimal, available: Decimal, currency: str) -> Decimal:
    figures = {"due": shown(due, currency), "balance": shown(available, currency), "currency": currency}
    if due <= 0:
        raise ValidationFailed(_("Nothing is due in %(currency)s; nothing was paid.") % figures, code="nothing_due")
    wanted = due if value is None else value
    if wanted > due:
        raise _invalid(
            "amount",
            _("is more than the amount due (%(due)s %(currency)s)") % figures,
            _("The amount is more than the amount due (%(due)s %(currency)s); nothing was paid.") % figures,
            code="more_than_due",
        )
    if wanted > available:
        raise _invalid(
            "amount",
            _("is more than the prepaid balance (%(balance)s %(currency)s)") % figures,
            _("The prepaid balance (%(balance)s %(currency)s) is not enough; nothing was paid.") % figures,
            code="insufficient_balance",
        )
    return wanted


def pay_from_balance(
    *,
    actor: User,
    partner: Partner,
    currency: Any = None,
    amount: Any = None,
    bill_id: Any = None,
    idempotency_key: str = "",
) -> Payment:
    """The partner pays its bills from its prepaid balance: ``amount`` (``None``: everything due),
    the oldest unpaid bill first unless ``bill_id`` is chosen (module docstring)."""
    bill = _chosen_bill(partner, bill_id)
    currency = _pay_currency(bill, currency)
    value = None if amount in (None, "") else clean_amount(amount, currency)
    key = _clean_text(idempotency_key, "idempotency_key", required=False)
    fp = _fingerprint(op="pay", user=actor.pk, currency=currency, amount=value, bill=bill.pk if bill else None)
    with transaction.atomic():
        _lock(partner)
        earlier = _repeat(Payment, partner, key, fp)
        if earlier is not None:
            return earlier  # type: ignore[no-any-return]
        dues = _dues_for(partner, currency, bill)
        paid = _check_payable(value, sum((d.due for d in dues), money.ZERO), sel.balance(partner, currency), currency)
        entry = _entry(partner, currency, StatementEntryKind.PAYMENT, -paid, actor)
        payment = _payment(
            partner,
            currency,
            PaymentMethod.BALANCE,
            paid,
            actor=actor,
            key=key,
            fingerprint=fp,
            created_at=entry.created_at,
            statement_entry=entry,
        )
        left = _allocate(payment, dues, paid)
        assert left == 0
        audit.record(
            actor,
            "billing.pay",
            partner=partner,
            target=str(payment.pk),
            currency=currency,
            amount=money.to_str(paid),
            bills=[a.bill_id for a in payment.allocations.all()],
            balance_after=money.to_str(entry.balance_after),
        )
    return payment


# --- bank transfers ------------------------------------------------------------------------------


def _received_on(value: Any) -> dt.date:
    try:
        day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        limits.check_day(day)
    except (TypeError, ValueError):
        raise _invalid("received_on", _("must be a date (YYYY-MM-DD)")) from None
    if day > clock.billing_date(clock.now()):
        raise _invalid("received_on", _("is in the future"))
    return day


def _payer_agreement(partner: Partner, payer_name: str) -> PaymentAgreement | None:
    """The approved agreement a payer other than the partner itself needs (代付协议)."""
    if sel.normalized_name(payer_name) == sel.normalized_name(partner.name):
        return None
    agreement = sel.approved_agreement(partner, payer_name)
    if agreement is None:
        message = _(
            "The payer %(payer)s is not the partner %(partner)s and has no approved third-party payment "
            "agreement with it; nothing was recorded. The partner creates the agreement, an operator approves it."
        ) % {"payer": payer_name, "partner": partner.name}
        raise _invalid("payer_name", _("no approved third-party payment agreement"), message, "no_payment_agreement")
    return agreement


def _overpayment(payment: Payment, left: Decimal, actor: User) -> None:
    if left <= 0:
        return
    # Stored in English; the payment records show it in the reader's language (payment_selectors).
    remark = OVERPAYMENT % {"reference": payment.reference}
    entry = _entry(payment.partner, payment.currency, StatementEntryKind.TOP_UP, left, actor, remark=remark)
    payment.statement_entry = entry
    payment.save(update_fields=["statement_entry"])


@dataclass(frozen=True)
class _Transfer:
    """A bank transfer as checked, before anything is written."""

    bill: Bill | None
    currency: str
    value: Decimal
    payer: str
    reference: str
    day: dt.date
    key: str
    agreement: PaymentAgreement | None

    def fingerprint(self) -> str:
        return _fingerprint(
            op="transfer",
            currency=self.currency,
            amount=self.value,
            payer=self.payer,
            reference=self.reference,
            day=self.day,
            bill=self.bill.pk if self.bill else None,
        )


def _refuse_recorded_reference(partner: Partner, reference: str) -> None:
    if Payment.objects.filter(partner=partner, reference=reference).exists():
        raise Conflict(
            _("A bank transfer with reference %(r)s is already recorded.") % {"r": reference},
            code="transfer_already_recorded",
            details=[{"where": "reference", "why": "already recorded"}],
        )


def _audit_transfer(actor: User, payment: Payment, t: _Transfer) -> None:
    audit.record(
        actor,
        "billing.transfer",
        partner=payment.partner,
        target=str(payment.pk),
        currency=t.currency,
        received=money.to_str(t.value),
        applied=money.to_str(payment.amount),
        payer=t.payer,
        reference=t.reference,
        agreement=t.agreement.pk if t.agreement else None,
    )


def record_transfer(
    *,
    actor: User,
    partner: Partner,
    currency: Any,
    amount: Any,
    payer_name: str,
    received_on: Any,
    reference: str,
    bill_id: Any = None,
    idempotency_key: str = "",
) -> Payment:
    """An operator records money received by bank transfer and settles bills with it."""
    _require_operator(actor)
    bill = _chosen_bill(partner, bill_id)
    currency = _pay_currency(bill, currency)
    value = clean_amount(amount, currency)
    payer = _clean_text(payer_name, "payer_name")
    t = _Transfer(  # checked in this order: the first refusal names its field
        bill,
        currency,
        value,
        payer,
        reference=_clean_text(reference, "reference"),
        day=_received_on(received_on),
        key=_clean_text(idempotency_key, "idempotency_key", required=False),
        agreement=_payer_agreement(partner, payer),
    )
    fp = t.fingerprint()
    with transaction.atomic():
        _lock(partner)
        earlier = _repeat(Payment, partner, t.key, fp)
        if earlier is not None:
            return earlier  # type: ignore[no-any-return]
        _refuse_recorded_reference(partner, t.reference)
        dues = _dues_for(partner, t.currency, t.bill)
        applied = min(t.value, sum((d.due for d in dues), money.ZERO))
        payment = _payment(
            partner,
            t.currency,
            PaymentMethod.BANK_TRANSFER,
            applied,
            actor=actor,
            key=t.key,
            fingerprint=fp,
            created_at=clock.now(),
            payer_name=t.payer,
            agreement=t.agreement,
            reference=t.reference,
            received_on=t.day,
        )
        _allocate(payment, dues, applied)
        _overpayment(payment, t.value - applied, actor)
        _audit_transfer(actor, payment, t)
    return payment


# --- third-party payment agreements (代付管理) ---------------------------------------------------

# Who may decide from which status: a pending agreement is approved or rejected; an approved one
# may be withdrawn (rejected); a rejected one is final (the partner creates a new one).
ALLOWED_DECISIONS = {
    AgreementStatus.PENDING: {AgreementStatus.APPROVED, AgreementStatus.REJECTED},
    AgreementStatus.APPROVED: {AgreementStatus.REJECTED},
    AgreementStatus.REJECTED: set(),
}


def create_agreement(*, actor: User, partner: Partner, principal: str, principal_type: str) -> PaymentAgreement:
    """A partner admin asks that ``principal`` may pay the partner's bills by bank transfer."""
    if not (actor.is_partner_admin and actor.partner_id == partner.pk):
        raise Forbidden(_("Only the partner's admin may create a third-party payment agreement."))
    name = _clean_text(principal, "principal")
    if principal_type not in PrincipalType.values:
        raise _invalid("principal_type", _("must be one of: %(v)s") % {"v": ", ".join(PrincipalType.values)})
    if sel.normalized_name(name) == sel.normalized_name(partner.name):
        raise _invalid("principal", _("is the partner itself, which needs no agreement"))
    with transaction.atomic():
        _lock(partner)
        for a in sel.with_status(PaymentAgreement.objects.filter(partner=partner)):
            if sel.status_of(a) != AgreementStatus.REJECTED and sel.normalized_name(a.principal) == sel.normalized_name(
                name
            ):
                raise Conflict(
                    _("An agreement for %(p)s already exists (%(s)s).")
                    % {"p": a.principal, "s": AgreementStatus(sel.status_of(a)).label},
                    code="agreement_exists",
                    details=[{"where": "principal", "why": "already has an agreement"}],
                )
        agreement = PaymentAgreement.objects.create(
            partner=partner, principal=name, principal_type=principal_type, created_at=clock.now(), created_by=actor
        )
        audit.record(
            actor,
            "billing.agreement.create",
            partner=partner,
            target=str(agreement.pk),
            principal=name,
            principal_type=principal_type,
        )
    return agreement


def decide_agreement(*, actor: User, agreement_id: Any, status: str, remark: str = "") -> PaymentAgreementDecision:
    """An operator approves or rejects an agreement; decisions are appended, never changed."""
    _require_operator(actor)
    if status not in (AgreementStatus.APPROVED, AgreementStatus.REJECTED):
        raise _invalid("status", _("must be approved or rejected"))
    remark = _clean_text(remark, "remark", required=False)
    agreement = PaymentAgreement.objects.filter(pk=agreement_id).select_related("partner").first()
    if agreement is None:
        raise NotFound(_("No such third-party payment agreement."), code="agreement_not_found")
    with transaction.atomic():
        _lock(agreement.partner)
        current = sel.status_of(sel.with_status(PaymentAgreement.objects.filter(pk=agreement.pk)).get())
        if status not in ALLOWED_DECISIONS[AgreementStatus(current)]:
            raise Conflict(
                _("This agreement is %(s)s and cannot be %(t)s.")
                % {"s": AgreementStatus(current).label, "t": AgreementStatus(status).label},
                code="decision_not_allowed",
            )
        decision = PaymentAgreementDecision.objects.create(
            agreement=agreement, status=status, decided_at=clock.now(), decided_by=actor, remark=remark
        )
        audit.record(
            actor,
            "billing.agreement.decide",
            partner=agreement.partner,
            target=str(agreement.pk),
            status=status,
            remark=remark,
        )
    return decision


# --- refunds of negative bills -------------------------------------------------------------------


def refund_negative_bills(bills: list[Bill], at: dt.datetime) -> list[StatementEntry]:
    """A bill whose refunds exceed its expenditures owes nothing and its negative amount is
    returned to the partner (B5): credited to the prepaid balance as a refund entry naming the
    bill, once per bill, at the close's instant ``at``. Runs inside the close's transaction, partners
    locked in id order."""
    negative = sorted((b for b in bills if b.amount < 0), key=lambda b: (b.partner_id, b.pk))
    partners = Partner.objects.in_bulk({b.partner_id for b in negative})
    entries = []
    for bill in negative:
        partner = partners[bill.partner_id]
        _lock(partner)
        if StatementEntry.objects.filter(bill=bill).exists():
            continue
        remark = NEGATIVE_BILL % {"month": f"{bill.month:%Y-%m}"}
        entries.append(
            _entry(
                partner,
                bill.currency,
                StatementEntryKind.REFUND,
                money.CONTEXT.minus(bill.amount),
                None,
                bill=bill,
                remark=remark,
                created_at=at,  # the close's instant, not the moment a late catch-up ran
            )
        )
    return entries


# --- incentive payouts ---------------------------------------------------------------------------


def credit_incentive_payout(
    *, actor: User, partner: Partner, currency: str, amount: Decimal, number: str
) -> StatementEntry:
    """An approved incentive payout application (I7) paid into the prepaid balance: a top-up whose
    remark names the application, written once per application (its number is the key, so a
    repeat answers the first entry). The caller may already hold the partner lock."""
    _require_operator(actor)
    currency = clean_currency(currency)
    value = clean_amount(amount, currency)
    key = f"incentive-payout:{number}"
    fp = _fingerprint(op="incentive_payout", number=number, currency=currency, amount=value)
    return _credit(
        actor,
        partner,
        currency,
        value,
        key=key,
        fp=fp,
        action="billing.incentive_payout",
        remark=f"Incentive payout {number}",
        application=number,
    )
