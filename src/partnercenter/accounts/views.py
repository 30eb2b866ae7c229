"""Console pages of accounts: sign-in, sign-out, password change, users and their menus."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from partnercenter.core import clock, menus
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
    """The user's own account page: password, and the API tokens they hold (a new password
    revokes them all, ``User.save``)."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:password_change_done")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        now = clock.now()
        context["tokens"] = [
            {"token": t, "active": t.revoked_at is None and t.expires_at > now}
            for t in selectors.tokens_of(current_user(self.request))[:50]
        ]
        return context


@login_required
@require_POST
def revoke_own_token(request: HttpRequest, token_id: int) -> HttpResponse:
    if services.revoke_token(user=current_user(request), token_id=token_id):
        messages.success(request, _("The API token was revoked."))
    return redirect("accounts:password_change")


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
@require_POST
def revoke_user_tokens(request: HttpRequest, username: str) -> HttpResponse:
    actor = current_user(request)
    target = get_object_or_404(selectors.token_revocable_users(actor), username=username)
    count = services.revoke_tokens(user=target, actor=actor, reason="revoked_by_admin")
    messages.success(
        request, _("%(count)d API token(s) of %(user)s revoked.") % {"count": count, "user": target.username}
    )
    return redirect("accounts:users")


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
