"""Writes of customer bills, confirmations and customers' credit (C1, C5–C7, E8).

Rules (docs/architecture.md, "Customer bills: credit and confirmation"):

* **Generation.** The customer bills of month M are generated once, when M is due (00:00 of the
  5th of M+1, the partner bill's instant, ``billing.services.due_at``) and after the partner bills
  closed M: one bill per (partner, customer, currency) over M's reseller line items that are not
  corrections, up to the ledger watermark, under the ingestion lock. :func:`catch_up` (run by
  ``partnercenter tick`` and the worker after the partner bills) generates every due month not
  generated yet (``GeneratedMonth``); running it again changes nothing. A bill with a positive
  total writes a consumption entry of that total on the customer's credit, once per bill.
* **Validate first.** Amounts, currencies, bills and keys are checked before anything is written;
  a refusal names the field and changes nothing.
* **One writer per credit account.** Every write that reads a customer's credit figures first
  locks the Customer row (``SELECT … FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE`` serialises all
  writers anyway), several customers in id order. Two partial confirmations of one bill therefore
  see each other: their sum never exceeds the bill.
* **Idempotent.** A confirmation, batch, grant or reclaim carrying a key already used for the
  partner answers the first result when the request is the same, and 409 when it differs.
* **Who may confirm (C6)**: the bill's partner's own users (``selectors.bill_to_confirm``).
* **Credit alerts** when available credit falls to or below a threshold percentage of the limit
  (``settings.CREDIT_ALERT_THRESHOLDS``, default 25, 10, 0), once per crossing.
* Every write is audited.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from partnercenter import scoping
from partnercenter.accounts.models import User
from partnercenter.billing import services as billing
from partnercenter.billing.payment_services import (
    _clean_text,
    _fingerprint,
    _invalid,
    clean_amount,
    clean_currency,
    shown,
)
from partnercenter.core import audit, clock, money
from partnercenter.core.errors import Conflict, Forbidden, ValidationFailed
from partnercenter.core.money import ZERO
from partnercenter.partners.models import Customer, Partner
from partnercenter.usage import selectors as usage

from . import selectors as sel
from .models import Confirmation, CreditAlert, CreditEntry, CreditKind, CustomerBill, GeneratedMonth

DEFAULT_ALERT_THRESHOLDS = (25, 10, 0)
MAX_BATCH = 500
Key = tuple[int, int, str]


def alert_thresholds() -> tuple[int, ...]:
    return tuple(sorted(getattr(settings, "CREDIT_ALERT_THRESHOLDS", DEFAULT_ALERT_THRESHOLDS), reverse=True))


def _lock_customers(ids: Iterable[int]) -> None:
    # The fixed first lock of every credit write (module docstring); in id order against deadlocks.
    list(Customer.objects.select_for_update().filter(pk__in=sorted(set(ids))).order_by("pk").values_list("pk"))


# --- the ledger ----------------------------------------------------------------------------------


def _alerts(entry: CreditEntry, before: sel.CreditFigures) -> list[CreditAlert]:
    """The thresholds this entry crossed downward: available above t % of the limit before,
    at or below it after (no alert without a positive limit)."""
    if entry.limit_after <= 0:
        return []
    out = []
    for t in alert_thresholds():
        above_before = before.limit > 0 and before.available * 100 > before.limit * t
        if above_before and entry.available_after * 100 <= entry.limit_after * t:
            out.append(
                CreditAlert(
                    partner_id=entry.partner_id,
                    customer_id=entry.customer_id,
                    currency=entry.currency,
                    threshold_percent=t,
                    available=entry.available_after,
                    limit=entry.limit_after,
                    entry=entry,
                    raised_at=entry.created_at,
                )
            )
    return out


def _draft_entry(
    key: Key,
    before: sel.CreditFigures,
    kind: CreditKind,
    amount: Decimal,
    actor: User | None,
    at: dt.datetime | None = None,
    **extra: Any,
) -> CreditEntry:
    which, sign = sel.SIGNS[kind]
    limit = before.limit + (sign * amount if which == "limit" else ZERO)
    used = before.used + (sign * amount if which == "used" else ZERO)
    return CreditEntry(
        partner_id=key[0],
        customer_id=key[1],
        currency=key[2],
        kind=kind,
        amount=amount,
        limit_after=limit,
        used_after=used,
        available_before=before.available,
        available_after=limit - used,
        created_at=at or clock.now(),
        created_by=actor if actor is not None and actor.pk else None,
        **extra,
    )


def _write_entry(
    key: Key, kind: CreditKind, amount: Decimal, actor: User | None, **extra: Any
) -> tuple[CreditEntry, list[CreditAlert]]:
    """Appends one entry to a locked account, with the alerts it raises."""
    before = sel.credit_account(*key)
    entry = _draft_entry(key, before, kind, amount, actor, **extra)
    entry.save()
    alerts = CreditAlert.objects.bulk_create(_alerts(entry, before))
    return entry, alerts


# --- generation ----------------------------------------------------------------------------------


def _consumption(bills: Sequence[CustomerBill], at: dt.datetime) -> tuple[int, int]:
    """Consumption entries of the bills with a positive total (customers locked by the caller);
    returns how many entries and alerts were written."""
    positive = [b for b in bills if b.total > 0]
    keys: list[Key] = [(b.partner_id, b.customer_id, b.currency) for b in positive]
    figures = sel.account_figures(list(dict.fromkeys(keys)))
    entries, befores = [], []
    for bill, key in zip(positive, keys, strict=True):
        before = figures[key]
        entry = _draft_entry(key, before, CreditKind.CONSUMPTION, bill.total, None, at, bill=bill)
        figures[key] = sel.CreditFigures(entry.limit_after, entry.used_after)
        entries.append(entry)
        befores.append(before)
    written = CreditEntry.objects.bulk_create(entries)
    alerts = [a for e, b in zip(written, befores, strict=True) for a in _alerts(e, b)]
    CreditAlert.objects.bulk_create(alerts)
    return len(written), len(alerts)


def generate_customer_bills(month: dt.date, *, at: dt.datetime | None = None) -> list[CustomerBill]:
    """The customer bills of ``month`` for the partners whose partner bill closed it, once: one
    GROUP BY over the month's reseller line items (not corrections) up to the ledger watermark.
    Returns the bills written now (none when the month was generated already)."""
    at = at or clock.now()
    month = billing.month_start(month)
    if at < billing.due_at(month):
        raise ValueError(f"the customer bills of {month:%Y-%m} are due from {billing.due_at(month).isoformat()}")
    with transaction.atomic():
        usage.hold_ledger_still()
        if GeneratedMonth.objects.select_for_update().filter(month=month).exists():
            return []
        through = usage.ledger_watermark()
        closed = usage.partners_with_month_closed(month)
        rows = [r for r in usage.customer_month_totals(month, through) if r["partner_id"] in closed]
        _lock_customers(r["customer_id"] for r in rows)
        bills = CustomerBill.objects.bulk_create(
            [
                CustomerBill(
                    partner_id=r["partner_id"],
                    customer_id=r["customer_id"],
                    month=month,
                    currency=r["billing_currency"],
                    total=r["amount"],
                    line_item_count=r["count"],
                    generated_at=at,
                    through_line_item_id=through,
                )
                for r in rows
            ]
        )
        entries, alerts = _consumption(bills, at)
        GeneratedMonth.objects.create(month=month, generated_at=at, through_line_item_id=through, bills=len(bills))
        audit.record(
            None,
            "customer_bills.generate",
            target=f"{month:%Y-%m}",
            bills=len(bills),
            consumption_entries=entries,
            alerts=alerts,
            through_line_item_id=through,
        )
    return bills


@dataclass(frozen=True)
class CatchUp:
    months: list[dt.date]
    bills: int


def months_to_generate(at: dt.datetime) -> list[dt.date]:
    """Due months that partner bills closed and whose customer bills are not generated yet."""
    last = billing.last_due_month(at)
    first = usage.earliest_closed_month()
    if first is None:
        return []
    closed = set(usage.closed_month_counts(first))
    done = set(GeneratedMonth.objects.filter(month__gte=first).values_list("month", flat=True))
    return sorted(m for m in closed - done if m <= last)


def catch_up(at: dt.datetime | None = None) -> CatchUp:
    """Generate the customer bills of every due month not generated yet, oldest first. Idempotent."""
    at = at or clock.now()
    months = months_to_generate(at)
    bills = sum(len(generate_customer_bills(m, at=at)) for m in months)
    return CatchUp(months, bills)


# --- idempotency ---------------------------------------------------------------------------------


def _reused() -> Conflict:
    return Conflict(_("This Idempotency-Key was already used with a different request."), code="idempotency_key_reused")


def _repeat_confirmations(partner_id: int, key: str, fingerprint: str) -> list[Confirmation] | None:
    if not key:
        return None
    earlier = list(Confirmation.objects.filter(partner_id=partner_id, idempotency_key=key).order_by("pk"))
    if not earlier:
        return None
    if any(c.request_fingerprint != fingerprint for c in earlier):
        raise _reused()
    return earlier


def _key(value: str) -> str:
    return _clean_text(value, "idempotency_key", required=False)


# --- confirmation (C5, C6) -----------------------------------------------------------------------


def _figures_text(bill: CustomerBill, left: Decimal) -> dict[str, str]:
    return {"remaining": shown(left, bill.currency), "currency": bill.currency, "bill": f"{bill.month:%Y-%m}"}


def _check_confirmable(bill: CustomerBill, value: Decimal | None) -> Decimal:
    left = sel.remaining(bill)
    figures = _figures_text(bill, left)
    if left <= 0:
        raise ValidationFailed(
            _("Nothing remains to be confirmed on this bill; nothing was confirmed."),
            code="nothing_to_confirm",
            details=[{"where": "bill", "why": _("fully confirmed")}],
        )
    if value is not None and value > left:
        raise _invalid(
            "amount",
            _("is more than the amount to be confirmed (%(remaining)s %(currency)s)") % figures,
            _("The amount is more than the amount to be confirmed (%(remaining)s %(currency)s); nothing was confirmed.")
            % figures,
            code="more_than_remaining",
        )
    return left if value is None else value


def _record(
    actor: User, bill: CustomerBill, amount: Decimal, *, full: bool, batch: str, key: str, fp: str
) -> Confirmation:
    conf = Confirmation.objects.create(
        bill=bill,
        partner_id=bill.partner_id,
        amount=amount,
        is_full=full,
        batch=batch,
        confirmed_at=clock.now(),
        confirmed_by=actor,
        idempotency_key=key,
        request_fingerprint=fp,
    )
    _write_entry(
        (bill.partner_id, bill.customer_id, bill.currency), CreditKind.CONFIRMATION, amount, actor, bill=bill,
        confirmation=conf,
    )  # fmt: skip
    return conf


def _actor_partner(actor: User) -> int:
    if not sel.may_act(actor):
        raise Forbidden(_("Only the bill's partner confirms it."), code="confirm_forbidden")
    assert actor.partner_id is not None
    return actor.partner_id


def confirm(*, actor: User, bill_id: Any, amount: Any = None, idempotency_key: str = "") -> Confirmation:
    """Confirm ``amount`` of a customer bill (``None``: all that remains) and return it to the
    customer's available credit in the same transaction."""
    partner_id = _actor_partner(actor)
    bill = sel.bill_to_confirm(actor, _bill_id(bill_id))
    value = None if amount in (None, "") else clean_amount(amount, bill.currency)
    key = _key(idempotency_key)
    fp = _fingerprint(op="confirm", bill=bill.pk, amount=value)
    with transaction.atomic():
        _lock_customers([bill.customer_id])
        earlier = _repeat_confirmations(partner_id, key, fp)
        if earlier is not None:
            return earlier[0]
        left = sel.remaining(bill)
        confirmed = _check_confirmable(bill, value)
        conf = _record(actor, bill, confirmed, full=confirmed == left, batch="", key=key, fp=fp)
        audit.record(
            actor,
            "customer_bills.confirm",
            partner=bill.partner,
            target=str(bill.pk),
            customer=bill.customer.account_id,
            month=f"{bill.month:%Y-%m}",
            currency=bill.currency,
            amount=money.to_str(confirmed),
            remaining=money.to_str(left - confirmed),
        )
    return conf


def _bill_id(value: Any) -> int:
    try:
        pk = int(value)
    except (TypeError, ValueError):
        raise _invalid("bill", _("must be the id of a bill")) from None
    if not 1 <= pk < 2**63:
        raise _invalid("bill", _("must be the id of a bill"))
    return pk


def _batch_bills(actor: User, bill_ids: Any) -> list[CustomerBill]:
    try:
        ids = sorted({_bill_id(b) for b in bill_ids})
    except TypeError:
        raise _invalid("bill_ids", _("must be a list of bill ids")) from None
    if not ids:
        raise _invalid("bill_ids", _("choose at least one bill"), _("Choose at least one bill to confirm."))
    if len(ids) > MAX_BATCH:
        raise _invalid("bill_ids", _("at most %(n)d bills at a time") % {"n": MAX_BATCH})
    return [sel.bill_to_confirm(actor, pk) for pk in ids]


def batch_confirm(*, actor: User, bill_ids: Any, idempotency_key: str = "") -> list[Confirmation]:
    """Confirm each chosen bill in full (what remains of it), all or nothing: a bill with nothing
    left refuses the whole batch."""
    partner_id = _actor_partner(actor)
    bills = _batch_bills(actor, bill_ids)
    key = _key(idempotency_key)
    fp = _fingerprint(op="batch", bills=[b.pk for b in bills])
    with transaction.atomic():
        _lock_customers(b.customer_id for b in bills)
        earlier = _repeat_confirmations(partner_id, key, fp)
        if earlier is not None:
            return earlier
        amounts = []
        for bill in bills:
            try:
                amounts.append(_check_confirmable(bill, None))
            except ValidationFailed as e:
                e.message = _("The bill of %(c)s for %(m)s %(cur)s has nothing left to confirm; nothing was confirmed.") % {
                    "c": bill.customer.account_id, "m": f"{bill.month:%Y-%m}", "cur": bill.currency}  # fmt: skip
                raise
        batch = uuid.uuid4().hex
        confs = [
            _record(actor, b, a, full=True, batch=batch, key=key, fp=fp) for b, a in zip(bills, amounts, strict=True)
        ]
        audit.record(
            actor,
            "customer_bills.batch_confirm",
            partner=bills[0].partner,
            target=batch,
            bills=[b.pk for b in bills],
            amounts=[money.to_str(a) for a in amounts],
        )
    return confs


# --- credit grants and reclaims (C7, E8) ---------------------------------------------------------


def _credit_customer(actor: User, partner: Partner, customer: Customer) -> None:
    if not (actor.is_partner_admin and actor.partner_id == partner.pk):
        raise Forbidden(_("Only the partner's admin grants or reclaims credit."), code="credit_forbidden")
    reseller = scoping.associations_for(actor, scoping.Purpose.ACT).filter(
        customer=customer, partner=partner, association_type="reseller"
    )
    if not reseller.exists():
        raise _invalid(
            "customer",
            _("is not a reseller customer of this partner"),
            _("Credit is granted only to the partner's reseller customers; nothing was changed."),
            code="not_reseller_customer",
        )


def _adjust(
    kind: CreditKind,
    actor: User,
    partner: Partner,
    customer: Customer,
    currency: Any,
    amount: Any,
    remark: str,
    idempotency_key: str,
) -> CreditEntry:
    _credit_customer(actor, partner, customer)
    currency = clean_currency(currency)
    value = clean_amount(amount, currency)
    remark = _clean_text(remark, "remark", required=False)
    key = _key(idempotency_key)
    fp = _fingerprint(op=str(kind), customer=customer.pk, currency=currency, amount=value, remark=remark)
    account: Key = (partner.pk, customer.pk, currency)
    with transaction.atomic():
        _lock_customers([customer.pk])
        earlier = CreditEntry.objects.filter(partner=partner, idempotency_key=key).first() if key else None
        if earlier is not None:
            if earlier.request_fingerprint != fp:
                raise _reused()
            return earlier
        available = sel.credit_account(*account).available
        if kind == CreditKind.RECLAIM and value > available:
            figures = {"available": shown(available, currency), "currency": currency}
            raise _invalid(
                "amount",
                _("is more than the available credit (%(available)s %(currency)s)") % figures,
                _("The amount is more than the available credit (%(available)s %(currency)s); nothing was reclaimed.")
                % figures,
                code="more_than_available",
            )
        entry, alerts = _write_entry(
            account, kind, value, actor, remark=remark, idempotency_key=key, request_fingerprint=fp
        )
        audit.record(
            actor,
            f"customer_bills.credit_{kind}",
            partner=partner,
            target=str(entry.pk),
            customer=customer.account_id,
            currency=currency,
            amount=money.to_str(value),
            available_after=money.to_str(entry.available_after),
            alerts=[a.threshold_percent for a in alerts],
            remark=remark,
        )
    return entry


def grant_credit(
    *,
    actor: User,
    partner: Partner,
    customer: Customer,
    currency: Any,
    amount: Any,
    remark: str = "",
    idempotency_key: str = "",
) -> CreditEntry:
    """The partner's admin raises the customer's credit limit."""
    return _adjust(CreditKind.GRANT, actor, partner, customer, currency, amount, remark, idempotency_key)


def reclaim_credit(
    *,
    actor: User,
    partner: Partner,
    customer: Customer,
    currency: Any,
    amount: Any,
    remark: str = "",
    idempotency_key: str = "",
) -> CreditEntry:
    """The partner's admin lowers the customer's credit limit, by at most the available credit."""
    return _adjust(CreditKind.RECLAIM, actor, partner, customer, currency, amount, remark, idempotency_key)
