"""Writes for users, menu permissions and API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from partnercenter.core import audit, clock, menus
from partnercenter.core.errors import DomainError, Forbidden, ValidationFailed
from partnercenter.partners.models import Partner

from .models import ApiToken, User
from .roles import ADMIN_ONLY, PRESETS, Role

TOKEN_PREFIX = "pc_"


def create_user(
    *,
    username: str,
    password: str,
    partner_code: str | None = None,
    role: str = "",
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    is_operator: bool = False,
    actor: User | None = None,
    check_password: bool = True,
) -> User:
    errors: dict[str, str] = {}
    if not username or User.objects.filter(username=username).exists():
        errors["username"] = "must be given and unused"
    partner = None
    if is_operator:
        if partner_code or role:
            errors["partner"] = "a platform operator belongs to no partner"
    else:
        partner = Partner.objects.filter(code=partner_code or "").first()
        if partner is None:
            errors["partner"] = f"no partner with code {partner_code!r}"
        if role not in Role.values:
            errors["role"] = f"must be one of {', '.join(Role.values)}"
    if check_password:
        try:
            validate_password(password)
        except ValidationError as e:
            errors["password"] = " ".join(e.messages)
    if errors:
        raise ValidationFailed("The user is not valid.", details=errors)
    with transaction.atomic():
        user = User(
            username=username,
            email=email,
            first_name=first_name,
            last_name=last_name,
            partner=partner,
            role=role if not is_operator else "",
            is_staff=is_operator,
            is_superuser=is_operator,
            menus=sorted(PRESETS[role] - ADMIN_ONLY) if role and role != Role.ADMIN else [],
        )
        user.set_password(password)
        user.save()
        audit.record(actor, "user.create", partner=partner, target=username, role=role or "platform_operator")
    return user


def set_menus(*, actor: User, user: User, menu_codes: list[str]) -> User:
    """A partner admin grants or removes menus of one of its users (seed 002)."""
    if not (actor.is_platform_operator or (actor.is_partner_admin and actor.partner_id == user.partner_id)):
        raise Forbidden("Only the partner's admin may change menu permissions.")
    if user.partner_id is None or user.role == Role.ADMIN:
        raise ValidationFailed("An admin has every menu; a platform operator has no partner menus.")
    unknown = sorted(set(menu_codes) - set(menus.CODES))
    if unknown:
        raise ValidationFailed(f"Unknown menu(s): {', '.join(unknown)}.")
    not_allowed = sorted(set(menu_codes) & ADMIN_ONLY)
    if not_allowed:
        raise ValidationFailed(f"Only an admin may hold: {', '.join(not_allowed)}.")
    before = sorted(user.menus)
    with transaction.atomic():
        user.menus = sorted(set(menu_codes))
        user.save(update_fields=["menus"])
        audit.record(actor, "user.menus", partner=user.partner, target=user.username, before=before, after=user.menus)
    return user


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


token_digest = _digest


class AuthFailed(DomainError):
    code = "invalid_credentials"
    status = 401


class LockedOut(DomainError):
    code = "too_many_attempts"
    status = 429


def issue_token(*, request: HttpRequest, username: str, password: str) -> tuple[str, ApiToken]:
    """Exchange a username and password for a bearer token. Throttled like console sign-in."""
    user = authenticate(request=request, username=username, password=password)
    if getattr(request, "axes_locked_out", False):
        raise LockedOut("Too many failed sign-ins; try again later.")
    if user is None or not user.is_active:
        raise AuthFailed("Wrong username or password.")
    assert isinstance(user, User)
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = clock.now()
    token = ApiToken.objects.create(
        user=user,
        digest=_digest(raw),
        prefix=raw[:10],
        created_at=now,
        expires_at=now + dt.timedelta(hours=settings.API_TOKEN_TTL_HOURS),
    )
    return raw, token


def user_for_token(raw: str) -> User | None:
    if not raw.startswith(TOKEN_PREFIX):
        return None
    now = clock.now()
    token = (
        ApiToken.objects.select_related("user", "user__partner")
        .filter(digest=_digest(raw), revoked_at__isnull=True, expires_at__gt=now)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    # Touch at most once a minute so reads do not turn into writes.
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def revoke_token(*, user: User, token_id: int, actor: User | None = None) -> bool:
    """Revoke one of ``user``'s tokens (the caller's own, from ``DELETE /auth/tokens/{id}``)."""
    with transaction.atomic():
        token = ApiToken.objects.filter(user=user, pk=token_id, revoked_at__isnull=True).first()
        if token is None:
            return False
        _revoke(
            ApiToken.objects.filter(pk=token.pk),
            actor=actor or user,
            user=user,
            reason="revoked",
            prefixes=[token.prefix],
        )
    return True


def revoke_raw_token(*, user: User, raw: str) -> bool:
    """Revoke the token whose raw value the caller presented (``DELETE /auth/tokens/current``)."""
    with transaction.atomic():
        qs = ApiToken.objects.filter(user=user, digest=_digest(raw), revoked_at__isnull=True)
        prefixes = list(qs.values_list("prefix", flat=True))
        if not prefixes:
            return False
        _revoke(qs, actor=user, user=user, reason="revoked", prefixes=prefixes)
    return True


def revoke_tokens(*, user: User, actor: User | None, reason: str) -> int:
    """Revoke every live token of ``user``: on a password change or reset, or by an operator.

    Who may do it for someone else is decided by the caller (``selectors.token_revocable_users``).
    """
    with transaction.atomic():
        qs = ApiToken.objects.filter(user=user, revoked_at__isnull=True, expires_at__gt=clock.now())
        prefixes = list(qs.values_list("prefix", flat=True))
        if prefixes or reason != "password_changed":
            _revoke(qs, actor=actor, user=user, reason=reason, prefixes=prefixes)
    return len(prefixes)


def _revoke(qs: QuerySet[ApiToken], *, actor: User | None, user: User, reason: str, prefixes: list[str]) -> None:
    qs.update(revoked_at=clock.now())
    # The prefixes are not secret (only the digest is kept), and let the owner tell which it was.
    audit.record(actor, "token.revoke", partner=user.partner, target=user.username, reason=reason, tokens=prefixes)
