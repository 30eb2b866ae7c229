"""View decorators of the console: every menu page is gated by its menu (seed 002)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from partnercenter import scoping
from partnercenter.accounts.models import User
from partnercenter.core.errors import Forbidden

ViewFunc = TypeVar("ViewFunc", bound=Callable[..., HttpResponse])


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
