"""The home page's panels: each app that has something for the dashboard registers a panel in its
``<app>/dashboard.py`` (imported for every installed app by :func:`autodiscover`). A panel is
shown only to users holding its menu; its figures come from the app's own selectors, so the
dashboard never reads another app's tables.

A panel's ``context`` receives the signed-in user and answers the template's context, or ``None``
when the panel has nothing to show that user (an operator without a partner, say)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from partnercenter.accounts.models import User


@dataclass(frozen=True)
class Panel:
    code: str
    menu: str  # a menus code: the panel is shown only to users holding it
    template: str
    order: int  # smaller first
    context: Callable[[User], dict[str, Any] | None]


_PANELS: dict[str, Panel] = {}


def register(panel: Panel) -> Panel:
    if panel.code in _PANELS and _PANELS[panel.code] != panel:
        raise ValueError(f"dashboard panel {panel.code!r} is registered twice")
    _PANELS[panel.code] = panel
    return panel


def all_panels() -> list[Panel]:
    return sorted(_PANELS.values(), key=lambda p: (p.order, p.code))


def autodiscover() -> None:
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("dashboard")


@dataclass(frozen=True)
class Shown:
    panel: Panel
    context: dict[str, Any]


def panels_for(user: User) -> list[Shown]:
    """The panels the user's menus allow, in order, with their contexts; a panel answering
    ``None`` (nothing for this user) is left out."""
    from partnercenter import scoping

    shown = []
    for panel in all_panels():
        if not scoping.has_menu(user, panel.menu):
            continue
        context = panel.context(user)
        if context is not None:
            shown.append(Shown(panel, context))
    return shown
