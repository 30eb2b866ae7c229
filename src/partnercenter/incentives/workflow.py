"""The reconciliation state machine (I2, I3, I8, I9): every state change of an incentive goes
through :func:`transition`, which allows only the pairs in ``models.TRANSITIONS`` and records
who, when, from, to and why. The caller holds the transaction (the request or the job commits).
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from partnercenter.accounts.models import User
from partnercenter.core.errors import Conflict

from .models import TRANSITIONS, Incentive, Transition


class TransitionRefused(Conflict):
    pass


def transition(
    incentive: Incentive, to_state: str, *, at: dt.datetime, actor: User | None = None, reason: str = ""
) -> Transition:
    """Move ``incentive`` from its current state to ``to_state``, or refuse (409) when that is not
    a listed transition or when another writer moved it first (one transition per from-state)."""
    current = Transition.objects.filter(incentive=incentive).order_by("-at", "-id").values_list("to_state", flat=True)
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
