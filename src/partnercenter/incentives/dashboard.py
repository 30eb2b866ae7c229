"""The dashboard's incentives panel: the incentives awaiting the partner's confirmation, the
earliest deadline first (after it they are confirmed automatically, I3), linking to the Summary
filtered on that state."""

from __future__ import annotations

from typing import Any

from django.utils.translation import ngettext

from partnercenter.accounts.models import User
from partnercenter.core import dashboard, menus

from . import selectors
from .models import State

SHOWN = 3


def context(user: User) -> dict[str, Any] | None:
    if user.partner_id is None:
        return None  # an operator has no partner figures of their own
    pending = selectors.incentives_for(user).filter(state=State.PENDING).order_by("deadline", "number")
    count = pending.count()
    return {
        # The Summary's own words for its count, so the two read the same.
        "count_text": ngettext("%(n)d incentive", "%(n)d incentives", count) % {"n": count},
        "first": list(pending[:SHOWN]),
        "state": State.PENDING,
    }


dashboard.register(
    dashboard.Panel(
        code="incentives",
        menu=menus.INCENTIVE_MANAGEMENT,
        template="core/panels/incentives.html",
        order=30,
        context=context,
    )
)
