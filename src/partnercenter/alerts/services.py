"""Writes of the alerts app: raising customer alerts from the rules (the worker's catch-up) and
handling them.

Rules (O3), each evaluated at the instant ``at`` of the catch-up:

* ``credit_25`` / ``credit_10`` / ``credit_0``: one alert per customer_bills ``CreditAlert`` row
  (available credit fell to or below 25 %, 10 % or 0 % of the limit with a credit entry) raised at
  or before ``at``. Condition key ``credit:<credit alert id>``.
* ``spend_spike``: a customer's expenditure of one complete day (billing time zone; the day is
  complete at 00:00:00 of the next) is above :data:`SPIKE_FLOOR` in the currency and more than
  :data:`SPIKE_FACTOR` × the average of its previous :data:`SPIKE_WINDOW_DAYS` days (days without
  expenditure count as zero). The comparison is exact: ``day × 14 > 3 × Σ previous``. Days up to
  :data:`SPIKE_LOOKBACK_DAYS` back are evaluated, so a catch-up missed for a few days is made good.
  Condition key ``spike:<partner>:<customer>:<currency>:<day>``.
* ``unpaid_bill``: a customer bill whose amount still to be confirmed is above zero more than
  :data:`UNPAID_DAYS` days after its generation (``at > generated_at + 15 days``). Bills generated
  up to :data:`UNPAID_LOOKBACK_DAYS` before that are evaluated (the amount to be confirmed only
  decreases, so a bill paid by its 15th day never needs a look later). Condition key
  ``unpaid:<bill id>``.

Raising is idempotent: the condition key is unique and the rows are inserted with conflicts
ignored; on PostgreSQL catch-ups take turns (an advisory lock), so each counts only what it raised.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils.translation import gettext as _

from partnercenter.accounts.models import User
from partnercenter.core import audit, clock
from partnercenter.core.errors import Conflict, Forbidden, ValidationFailed
from partnercenter.core.money import CONTEXT, canonical, round_minor
from partnercenter.customer_bills import selectors as bill_selectors
from partnercenter.usage import selectors as usage_selectors

from . import selectors as sel
from .models import AlertRule, CustomerAlert

CREDIT_RULES = {25: AlertRule.CREDIT_25, 10: AlertRule.CREDIT_10, 0: AlertRule.CREDIT_0}
SPIKE_FACTOR = Decimal(3)
SPIKE_FLOOR = Decimal(100)
SPIKE_WINDOW_DAYS = 14
SPIKE_LOOKBACK_DAYS = 7
UNPAID_DAYS = 15
UNPAID_LOOKBACK_DAYS = 62
NOTE_MAX = 500
_RAISE_LOCK = 0x5043414C  # "PCAL": PostgreSQL advisory lock of the catch-up


# --- raising -------------------------------------------------------------------------------------


def _credit_alerts(at: dt.datetime) -> list[CustomerAlert]:
    done = CustomerAlert.objects.filter(rule__in=list(CREDIT_RULES.values()), source_id__isnull=False)
    out = []
    for c in bill_selectors.credit_alerts_raised(at, done.values("source_id")):
        rule = CREDIT_RULES.get(c.threshold_percent)
        if rule is None:
            continue  # a threshold configured beyond the three rules has no customer alert
        figures = {
            "threshold_percent": str(c.threshold_percent),
            "available": canonical(c.available),
            "limit": canonical(c.limit),
        }
        out.append(_alert(c.partner_id, c.customer_id, rule, c.currency, figures, f"credit:{c.pk}", c.pk, c.raised_at))
    return out


def _spend_spikes(at: dt.datetime) -> list[CustomerAlert]:
    last = clock.billing_date(at) - dt.timedelta(days=1)  # the latest complete day
    first = last - dt.timedelta(days=SPIKE_LOOKBACK_DAYS - 1)
    rows = usage_selectors.daily_expenditure(first - dt.timedelta(days=SPIKE_WINDOW_DAYS), last)
    days: dict[tuple[int, int, str], dict[dt.date, Decimal]] = defaultdict(dict)
    for r in rows:
        days[(r["partner_id"], r["customer_id"], r["currency"])][r["day"]] = r["total"]
    out = []
    for (partner_id, customer_id, currency), totals in days.items():
        for day, spend in totals.items():
            if day < first:
                continue
            previous = sum(
                (totals.get(day - dt.timedelta(days=n), Decimal(0)) for n in range(1, SPIKE_WINDOW_DAYS + 1)),
                Decimal(0),
            )
            if not is_spike(spend, previous):
                continue
            key = f"spike:{partner_id}:{customer_id}:{currency}:{day.isoformat()}"
            figures = _spike_figures(day, spend, previous, currency)
            out.append(_alert(partner_id, customer_id, AlertRule.SPEND_SPIKE, currency, figures, key, None, at))
    return out


def is_spike(spend: Decimal, previous_total: Decimal) -> bool:
    """The day's spend is at least the floor and above 3 × the previous 14 days' average (exact)."""
    return spend >= SPIKE_FLOOR and spend * SPIKE_WINDOW_DAYS > SPIKE_FACTOR * previous_total


def _spike_figures(day: dt.date, spend: Decimal, previous: Decimal, currency: str) -> dict[str, str]:
    average = CONTEXT.divide(previous, Decimal(SPIKE_WINDOW_DAYS))
    return {
        "day": day.isoformat(),
        "spend": canonical(spend),
        "previous_total": canonical(previous),
        "previous_average": canonical(round_minor(average, currency)),
        "factor": canonical(SPIKE_FACTOR),
        "floor": canonical(SPIKE_FLOOR),
    }


def _unpaid_bills(at: dt.datetime) -> list[CustomerAlert]:
    before = at - dt.timedelta(days=UNPAID_DAYS)
    done = CustomerAlert.objects.filter(rule=AlertRule.UNPAID_BILL, source_id__isnull=False)
    rows = bill_selectors.unpaid_bills(
        before - dt.timedelta(days=UNPAID_LOOKBACK_DAYS), before, done.values("source_id")
    )
    out = []
    for r in rows:
        b = r.bill
        figures = {
            "month": f"{b.month:%Y-%m}",
            "total": canonical(b.total),
            "confirmed": canonical(r.confirmed),
            "remaining": canonical(r.remaining),
            "generated_at": b.generated_at.isoformat(),
            "days": str(UNPAID_DAYS),
        }
        rule = AlertRule.UNPAID_BILL
        out.append(_alert(b.partner_id, b.customer_id, rule, b.currency, figures, f"unpaid:{b.pk}", b.pk, at))
    return out


def _alert(
    partner_id: int,
    customer_id: int,
    rule: str,
    currency: str,
    figures: dict[str, Any],
    key: str,
    source_id: int | None,
    raised_at: dt.datetime,
) -> CustomerAlert:
    return CustomerAlert(
        partner_id=partner_id,
        customer_id=customer_id,
        rule=rule,
        currency=currency,
        figures={"currency": currency, **figures},
        condition_key=key,
        source_id=source_id,
        raised_at=raised_at,
    )


def raise_due(at: dt.datetime | None = None) -> int:
    """Raise every alert due at ``at`` (now by default) not raised before; answers how many were
    raised. Run by ``partnercenter tick`` (the worker's catch-up) every minute."""
    at = at or clock.now()
    drafts = _credit_alerts(at) + _spend_spikes(at) + _unpaid_bills(at)
    if not drafts:
        return 0
    keys = [d.condition_key for d in drafts]
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Catch-ups one after another, so each answers what it raised itself; SQLite's
            # BEGIN IMMEDIATE already serialises writers.
            with connection.cursor() as c:
                c.execute("SELECT pg_advisory_xact_lock(%s)", [_RAISE_LOCK])
        existing = set(CustomerAlert.objects.filter(condition_key__in=keys).values_list("condition_key", flat=True))
        fresh = [d for d in drafts if d.condition_key not in existing]
        # The unique key stays the last word should anything else insert the same condition.
        CustomerAlert.objects.bulk_create(fresh, ignore_conflicts=True)
    return len(fresh)


# --- handling ------------------------------------------------------------------------------------


def _note(value: Any) -> str:
    note = value.strip() if isinstance(value, str) else ""
    if not note:
        raise ValidationFailed(_("Note: required; say how the alert was handled."), code="note_required")
    if len(note) > NOTE_MAX:
        raise ValidationFailed(
            _("Note: at most %(max)d characters (%(n)d given).") % {"max": NOTE_MAX, "n": len(note)},
            code="note_too_long",
        )
    return note


def handle(*, actor: User, alert_id: Any, note: Any, idempotency_key: str = "") -> CustomerAlert:
    """Mark an open alert handled with a note (1 to 500 characters), once. Refused: an alert out of
    the actor's scope (404), one the actor views but may not handle — a platform operator, a
    distributor's second-level reseller's alert — (403), an alert already handled (409
    ``already_handled``; the same ``idempotency_key`` with the same note answers the handled alert
    again)."""
    text = _note(note)
    key = (idempotency_key or "").strip()[:200]
    with transaction.atomic():
        alert = sel.get_alert(actor, alert_id)
        alert = CustomerAlert.objects.select_for_update().get(pk=alert.pk)
        if not sel.may_handle(actor, alert):
            raise Forbidden(
                _("Only the alert's own partner handles it: you may view this alert but not handle it."),
                code="handle_forbidden",
            )
        if alert.handled_at is not None:
            if key and alert.idempotency_key == key and alert.note == text:
                return alert
            raise Conflict(
                _("Alert %(id)d was already handled on %(at)s (billing time zone).")
                % {"id": alert.pk, "at": f"{alert.handled_at.astimezone(clock.billing_tz()):%Y-%m-%d %H:%M}"},
                code="already_handled",
            )
        alert.handled_at = clock.now()
        alert.handled_by = actor
        alert.note = text
        alert.idempotency_key = key
        alert.save(update_fields=["handled_at", "handled_by", "note", "idempotency_key"])
        audit.record(actor, "alert.handle", partner=alert.partner, target=alert.condition_key, note=text)
    return alert
