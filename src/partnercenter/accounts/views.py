"""Console pages of accounts: sign-in, sign-out, password change, users and their menus."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _

from partnercenter.core import menus
from partnercenter.core.decorators import current_user, menu_required
from partnercenter.core.errors import DomainError

from . import selectors, services
from .forms import MenuForm, SignInForm
from .models import User


def locked_out(request: HttpRequest, credentials: dict | None = None, *args: object, **kwargs: object) -> HttpResponse:
    """django-axes calls this when a username + address pair has failed too often (429)."""
    return render(request, "accounts/locked_out.html", {}, status=429)


class SignInView(auth_views.LoginView):
    # LoginView hands the request to authenticate(), so django-axes sees the address.
    template_name = "accounts/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True


class SignOutView(auth_views.LogoutView):
    pass


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:password_change_done")


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "accounts/password_change_done.html"


def _menu_labels(user: User) -> list[Any]:
    codes = user.menu_codes()
    return [m.label for m in menus.CATALOGUE if m.code in codes]


@menu_required(menus.USER_MANAGEMENT)
def users(request: HttpRequest) -> HttpResponse:
    actor = current_user(request)
    rows = [{"user": u, "menus": _menu_labels(u)} for u in selectors.manageable_users(actor).select_related("partner")]
    return render(request, "accounts/users.html", {"rows": rows, "show_partner": actor.partner_id is None})


@menu_required(menus.USER_MANAGEMENT)
def user_menus(request: HttpRequest, username: str) -> HttpResponse:
    actor = current_user(request)
    target = get_object_or_404(selectors.manageable_users(actor), username=username)
    editable = target.role != "admin"
    form = MenuForm(request.POST or None, initial={"menus": list(target.menu_codes())})
    if request.method == "POST" and editable and form.is_valid():
        try:
            with transaction.atomic():
                services.set_menus(actor=actor, user=target, menu_codes=form.cleaned_data["menus"])
        except DomainError as e:
            messages.error(request, e.message)
        else:
            messages.success(request, _("Menu permissions of %(user)s saved.") % {"user": target.username})
            return redirect("accounts:users")
    return render(request, "accounts/user_menus.html", {"target": target, "form": form, "editable": editable})
