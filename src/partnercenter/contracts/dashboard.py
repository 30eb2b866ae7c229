"""The dashboard's payment contracts panel: the requests still open (requested or processing) —
a partner's own, or every partner's awaiting a platform operator — linking to Payment Contracts."""

from __future__ import annotations

from typing import Any

from partnercenter.accounts.models import User
from partnercenter.core import dashboard, menus

from . import selectors

SHOWN = 3


def context(user: User) -> dict[str, Any] | None:
    open_ = selectors.open_contracts(user)
    return {"count": open_.count(), "first": list(open_[:SHOWN]), "is_operator": user.is_platform_operator}


dashboard.register(
    dashboard.Panel(
        code="contracts",
        menu=menus.PAYMENT_CONTRACTS,
        template="core/panels/contracts.html",
        order=60,
        context=context,
    )
)
