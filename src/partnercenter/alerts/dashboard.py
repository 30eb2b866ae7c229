"""The dashboard's customer alerts panel: the open alerts in the user's scope and the latest three,
linking to the Customer Alerts page (whose Open tab shows the same count)."""

from __future__ import annotations

from typing import Any

from partnercenter.accounts.models import User
from partnercenter.core import clock, menus
from partnercenter.core.dashboard import Panel, register
from partnercenter.core.masking import mask_name

from . import presenters
from . import selectors as sel


def panel_context(user: User) -> dict[str, Any] | None:
    latest = sel.latest_open(user)
    return {
        "billing_time_zone": clock.billing_tz(),
        "open_count": sel.open_count(user),
        "latest": [
            {"alert": a, "customer_name": mask_name(a.customer.name), "summary": presenters.summary(a)} for a in latest
        ],
    }


PANEL = register(
    Panel(code="alerts", menu=menus.CUSTOMER_ALERTS, template="alerts/_dashboard.html", order=40, context=panel_context)
)
