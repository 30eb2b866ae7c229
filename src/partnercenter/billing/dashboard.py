"""The dashboard's amount-due panel: the unpaid amounts of the current and previous partner bills
per currency (:func:`.payment_selectors.amount_due`, as Unpaid Bills totals them), linking there."""

from __future__ import annotations

from typing import Any

from partnercenter.accounts.models import User
from partnercenter.core import dashboard, menus
from partnercenter.core.errors import Forbidden, ValidationFailed

from . import payment_selectors
from .templatetags.payment_tags import money


def context(user: User) -> dict[str, Any] | None:
    try:
        partner = payment_selectors.partner_for(user)
    except (Forbidden, ValidationFailed):
        return None  # account managers see no partner bills; an operator has no partner of their own
    due = payment_selectors.amount_due(partner)
    return {"figures": [(cur, money(amount, cur)) for cur, amount in sorted(due.items()) if amount]}


dashboard.register(
    dashboard.Panel(
        code="amount_due",
        menu=menus.PARTNER_BILLS,
        template="core/panels/amount_due.html",
        order=20,
        context=context,
    )
)
