"""The dashboard's exports panel: the user's export tasks still queued or running (the same tasks
Export History lists), linking there."""

from __future__ import annotations

from typing import Any

from partnercenter.accounts.models import User
from partnercenter.core import dashboard, menus

from . import selectors
from .models import ACTIVE_STATUSES

SHOWN = 3


def context(user: User) -> dict[str, Any] | None:
    active = selectors.visible_tasks(user).filter(status__in=ACTIVE_STATUSES).order_by("-created_at", "-id")
    return {"count": active.count(), "first": list(active[:SHOWN])}


dashboard.register(
    dashboard.Panel(
        code="exports",
        menu=menus.EXPORTS,
        template="core/panels/exports.html",
        order=50,
        context=context,
    )
)
