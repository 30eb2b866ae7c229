"""Reads for users and tokens."""

from __future__ import annotations

from django.db.models import QuerySet

from partnercenter import scoping

from .models import ApiToken, User


def manageable_users(actor: User) -> QuerySet[User]:
    """Users whose menus ``actor`` may edit: an admin's own partner's users."""
    if actor.is_platform_operator:
        return (
            User.objects.filter(partner__isnull=False).select_related("partner").order_by("partner__code", "username")
        )
    if actor.is_partner_admin:
        return scoping.partner_users_for(actor, scoping.Purpose.ACT).order_by("username")
    return User.objects.none()


def tokens_of(user: User) -> QuerySet[ApiToken]:
    """The user's own API tokens, newest first (revoked and expired ones too, for the record)."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


def token_revocable_users(actor: User) -> QuerySet[User]:
    """Users whose API tokens ``actor`` may revoke: a platform operator anyone's, a partner admin
    its own partner's users'."""
    if actor.is_platform_operator and actor.is_active:
        return User.objects.all()
    return manageable_users(actor)
