"""View decorators of the console: every menu page is gated by its menu (seed 002)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from ninja import Router
from ninja.decorators import decorate_view

from partnercenter import scoping
from partnercenter.accounts.models import User
from partnercenter.core import menus
from partnercenter.core.errors import Forbidden

ViewFunc = TypeVar("ViewFunc", bound=Callable[..., HttpResponse])
ApiFunc = TypeVar("ApiFunc", bound=Callable[..., Any])


def current_user(request: HttpRequest) -> User:
    """The signed-in user of a console request (views are behind ``login_required``)."""
    return cast(User, request.user)


def forbidden(request: HttpRequest, message: str | None = None) -> HttpResponse:
    return render(request, "403.html", {"message": message}, status=403)


def menu_required(code: str) -> Callable[[ViewFunc], ViewFunc]:
    """Sign-in required; a user without the menu ``code`` gets the 403 page, whatever the URL."""

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            user = current_user(request)
            try:
                scoping.require_menu(user, code)
            except Forbidden:
                return forbidden(request)
            request.active_menu = code  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        return cast(ViewFunc, wrapper)

    return decorator


# --- the API's menu gate ---------------------------------------------------------------------
#
# Every API route declares what gates it, next to the route (``@api_menu``) or for a whole router
# (``router_menu``): a menu of the catalogue, or one of ``menus.API_SIGNED_IN``,
# ``menus.API_PLATFORM_OPERATOR``, ``menus.API_EXPORT_KIND``. The declaration is published in the
# OpenAPI schema as ``x-menu``; the API's authentication (``partnercenter/api.py``) enforces it
# through ``scoping.require_api_access`` once it knows the caller, before the request is parsed,
# so a user without the menu gets 403 ``menu_forbidden`` whatever they send. A route that declares
# nothing answers 403 to everyone.

MENU_ATTRIBUTE = "x-menu"


class _MenuGate:
    def __init__(self, menu: str) -> None:
        if menu not in menus.API_DECLARATIONS:
            raise ValueError(f"Unknown menu declaration {menu!r}.")
        self.menu = menu

    def __call__(self, run: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        # ``run`` is the operation's bound method, or a gate already put around it.
        operation = getattr(run, "operation", None) or run.__self__  # type: ignore[attr-defined]
        extra = dict(operation.openapi_extra or {})
        # The route's own declaration is applied before its router's, so the first one wins.
        extra.setdefault(MENU_ATTRIBUTE, self.menu)
        operation.openapi_extra = extra
        menu = extra[MENU_ATTRIBUTE]

        @wraps(run)
        def gated(request: HttpRequest, **kw: Any) -> HttpResponse:
            request.api_menu = menu  # type: ignore[attr-defined]
            return run(request, **kw)

        gated.operation = operation  # type: ignore[attr-defined]
        return gated


def api_menu(menu: str) -> Callable[[ApiFunc], ApiFunc]:
    """Declare what gates one API route (overrides its router's declaration)."""
    return decorate_view(_MenuGate(menu))


def router_menu(router: Router, menu: str) -> None:
    """Declare what gates every route of ``router`` that declares nothing itself."""
    router.add_decorator(_MenuGate(menu), mode="view")


def declared_menu(request: HttpRequest) -> str | None:
    return getattr(request, "api_menu", None)
