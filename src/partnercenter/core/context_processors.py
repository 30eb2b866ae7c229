"""Console context: the navigation the signed-in user may see."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from partnercenter.core import clock, menus


def console(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_groups": []}
    allowed = user.menu_codes()
    groups: dict[str, list[menus.Menu]] = {}
    for menu in menus.CATALOGUE:
        if menu.code in allowed:
            groups.setdefault(str(menu.group), []).append(menu)
    return {
        "nav_groups": list(groups.items()),
        "allowed_menus": allowed,
        "billing_time_zone": clock.billing_tz(),
    }
