"""The reconciliation state machine (I2, I3, I8, I9): every state change of an incentive goes
through :func:`transition`, which allows only the pairs in ``models.TRANSITIONS`` and records
who, when, from, to and why. The caller holds the transaction (the request or the job commits).

On top of it:

* :func:`confirm_period` — the partner confirms one incentive and with it every pending
  incentive of that partner and period (I3), all or nothing, under the partner row lock (the
  fixed first lock of every money write, as in billing). Confirming after the deadline still
  succeeds while the worker has not confirmed them yet; the reason records it.
* :func:`selectors.frozen_reason` — I9: while a partner bill of a month inside the period has an amount
  due, pending → issuing is refused (409 ``frozen_unpaid_bills``) and the worker skips it.
* :func:`auto_confirm_due` — the worker confirms what is pending from the deadline on.
* :func:`approve` — a platform operator's review: issuing → issued.

Idempotency-Key: the audit entry of a confirmation or approval keeps the key; the same key
again answers the first result, the same key for another incentive is 409.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from partnercenter.accounts.models import AuditEntry, User
from partnercenter.core import audit, clock
from partnercenter.core.errors import Conflict, Forbidden, ValidationFailed
from partnercenter.partners.models import Partner

from . import selectors as sel
from .models import TRANSITIONS, Incentive, State, Transition
from .selectors import frozen_reason

CONFIRM_ACTION = "incentives.confirm"
APPROVE_ACTION = "incentives.approve"
# Stored in English; pages translate them when they show the history.
CONFIRMED = gettext_noop("Confirmed by the partner")
CONFIRMED_LATE = gettext_noop("Confirmed by the partner after the deadline, before the automatic confirmation")
AUTO_CONFIRMED = gettext_noop("Confirmed automatically after the deadline")
APPROVED = gettext_noop("Approved by the platform operator")
MAX_KEY = 200


class TransitionRefused(Conflict):
    pass


def transition(
    incentive: Incentive, to_state: str, *, at: dt.datetime, actor: User | None = None, reason: str = ""
) -> Transition:
    """Move ``incentive`` from its current state to ``to_state``, or refuse (409) when that is not
    a listed transition or when another writer moved it first (one transition per from-state)."""
    current = Transition.objects.filter(incentive=incentive).order_by("-id").values_list("to_state", flat=True)
    from_state = current.first() or ""
    if TRANSITIONS.get(from_state) != to_state:
        raise TransitionRefused(
            _("Incentive %(number)s cannot go from %(from)s to %(to)s.")
            % {"number": incentive.number, "from": from_state or "-", "to": to_state},
            code="transition_not_allowed",
        )
    try:
        with transaction.atomic():
            row = Transition.objects.create(
                incentive=incentive,
                from_state=from_state,
                to_state=to_state,
                at=at,
                actor=actor if actor is not None and actor.pk else None,
                reason=reason,
            )
    except IntegrityError as exc:
        raise TransitionRefused(
            _("Incentive %(number)s was changed by someone else; reload and try again.") % {"number": incentive.number},
            code="transition_raced",
        ) from exc
    changes: dict[str, object] = {"state": to_state}
    if to_state == "issued":
        changes["issued_at"] = at
    Incentive.objects.filter(pk=incentive.pk).update(**changes)
    for name, value in changes.items():
        setattr(incentive, name, value)
    return row


# --- freezing (I9) -------------------------------------------------------------------------------


# --- confirming (I3) -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Confirmed:
    """The incentives one confirmation moved to Issuing (``repeated``: an Idempotency-Key answered
    an earlier confirmation again)."""

    period_start: dt.date
    incentives: list[Incentive]
    repeated: bool = False


def _clean_key(key: str | None) -> str:
    key = (key or "").strip()
    if len(key) > MAX_KEY:
        raise ValidationFailed(
            _("Idempotency-Key: at most %(n)d characters.") % {"n": MAX_KEY},
            details=[{"where": "Idempotency-Key", "why": "too long"}],
        )
    return key


def _lock(partner_id: int) -> Partner:
    # The fixed first lock of every write of a partner's money (billing.payment_services._lock).
    return Partner.objects.select_for_update().get(pk=partner_id)


def _earlier(action: str, partner_id: int, key: str, number: str) -> AuditEntry | None:
    if not key:
        return None
    entry = AuditEntry.objects.filter(action=action, partner_id=partner_id, detail__idempotency_key=key).first()
    if entry is not None and entry.target != number:
        raise Conflict(
            _("This Idempotency-Key was already used with a different request."), code="idempotency_key_reused"
        )
    return entry


def _not_pending(inc: Incentive) -> TransitionRefused:
    return TransitionRefused(
        _("Incentive %(number)s is %(state)s, not pending confirmation; nothing was confirmed.")
        % {"number": inc.number, "state": State(inc.state).label},
        code="not_pending",
    )


def confirm_period(*, actor: User, number: str, idempotency_key: str = "") -> Confirmed:
    """The partner confirms incentive ``number``: every pending incentive of its partner and
    period goes to Issuing together (I3). 404 out of scope; 403 ``confirm_forbidden`` for
    anyone but the incentive's own partner's users; 409 ``not_pending`` or
    ``frozen_unpaid_bills`` (I9), nothing changed."""
    key = _clean_key(idempotency_key)
    target = sel.get_incentive(actor, number)
    if not sel.may_confirm(actor, target):
        raise Forbidden(_("Only the incentive's own partner may confirm it."), code="confirm_forbidden")
    at = clock.now()
    with transaction.atomic():
        partner = _lock(target.partner_id)
        earlier = _earlier(CONFIRM_ACTION, partner.pk, key, number)
        if earlier is not None:
            done = Incentive.objects.filter(number__in=earlier.detail.get("numbers", [])).order_by("number")
            return Confirmed(target.period_start, list(done), repeated=True)
        target.refresh_from_db(fields=["state"])
        if target.state != State.PENDING:
            raise _not_pending(target)
        frozen = frozen_reason(partner, target.period_start, target.period_end)
        if frozen:
            raise Conflict(frozen, code="frozen_unpaid_bills")
        group = sel.pending_of_period(target)
        reason = CONFIRMED if at < target.deadline else CONFIRMED_LATE
        for inc in group:
            transition(inc, State.ISSUING, at=at, actor=actor, reason=reason)
        audit.record(
            actor,
            CONFIRM_ACTION,
            partner=partner,
            target=number,
            idempotency_key=key,
            period=f"{target.period_start:%Y-%m-%d}",
            numbers=[inc.number for inc in group],
        )
    return Confirmed(target.period_start, group)


def _auto_confirm(partner_id: int, period_start: dt.date, at: dt.datetime) -> int:
    with transaction.atomic():
        partner = _lock(partner_id)
        group = list(Incentive.objects.filter(partner_id=partner_id, period_start=period_start, state=State.PENDING))
        if not group or min(inc.deadline for inc in group) > at:
            return 0
        if frozen_reason(partner, period_start, group[0].period_end):
            return 0
        for inc in sorted(group, key=lambda i: i.number):
            transition(inc, State.ISSUING, at=at, actor=None, reason=AUTO_CONFIRMED)
        return len(group)


def auto_confirm_due(at: dt.datetime) -> int:
    """The worker: from the deadline on, every pending incentive is confirmed, per partner and
    period together, unless the period is frozen (I9; the next run after payment confirms it).
    Running it again changes nothing. Returns how many incentives it confirmed."""
    due = Incentive.objects.filter(state=State.PENDING, deadline__lte=at).values_list("partner_id", "period_start")
    return sum(_auto_confirm(partner_id, start, at) for partner_id, start in sorted(set(due)))


# --- the operator's review -----------------------------------------------------------------------


def approve(*, actor: User, number: str, idempotency_key: str = "") -> Incentive:
    """A platform operator approves an incentive in Issuing: it is Issued, valid from now (I8).
    403 ``approve_forbidden`` for anyone else; 409 ``not_issuing`` otherwise."""
    key = _clean_key(idempotency_key)
    inc = sel.get_incentive(actor, number)
    if not sel.may_approve(actor):
        raise Forbidden(_("Only a platform operator may approve incentives."), code="approve_forbidden")
    with transaction.atomic():
        partner = _lock(inc.partner_id)
        if _earlier(APPROVE_ACTION, partner.pk, key, number) is not None:
            inc.refresh_from_db()
            return inc
        inc.refresh_from_db()
        if inc.state != State.ISSUING:
            raise TransitionRefused(
                _("Incentive %(number)s is %(state)s, not issuing; nothing was approved.")
                % {"number": inc.number, "state": State(inc.state).label},
                code="not_issuing",
            )
        transition(inc, State.ISSUED, at=clock.now(), actor=actor, reason=APPROVED)
        audit.record(actor, APPROVE_ACTION, partner=partner, target=number, idempotency_key=key)
    return inc
